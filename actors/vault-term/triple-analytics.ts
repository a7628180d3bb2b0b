/**
 * Triple analytics (decision 6): triple_vault, triple_term, predicate_object, subject_predicate.
 *
 * Input: the terms queued in `term_update_queue` (at most one pending row per term, so updates
 * to one term coalesce). One processing step, in ONE transaction:
 *   1. read up to `limit` queued (term, version) rows, without locks;
 *   2. find the triples whose pro or counter term is among them, lock those triples;
 *   3. read the pro and counter vaults and the old triple_term rows;
 *   4. compute (pure) triple_vault per curve where the pro OR the counter vault exists (the missing
 *      side counts 0; decision 4) and triple_term = Σ of the triple's triple_vault rows;
 *   5. apply the difference new − old triple_term to predicate_object and subject_predicate as
 *      deltas (a triple seen for the first time adds 1 to triple_count), summed per key, in key
 *      order, one statement per table. triple_term records the ids the triple was counted under:
 *      when a later TripleCreated gave the term other ids, the old pairs lose the old row (and are
 *      recomputed from triple_term, deleted when left without triples) and the new pairs gain the
 *      new row as a new triple;
 *   6. delete the queue rows whose version did not change meanwhile (settleQueue).
 * Recomputation is idempotent (deltas against the stored triple_term, under a per-triple lock),
 * so two workers processing the same term only repeat work.
 * updated_at is the latest vault updated_at (block time), so replay reproduces it exactly.
 *
 * Sums saturate at 10^78 − 1 (`storedSum`, the rule of every stored sum of this kind; docs
 * "Bounds (stop 11)"). triple_vault and triple_term are recomputed from the vaults, so that is a
 * cap of the exact sum. predicate_object / subject_predicate are kept by deltas, which cannot
 * come back from a saturated value: a pair whose delta-updated total reaches 10^78 − 1 (or whose
 * delta was itself out of range) is recomputed from its triples' triple_term rows in the same
 * transaction (rare: only pairs at the limit), so the stored total is always
 * min(Σ triple_term.total_market_cap, 10^78 − 1) whatever the order of updates.
 */
import type { Db, Queryable } from "../../db/db.ts";
import { lockIds, LOCK_NAMESPACE } from "./term-locks.ts";
import { NUMERIC_78_MAX } from "./market-cap.ts";
import { storedSum } from "./reducer.ts";

export interface VaultMetrics {
  termId: string;
  curveId: string;
  totalShares: bigint;
  totalAssets: bigint;
  positionCount: bigint;
  marketCap: bigint;
  updatedAt: number | null;
}

export interface TripleRef {
  termId: string;
  counterTermId: string;
  subjectId: string;
  predicateId: string;
  objectId: string;
  updatedAt: number | null;
}

/** A triple's row per curve: the metrics of its pro and counter vault summed (keyed by the triple's term). */
export interface TripleVaultRow extends VaultMetrics {
  counterTermId: string;
}

export interface TripleTermRow {
  termId: string;
  counterTermId: string;
  /**
   * The ids the triple is counted under in predicate_object / subject_predicate (null in a row
   * written before migration 0103 that had no triple row to copy them from).
   */
  subjectId: string | null;
  predicateId: string | null;
  objectId: string | null;
  totalAssets: bigint;
  totalMarketCap: bigint;
  totalPositionCount: bigint;
  updatedAt: number | null;
}

export interface PairDelta {
  a: string;
  b: string;
  tripleCount: bigint;
  positionCount: bigint;
  marketCap: bigint;
  updatedAt: number | null;
  /** A triple left the pair: its row is recomputed from triple_term after the deltas (and deleted when empty). */
  lost: boolean;
}

const maxTs = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
const cap = storedSum;

/** triple_vault rows of one triple: per curve where the pro or the counter vault exists. */
export function tripleVaultRows(triple: TripleRef, vaultsByTerm: ReadonlyMap<string, ReadonlyMap<string, VaultMetrics>>): TripleVaultRow[] {
  const pro = vaultsByTerm.get(triple.termId) ?? new Map<string, VaultMetrics>();
  const counter = vaultsByTerm.get(triple.counterTermId) ?? new Map<string, VaultMetrics>();
  const curves = [...new Set([...pro.keys(), ...counter.keys()])].sort();
  return curves.map((curveId) => {
    const p = pro.get(curveId);
    const c = counter.get(curveId);
    return {
      termId: triple.termId,
      counterTermId: triple.counterTermId,
      curveId,
      totalShares: cap((p?.totalShares ?? 0n) + (c?.totalShares ?? 0n)),
      totalAssets: cap((p?.totalAssets ?? 0n) + (c?.totalAssets ?? 0n)),
      positionCount: (p?.positionCount ?? 0n) + (c?.positionCount ?? 0n),
      marketCap: cap((p?.marketCap ?? 0n) + (c?.marketCap ?? 0n)),
      updatedAt: maxTs(p?.updatedAt ?? null, c?.updatedAt ?? null),
    };
  });
}

