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
 * A confirmed key is never claimed or confirmed again.
 */
import type { Queryable } from "./db.ts";
import { distinctSorted } from "./sql.ts";

export type CursorState = "pending" | "confirmed";

export interface PendingCursor {
  key: string;
  batchId: string | null;
  /** How many times the key was claimed (1 for a first claim). */
  attempts: number;
  claimedAt: Date;
}

/**
 * Marks keys pending under batchId. New keys are inserted; keys still pending from an earlier
 * batch are re-claimed (batch id replaced, attempts + 1); confirmed keys are left alone.
 * Returns the keys now pending under batchId (sorted): the ones this batch must process.
 */
export async function claimPending(tx: Queryable, source: string, keys: readonly string[], batchId: string): Promise<string[]> {
  if (keys.length === 0) return [];
  const res = await tx.query<{ key: string }>(
    `INSERT INTO strata_source_cursor (source, key, state, batch_id, attempts)
     SELECT $1::text, k, 'pending', $3::text, 1 FROM unnest($2::text[]) AS k ORDER BY k
     ON CONFLICT (source, key) DO UPDATE
       SET batch_id = EXCLUDED.batch_id, attempts = strata_source_cursor.attempts + 1, claimed_at = now()
       WHERE strata_source_cursor.state = 'pending'
     RETURNING key`,
    [source, distinctSorted(keys), batchId],
  );
  return res.rows.map((r) => r.key).sort();
}

/**
 * Marks keys confirmed inside the transaction that committed their work. A key never claimed is
 * recorded confirmed directly. Returns how many keys became confirmed by this call.
 */
export async function confirm(tx: Queryable, source: string, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const res = await tx.query(
    `INSERT INTO strata_source_cursor (source, key, state, batch_id, attempts, confirmed_at)
     SELECT $1::text, k, 'confirmed', NULL, 0, now() FROM unnest($2::text[]) AS k ORDER BY k
     ON CONFLICT (source, key) DO UPDATE SET state = 'confirmed', confirmed_at = now()
       WHERE strata_source_cursor.state = 'pending'`,
    [source, distinctSorted(keys)],
  );
  return res.rowCount;
}

/** Keys of a source still pending (claimed, work not committed), oldest claim first. */
export async function listPending(db: Queryable, source: string, opts: { limit?: number } = {}): Promise<PendingCursor[]> {
  const res = await db.query<{ key: string; batch_id: string | null; attempts: number; claimed_at: Date }>(
    `SELECT key, batch_id, attempts, claimed_at FROM strata_source_cursor
     WHERE source = $1 AND state = 'pending' ORDER BY claimed_at, key LIMIT $2`,
    [source, opts.limit ?? 10_000],
  );
  return res.rows.map((r) => ({
    key: r.key,
    batchId: r.batch_id,
    attempts: Number(r.attempts),
    claimedAt: r.claimed_at instanceof Date ? r.claimed_at : new Date(r.claimed_at),
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
