/**
 * Source cursors with pending → confirmed semantics (`strata_source_cursor`, DESIGN.md spine
 * rule 2: a cursor advances only after the work it covers has committed).
 *
 * A sensor that finds new source keys (S3 object keys, Redis stream ids, …):
 *   1. `isKnown` — drops keys already pending or confirmed;
 *   2. `claimPending(tx, source, keys, batchId)` — commits them as `pending` with its batch id;
 *   3. does the work, and in the transaction that commits it (the journal append) calls
 *      `confirm(tx, source, keys)`.
 * A batch that fails leaves its keys pending; after a restart `listPending` returns them and the
 * sensor retries them (claiming them again under a new batch id), never skips them.
 * A confirmed key is claimed again only when its source says it holds something else now: given
 * the versions of the keys (an S3 object's ETag, column `etag`, migration 0003), a confirmed key
 * whose recorded version differs from the one given is claimed afresh (attempts 1). A key
 * recorded without a version (confirmed before 0003, or unreadable) is never claimed again by
 * version: `recordVersions` gives it the one listed.
 */
import type { Queryable } from "./db.ts";
import { distinctSorted } from "./sql.ts";

export type CursorState = "pending" | "confirmed";

export interface PendingCursor {
  key: string;
  batchId: string | null;
  /** How many times the key was claimed (1 for a first claim), less the claims given back by `unclaim` (outages). */
  attempts: number;
  claimedAt: Date;
  /** The version claimed (an S3 ETag), when the sensor gives versions. */
  etag: string | null;
}

/** A key's state and recorded version. */
export interface KnownKey {
  state: CursorState;
  etag: string | null;
}

/** The versions of keys, in the order of `keys` (null where not given). */
function versionsOf(keys: readonly string[], versions: ReadonlyMap<string, string | null | undefined> | undefined): (string | null)[] {
  return keys.map((k) => versions?.get(k) ?? null);
}

/**
 * Marks keys pending under batchId. New keys are inserted; keys still pending from an earlier
 * batch are re-claimed (batch id replaced, attempts + 1); confirmed keys are left alone — unless
 * `versions` gives a key a version other than the (non-null) one recorded: then the key is
 * claimed afresh (pending, attempts 1). The version given is recorded.
 * Returns the keys now pending under batchId (sorted): the ones this batch must process.
 */
export async function claimPending(
  tx: Queryable,
  source: string,
  keys: readonly string[],
  batchId: string,
  versions?: ReadonlyMap<string, string | null | undefined>,
): Promise<string[]> {
  if (keys.length === 0) return [];
  const sorted = distinctSorted(keys);
  const res = await tx.query<{ key: string }>(
    `INSERT INTO strata_source_cursor (source, key, state, batch_id, attempts, etag)
     SELECT $1::text, u.k, 'pending', $3::text, 1, u.e FROM unnest($2::text[], $4::text[]) AS u(k, e) ORDER BY u.k
     ON CONFLICT (source, key) DO UPDATE
       SET batch_id = EXCLUDED.batch_id,
           attempts = CASE WHEN strata_source_cursor.state = 'pending' THEN strata_source_cursor.attempts + 1 ELSE 1 END,
           claimed_at = now(),
           state = 'pending',
           confirmed_at = NULL,
           etag = COALESCE(EXCLUDED.etag, strata_source_cursor.etag)
       WHERE strata_source_cursor.state = 'pending'
          OR (EXCLUDED.etag IS NOT NULL AND strata_source_cursor.etag IS NOT NULL AND strata_source_cursor.etag <> EXCLUDED.etag)
     RETURNING key`,
    [source, sorted, batchId, versionsOf(sorted, versions)],
  );
  return res.rows.map((r) => r.key).sort();
}

/**
 * Marks keys confirmed inside the transaction that committed their work, with the version that
 * was read (`versions`, when given; else the one claimed stays). A key never claimed is recorded
 * confirmed directly. Returns how many keys became confirmed by this call.
 */