export function tripleTermRow(triple: TripleRef, rows: readonly TripleVaultRow[]): TripleTermRow {
  let totalAssets = 0n;
  let totalMarketCap = 0n;
  let totalPositionCount = 0n;
  let updatedAt = triple.updatedAt;
  for (const r of rows) {
    totalAssets += r.totalAssets;
    totalMarketCap += r.marketCap;
    totalPositionCount += r.positionCount;
    updatedAt = maxTs(updatedAt, r.updatedAt);
  }
  return {
    termId: triple.termId,
    counterTermId: triple.counterTermId,
    subjectId: triple.subjectId,
    predicateId: triple.predicateId,
    objectId: triple.objectId,
    totalAssets: cap(totalAssets),
    totalMarketCap: cap(totalMarketCap),
    totalPositionCount,
    updatedAt,
  };
}

function pairDelta(deltas: Map<string, PairDelta>, a: string, b: string): PairDelta {
  const key = `${a}|${b}`;
  let d = deltas.get(key);
  if (!d) deltas.set(key, (d = { a, b, tripleCount: 0n, positionCount: 0n, marketCap: 0n, updatedAt: null, lost: false }));
  return d;
}

/** Add one triple's change (old → new triple_term) to the pair deltas keyed `a|b`. */
export function addPairDelta(deltas: Map<string, PairDelta>, a: string, b: string, oldRow: TripleTermRow | undefined, next: TripleTermRow): void {
  const d = pairDelta(deltas, a, b);
  if (!oldRow) d.tripleCount += 1n;
  d.positionCount += next.totalPositionCount - (oldRow?.totalPositionCount ?? 0n);
  d.marketCap += next.totalMarketCap - (oldRow?.totalMarketCap ?? 0n);
  d.updatedAt = maxTs(d.updatedAt, next.updatedAt);
}

/**
 * One triple's change for one pair table: `was` is the pair the old row was counted under (null:
 * not recorded, so the current one), `now` the pair of the triple row. When a later TripleCreated
 * gave the term other ids, the old pair loses the old contribution (and is recomputed, `lost`)
 * and the new pair gains the whole new one, as a triple seen for the first time.
 */
export function addTriplePairDelta(
  deltas: Map<string, PairDelta>,
  was: readonly [string | null, string | null],
  now: readonly [string, string],
  oldRow: TripleTermRow | undefined,
  next: TripleTermRow,
): void {
  const [wa, wb] = was;
  if (!oldRow || wa === null || wb === null || (wa === now[0] && wb === now[1])) {
    addPairDelta(deltas, now[0], now[1], oldRow, next);
    return;
  }
  const d = pairDelta(deltas, wa, wb);
  d.tripleCount -= 1n;
  d.positionCount -= oldRow.totalPositionCount;
  d.marketCap -= oldRow.totalMarketCap;
  d.lost = true;
  addPairDelta(deltas, now[0], now[1], undefined, next);
}

type Row = Record<string, string | null>;
const tsParam = (v: number | null) => (v === null ? null : String(v));
const num = (v: string | null) => (v === null ? null : Number(v));

export interface AnalyticsStep {
  /** Queued terms claimed in this step. */
  claimed: number;
  /** Triples recomputed. */
  triples: number;
  /** Seconds each claimed term waited in the queue (analytics lag). */
  lagSeconds: number[];
}

/** Process up to `limit` queued terms in one transaction. */
export async function processTripleAnalytics(db: Db, opts: { limit?: number; now?: () => number } = {}): Promise<AnalyticsStep> {
  const limit = opts.limit ?? 1000;
  const now = opts.now ?? Date.now;
  return db.transaction(async (tx) => {
    const queued = await tx.query<Row>(
      "SELECT term_id, version::text AS version FROM term_update_queue WHERE processed_at IS NULL ORDER BY id LIMIT $1",
      [limit],
    );
    if (queued.rows.length === 0) return { claimed: 0, triples: 0, lagSeconds: [] };
    const triples = await recomputeTriples(tx, queued.rows.map((r) => r.term_id!));
    const lagSeconds = await settleQueue(tx, queued.rows.map((r) => ({ termId: r.term_id!, version: r.version! })), now());
    return { claimed: queued.rows.length, triples, lagSeconds };
  });
}

/**
 * Delete the queue rows that were read (term, version) before a recomputation, only where the
 * version is unchanged: a term re-queued meanwhile keeps its row and is processed again. The
 * queue is read without locks, so ingest never waits for a long analytics transaction.
 * Returns how long each deleted row waited (seconds).
 */
export async function settleQueue(tx: Queryable, read: readonly { termId: string; version: string }[], nowMs: number): Promise<number[]> {
  if (read.length === 0) return [];
  const sorted = [...read].sort((a, b) => (a.termId < b.termId ? -1 : a.termId > b.termId ? 1 : 0));
  const res = await tx.query<Row>(
    `DELETE FROM term_update_queue q USING unnest($1::text[], $2::bigint[]) AS s(t, v)
      WHERE q.processed_at IS NULL AND q.term_id = s.t AND q.version = s.v
     RETURNING (extract(epoch from q.created_at) * 1000)::bigint::text AS queued_ms`,
    [sorted.map((r) => r.termId), sorted.map((r) => r.version)],
  );
  return res.rows.map((r) => Math.max(0, (nowMs - Number(r.queued_ms)) / 1000));
}

/** Recompute the analytics of every triple whose pro or counter term is in `termIds`. */
export async function recomputeTriples(tx: Queryable, termIds: readonly string[]): Promise<number> {
  const found = await tx.query<Row>(
    `SELECT term_id, counter_term_id, subject_id, predicate_id, object_id, extract(epoch from updated_at)::bigint::text AS updated_at
       FROM triple WHERE term_id = ANY($1::text[])
     UNION
     SELECT term_id, counter_term_id, subject_id, predicate_id, object_id, extract(epoch from updated_at)::bigint::text AS updated_at
       FROM triple WHERE counter_term_id = ANY($1::text[])
     ORDER BY term_id`,
    [[...termIds]],
  );
  if (found.rows.length === 0) return 0;
  const triples: TripleRef[] = found.rows.map((r) => ({
    termId: r.term_id!,
    counterTermId: r.counter_term_id!,
    subjectId: r.subject_id!,
    predicateId: r.predicate_id!,
    objectId: r.object_id!,
    updatedAt: num(r.updated_at),
  }));
  await lockIds(tx, LOCK_NAMESPACE.triple, triples.map((t) => t.termId));
  const vaultTerms = triples.flatMap((t) => [t.termId, t.counterTermId]);
  const vaults = await tx.query<Row>(
      `SELECT term_id, curve_id, total_shares::text AS s, total_assets::text AS a, position_count::text AS p, COALESCE(market_cap, 0)::text AS m,
              extract(epoch from updated_at)::bigint::text AS u
         FROM vault WHERE term_id = ANY($1::text[])`,
      [vaultTerms],
    );
  const olds = await tx.query<Row>(
      `SELECT term_id, counter_term_id, subject_id, predicate_id, object_id, total_assets::text AS a, total_market_cap::text AS m,
              total_position_count::text AS p, extract(epoch from updated_at)::bigint::text AS u
         FROM triple_term WHERE term_id = ANY($1::text[])`,
      [triples.map((t) => t.termId)],
    );
  const vaultsByTerm = new Map<string, Map<string, VaultMetrics>>();
  for (const r of vaults.rows) {
    let m = vaultsByTerm.get(r.term_id!);
    if (!m) vaultsByTerm.set(r.term_id!, (m = new Map()));
    m.set(r.curve_id!, { termId: r.term_id!, curveId: r.curve_id!, totalShares: BigInt(r.s!), totalAssets: BigInt(r.a!), positionCount: BigInt(r.p!), marketCap: BigInt(r.m!), updatedAt: num(r.u) });
  }
  const oldByKey = new Map<string, TripleTermRow>();
  for (const r of olds.rows) {
    oldByKey.set(`${r.term_id}|${r.counter_term_id}`, {
      termId: r.term_id!,
      counterTermId: r.counter_term_id!,
      subjectId: r.subject_id ?? null,
      predicateId: r.predicate_id ?? null,
      objectId: r.object_id ?? null,
      totalAssets: BigInt(r.a!),
      totalMarketCap: BigInt(r.m!),
      totalPositionCount: BigInt(r.p!),
      updatedAt: num(r.u),
    });
  }
  const tv: TripleVaultRow[] = [];
  const tt: TripleTermRow[] = [];
  const po = new Map<string, PairDelta>();
  const sp = new Map<string, PairDelta>();
  for (const t of triples) {
    const rows = tripleVaultRows(t, vaultsByTerm);
    const next = tripleTermRow(t, rows);
    const old = oldByKey.get(`${t.termId}|${t.counterTermId}`);
    tv.push(...rows);
    tt.push(next);
    // Keyed by the ids the old row was counted under, which a later TripleCreated may have changed.
    addTriplePairDelta(po, [old?.predicateId ?? null, old?.objectId ?? null], [t.predicateId, t.objectId], old, next);
    addTriplePairDelta(sp, [old?.subjectId ?? null, old?.predicateId ?? null], [t.subjectId, t.predicateId], old, next);
  }
  if (tv.length > 0) {
    await tx.query(
      `INSERT INTO triple_vault (term_id, counter_term_id, curve_id, total_shares, total_assets, position_count, market_cap, updated_at)
       SELECT t, c, cv, s::numeric, a::numeric, p::bigint, m::numeric, to_timestamp(u::double precision)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS r(t, c, cv, s, a, p, m, u)
        ORDER BY t, c, cv
       ON CONFLICT (term_id, counter_term_id, curve_id) DO UPDATE SET total_shares = EXCLUDED.total_shares, total_assets = EXCLUDED.total_assets,
         position_count = EXCLUDED.position_count, market_cap = EXCLUDED.market_cap, updated_at = EXCLUDED.updated_at
       -- A recomputed triple rewrites only the curves that changed (no dead row per unchanged curve).
       WHERE (triple_vault.total_shares, triple_vault.total_assets, triple_vault.position_count, triple_vault.market_cap, triple_vault.updated_at)
         IS DISTINCT FROM (EXCLUDED.total_shares, EXCLUDED.total_assets, EXCLUDED.position_count, EXCLUDED.market_cap, EXCLUDED.updated_at)`,
      [
        tv.map((r) => r.termId),
        tv.map((r) => r.counterTermId),
        tv.map((r) => r.curveId),
        tv.map((r) => r.totalShares.toString()),
        tv.map((r) => r.totalAssets.toString()),
        tv.map((r) => r.positionCount.toString()),
        tv.map((r) => r.marketCap.toString()),
        tv.map((r) => tsParam(r.updatedAt)),
      ],
    );
  }
  await tx.query(
    `INSERT INTO triple_term (term_id, counter_term_id, subject_id, predicate_id, object_id, total_assets, total_market_cap, total_position_count, updated_at)
     SELECT t, c, s, p, o, a::numeric, m::numeric, n::bigint, to_timestamp(u::double precision)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) AS r(t, c, s, p, o, a, m, n, u)
      ORDER BY t, c
     ON CONFLICT (term_id, counter_term_id) DO UPDATE SET subject_id = EXCLUDED.subject_id, predicate_id = EXCLUDED.predicate_id,
       object_id = EXCLUDED.object_id, total_assets = EXCLUDED.total_assets, total_market_cap = EXCLUDED.total_market_cap,
       total_position_count = EXCLUDED.total_position_count, updated_at = EXCLUDED.updated_at`,
    [
      tt.map((r) => r.termId),
      tt.map((r) => r.counterTermId),
      tt.map((r) => r.subjectId),
      tt.map((r) => r.predicateId),
      tt.map((r) => r.objectId),
      tt.map((r) => r.totalAssets.toString()),
      tt.map((r) => r.totalMarketCap.toString()),
      tt.map((r) => r.totalPositionCount.toString()),
      tt.map((r) => tsParam(r.updatedAt)),
    ],
  );
  await applyPairDeltas(tx, "predicate_object", "predicate_id", "object_id", po);
  await applyPairDeltas(tx, "subject_predicate", "subject_id", "predicate_id", sp);
  return triples.length;
}