export async function confirm(tx: Queryable, source: string, keys: readonly string[], versions?: ReadonlyMap<string, string | null | undefined>): Promise<number> {
  if (keys.length === 0) return 0;
  const sorted = distinctSorted(keys);
  const res = await tx.query(
    `INSERT INTO strata_source_cursor (source, key, state, batch_id, attempts, confirmed_at, etag)
     SELECT $1::text, u.k, 'confirmed', NULL, 0, now(), u.e FROM unnest($2::text[], $3::text[]) AS u(k, e) ORDER BY u.k
     ON CONFLICT (source, key) DO UPDATE SET state = 'confirmed', confirmed_at = now(), etag = COALESCE(EXCLUDED.etag, strata_source_cursor.etag)
       WHERE strata_source_cursor.state = 'pending'`,
    [source, sorted, versionsOf(sorted, versions)],
  );
  return res.rowCount;
}

/**
 * Records the version of confirmed keys recorded without one (confirmed before versions were
 * kept): from now on a change of version is noticed. Returns how many keys got one.
 */
export async function recordVersions(db: Queryable, source: string, versions: ReadonlyMap<string, string>): Promise<number> {
  if (versions.size === 0) return 0;
  const sorted = distinctSorted([...versions.keys()]);
  const res = await db.query(
    `UPDATE strata_source_cursor c SET etag = u.e
     FROM unnest($2::text[], $3::text[]) AS u(k, e)
     WHERE c.source = $1 AND c.key = u.k AND c.state = 'confirmed' AND c.etag IS NULL`,
    [source, sorted, versionsOf(sorted, versions)],
  );
  return res.rowCount;
}

/**
 * Gives back the attempt of a claim that failed for no fault of its keys (a dependency outage):
 * the keys still pending under batchId get attempts − 1 (never below 0). Returns how many.
 */
export async function unclaim(db: Queryable, source: string, batchId: string): Promise<number> {
  const res = await db.query(
    `UPDATE strata_source_cursor SET attempts = attempts - 1
     WHERE source = $1 AND batch_id = $2 AND state = 'pending' AND attempts > 0`,
    [source, batchId],
  );
  return res.rowCount;
}

/** Keys of a source still pending (claimed, work not committed), oldest claim first. */
export async function listPending(db: Queryable, source: string, opts: { limit?: number } = {}): Promise<PendingCursor[]> {
  const res = await db.query<{ key: string; batch_id: string | null; attempts: number; claimed_at: Date; etag: string | null }>(
    `SELECT key, batch_id, attempts, claimed_at, etag FROM strata_source_cursor
     WHERE source = $1 AND state = 'pending' ORDER BY claimed_at, key LIMIT $2`,
    [source, opts.limit ?? 10_000],
  );
  return res.rows.map((r) => ({
    key: r.key,
    batchId: r.batch_id,
    attempts: Number(r.attempts),
    claimedAt: r.claimed_at instanceof Date ? r.claimed_at : new Date(r.claimed_at),
    etag: r.etag ?? null,
  }));
}

/** Which of these keys the source already knows, and in which state; unknown keys are absent. */
export async function isKnown(db: Queryable, source: string, keys: readonly string[]): Promise<Map<string, CursorState>> {
  if (keys.length === 0) return new Map();
  const res = await db.query<{ key: string; state: CursorState }>(
    "SELECT key, state FROM strata_source_cursor WHERE source = $1 AND key = ANY($2::text[])",
    [source, distinctSorted(keys)],
  );
  return new Map(res.rows.map((r) => [r.key, r.state]));
}

/** Which of these keys the source already knows: their state and recorded version; unknown keys are absent. */
export async function knownVersions(db: Queryable, source: string, keys: readonly string[]): Promise<Map<string, KnownKey>> {
  if (keys.length === 0) return new Map();
  const res = await db.query<{ key: string; state: CursorState; etag: string | null }>(
    "SELECT key, state, etag FROM strata_source_cursor WHERE source = $1 AND key = ANY($2::text[])",
    [source, distinctSorted(keys)],
  );
  return new Map(res.rows.map((r) => [r.key, { state: r.state, etag: r.etag ?? null }]));
}