const MAX78 = NUMERIC_78_MAX.toString();

async function applyPairDeltas(tx: Queryable, table: string, colA: string, colB: string, deltas: Map<string, PairDelta>): Promise<void> {
  // Every touched pair is written, even with zero deltas: updated_at must follow the latest
  // triple_term time whatever the order of updates (so replay reproduces it).
  const rows = [...deltas.values()].sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0));
  if (rows.length === 0) return;
  // A stored total below 10^78 − 1 is exact, so old + delta is too. The market cap delta is clamped
  // to ±(10^78 − 1) so the row fits the column; a clamped delta (|Σ| beyond the limit) always lands
  // outside [0, 10^78 − 1) below. A total at the limit (saturated, so not exact) or a result
  // outside [0, 10^78 − 1) gets 10^78 − 1 here and is recomputed from triple_term after
  // (as is a negative total, which only a pair row missing its earlier triples could give).
  const res = await tx.query<{ a: string; b: string; recompute: boolean }>(
    `INSERT INTO ${table} AS t (${colA}, ${colB}, triple_count, total_position_count, total_market_cap, updated_at)
     SELECT a, b, n::bigint, p::bigint, GREATEST(LEAST(m::numeric, ${MAX78}), -${MAX78}), to_timestamp(u::double precision)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(a, b, n, p, m, u)
      ORDER BY a, b
     ON CONFLICT (${colA}, ${colB}) DO UPDATE SET triple_count = t.triple_count + EXCLUDED.triple_count,
       total_position_count = t.total_position_count + EXCLUDED.total_position_count,
       total_market_cap = CASE WHEN t.total_market_cap < ${MAX78}
                                    AND t.total_market_cap + EXCLUDED.total_market_cap >= 0 AND t.total_market_cap + EXCLUDED.total_market_cap < ${MAX78}
                               THEN t.total_market_cap + EXCLUDED.total_market_cap ELSE ${MAX78} END,
       updated_at = GREATEST(t.updated_at, EXCLUDED.updated_at)
     RETURNING ${colA} AS a, ${colB} AS b, (total_market_cap = ${MAX78} OR total_market_cap < 0) AS recompute`,
    [
      rows.map((r) => r.a),
      rows.map((r) => r.b),
      rows.map((r) => r.tripleCount.toString()),
      rows.map((r) => r.positionCount.toString()),
      rows.map((r) => r.marketCap.toString()),
      rows.map((r) => tsParam(r.updatedAt)),
    ],
  );
  // Recomputed from triple_term: the pairs at the limit, and the pairs a triple left (their
  // updated_at may have come from it, and a pair without triples has no row, as after replay).
  const recompute = new Map<string, { a: string; b: string }>();
  for (const r of res.rows) if (r.recompute === true) recompute.set(`${r.a}|${r.b}`, r);
  for (const d of rows) if (d.lost) recompute.set(`${d.a}|${d.b}`, d);
  if (recompute.size === 0) return;
  const keys = [...recompute.values()].sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0));
  // The rows are locked by the upsert above; READ COMMITTED gives this statement a snapshot with
  // every committed triple_term (a concurrent transaction's uncommitted change to another triple
  // of the pair is not seen, and that transaction adds its own delta after this one commits).
  // A pair's triples are the triple_term rows recorded under it (this transaction's included):
  // a triple whose ids changed but whose analytics have not run yet is still counted where it
  // was, and leaves with its own delta. (A scan of triple_term: only these rare pairs pay it.)
  const done = await tx.query<{ a: string; b: string; n: string }>(
    `UPDATE ${table} AS t SET triple_count = r.n, total_position_count = r.p, total_market_cap = LEAST(${MAX78}, r.m), updated_at = r.u
       FROM (SELECT k.a, k.b, count(tt.term_id) AS n, COALESCE(sum(tt.total_position_count), 0) AS p,
                    COALESCE(sum(tt.total_market_cap), 0) AS m, max(tt.updated_at) AS u
               FROM unnest($1::text[], $2::text[]) AS k(a, b)
               LEFT JOIN triple_term tt ON tt.${colA} = k.a AND tt.${colB} = k.b
              GROUP BY k.a, k.b) AS r
      WHERE t.${colA} = r.a AND t.${colB} = r.b
     RETURNING t.${colA} AS a, t.${colB} AS b, t.triple_count::text AS n`,
    [keys.map((r) => r.a), keys.map((r) => r.b)],
  );
  const empty = done.rows.filter((r) => r.n === "0");
  if (empty.length === 0) return;
  await tx.query(
    `DELETE FROM ${table} AS t USING unnest($1::text[], $2::text[]) AS k(a, b)
      WHERE t.${colA} = k.a AND t.${colB} = k.b AND t.triple_count = 0`,
    [empty.map((r) => r.a), empty.map((r) => r.b)],
  );
}
