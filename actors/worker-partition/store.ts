/**
 * Postgres/PGlite persistence of partition actors (tables in db/migrations/0200_worker_partition.sql, 0202, 0204).
 * load: the partition row, fees, connections and waiting AI correlation entries.
 * save: the merged write sets of each partition, one statement per table, plus the recomputed
 * performance rankings (exact, over every attributed job in worker_processed_job_chunks), the summary
 * when a write set carries one, and the actor offset (strata_actor_offset) — all in the
 * runtime's transaction.
 */
import type { Queryable } from "../../db/db.ts";
import { saveOffsets } from "../../db/actor-offset-store.ts";
import { jsonText } from "../../db/sql.ts";
import { newCorrelationState, type ReceivedEntry } from "./correlation.ts";
import type { AiJobEvent } from "./events.ts";
import { emptyChanges, type JobRecord, type PartitionState } from "./partition-state.ts";
import { requirePartition } from "./partitions.ts";
import { PerformanceInputs, type StoredPerfGroup } from "./performance.ts";
import { WORKER_PARTITION_KIND } from "./journal.ts";
import type { PartitionSummary } from "./summary.ts";
import type { ConnectionRow, CorrelationRow, FeeRow, WriteSet } from "./write-set.ts";
import { recordedPlan, type ParamsPlan, type ParamsRow, type PartitionParams } from "./partition-params.ts";

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));

export interface LoadOptions {
  commissionBps: number;
  correlationTtlMs: number;
}

export async function loadPartitionStates(db: Queryable, ids: readonly string[], opts: LoadOptions): Promise<Map<string, PartitionState>> {
  const out = new Map<string, PartitionState>();
  if (ids.length === 0) return out;
  const rows = await db.query<{
    partition_id: string;
    journal_offset: string;
    events_applied: string;
    watermark: Date | string | null;
    unattributed_jobs: string;
    unattributed_fees: string;
    expired_received: string;
  }>("SELECT partition_id, journal_offset, events_applied, watermark, unattributed_jobs, unattributed_fees::text, expired_received FROM worker_partition_state WHERE partition_id = ANY($1::text[])", [[...ids]]);
  for (const r of rows.rows) {
    const p = requirePartition(r.partition_id);
    const correlation = newCorrelationState(opts.correlationTtlMs);
    correlation.watermarkMs = r.watermark === null ? null : ms(r.watermark);
    out.set(r.partition_id, {
      partitionId: p.id,
      nodeType: p.nodeType,
      commissionBps: opts.commissionBps,
      recordedParams: null,
      offset: Number(r.journal_offset),
      eventsApplied: Number(r.events_applied),
      correlation,
      fees: new Map(),
      connections: new Map(),
      unattributed: { jobs: Number(r.unattributed_jobs), fees: BigInt(r.unattributed_fees) },
      expiredReceived: Number(r.expired_received),
      changes: emptyChanges(),
    });
  }
  const found = [...out.keys()];
  if (found.length === 0) return out;
  // The parameters the history holds for the next event (its latest row at or before the offset).
  const params = await db.query<{ partition_id: string; commission_bps: number; correlation_ttl_ms: string }>(
    `SELECT DISTINCT ON (p.partition_id) p.partition_id, p.commission_bps, p.correlation_ttl_ms::text AS correlation_ttl_ms
       FROM worker_partition_params p JOIN worker_partition_state s ON s.partition_id = p.partition_id
      WHERE p.partition_id = ANY($1::text[]) AND p.from_offset <= s.journal_offset
      ORDER BY p.partition_id, p.from_offset DESC`,
    [found],
  );
  for (const r of params.rows) {
    out.get(r.partition_id)!.recordedParams = { commissionBps: Number(r.commission_bps), correlationTtlMs: Number(r.correlation_ttl_ms) };
  }
  const fees = await db.query<{ partition_id: string; eth_address: string; total_fees: string; pool_commission: string; worker_earnings: string; job_count: string }>(
    "SELECT partition_id, eth_address, total_fees::text, pool_commission::text, worker_earnings::text, job_count FROM worker_fees WHERE partition_id = ANY($1::text[])",
    [found],
  );
  for (const r of fees.rows) {
    out.get(r.partition_id)!.fees.set(r.eth_address, {
      totalFees: BigInt(r.total_fees),
      poolCommission: BigInt(r.pool_commission),
      workerEarnings: BigInt(r.worker_earnings),
      jobCount: Number(r.job_count),
    });
  }
  const conns = await db.query<{ partition_id: string; eth_address: string; connections: string[]; is_active: boolean; last_seen: Date | string }>(
    "SELECT partition_id, eth_address, connections, is_active, last_seen FROM worker_connections WHERE partition_id = ANY($1::text[])",
    [found],
  );
  for (const r of conns.rows) {
    out.get(r.partition_id)!.connections.set(r.eth_address, { connections: [...r.connections], active: r.is_active, lastSeenMs: ms(r.last_seen) });
  }
  const corr = await db.query<{ partition_id: string; request_id: string; side: string; body: unknown }>(
    "SELECT partition_id, request_id, side, body FROM worker_ai_correlation WHERE partition_id = ANY($1::text[]) ORDER BY partition_id, request_id, side",
    [found],
  );
  for (const r of corr.rows) {
    const c = out.get(r.partition_id)!.correlation;
    if (r.side === "received") c.received.set(r.request_id, r.body as ReceivedEntry);
    else c.waiting.set(r.request_id, r.body as AiJobEvent);
  }
  return out;
}

interface Merged {
  partitionId: string;
  last: WriteSet;
  fees: Map<string, FeeRow>;
  connections: Map<string, ConnectionRow>;
  correlation: Map<string, CorrelationRow>;
  /** The jobs of each write set that has some, keyed by the offset it applied through (oldest first). */
  jobChunks: { throughOffset: number; jobs: readonly JobRecord[] }[];
  /** Parameter history rows by from_offset (a later set's row for the same offset wins). */
  params: Map<number, ParamsRow>;
  /** Some write set asked for the performance recompute (done once, after all jobs are inserted). */
  refreshPerformance: boolean;
  /** The newest summary of the sets, or null when none carries one. */
  summary: PartitionSummary | null;
}

/** Folds write sets (oldest first) into the final rows: later values win; each set's jobs stay a chunk of their own. */
export function mergeWriteSets(partitionId: string, sets: readonly WriteSet[]): Merged | null {
  if (sets.length === 0) return null;
  const m: Merged = { partitionId, last: sets[sets.length - 1], fees: new Map(), connections: new Map(), correlation: new Map(), jobChunks: [], params: new Map(), refreshPerformance: false, summary: null };
  for (const ws of sets) {
    for (const f of ws.fees) m.fees.set(f.ethAddress, f);
    for (const c of ws.connections) m.connections.set(c.ethAddress, c);
    for (const c of ws.correlation) m.correlation.set(c.requestID, c);
    for (const r of ws.params) m.params.set(r.fromOffset, r);
    if (ws.jobs.length > 0) m.jobChunks.push({ throughOffset: ws.partition.offset, jobs: ws.jobs });
    if (ws.refreshPerformance) m.refreshPerformance = true;
    if (ws.summary !== null) m.summary = ws.summary;
  }
  return m;
}

const sortedValues = <V>(map: Map<string, V>): V[] => [...map.keys()].sort().map((k) => map.get(k)!);

export async function saveMerged(tx: Queryable, m: Merged): Promise<void> {
  const pid = m.partitionId;
  const p = m.last.partition;
  await tx.query(
    `INSERT INTO worker_partition_state (partition_id, journal_offset, events_applied, watermark, commission_bps, unattributed_jobs, unattributed_fees, expired_received, updated_at)
     VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7::numeric, $8, now())
     ON CONFLICT (partition_id) DO UPDATE SET journal_offset = EXCLUDED.journal_offset, events_applied = EXCLUDED.events_applied,
       watermark = EXCLUDED.watermark, commission_bps = EXCLUDED.commission_bps, unattributed_jobs = EXCLUDED.unattributed_jobs,
       unattributed_fees = EXCLUDED.unattributed_fees, expired_received = EXCLUDED.expired_received, updated_at = now()`,
    [pid, p.offset, p.eventsApplied, iso(p.watermarkMs), p.commissionBps, p.unattributedJobs, p.unattributedFees, p.expiredReceived],
  );
  const fees = sortedValues(m.fees);
  if (fees.length > 0) {
    const params = [pid, fees.map((f) => f.ethAddress), fees.map((f) => f.totalFees), fees.map((f) => f.poolCommission), fees.map((f) => f.workerEarnings), fees.map((f) => f.jobCount)];
    await tx.query(
      `INSERT INTO worker_fees (partition_id, eth_address, total_fees, pool_commission, worker_earnings, job_count, updated_at)
       SELECT $1::text, a, t::numeric, c::numeric, w::numeric, n, now() FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(a, t, c, w, n)
       ON CONFLICT (partition_id, eth_address) DO UPDATE SET total_fees = EXCLUDED.total_fees, pool_commission = EXCLUDED.pool_commission,
         worker_earnings = EXCLUDED.worker_earnings, job_count = EXCLUDED.job_count, updated_at = now()`,
      params,
    );
    await tx.query(
      `INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei, updated_at)
       SELECT $1::text, a, w::numeric, now() FROM unnest($2::text[], $3::text[]) AS u(a, w)
       ON CONFLICT (partition_id, eth_address) DO UPDATE SET earned_wei = EXCLUDED.earned_wei, updated_at = now()`,
      [pid, fees.map((f) => f.ethAddress), fees.map((f) => f.workerEarnings)],
    );
  }
  const conns = sortedValues(m.connections);
  if (conns.length > 0) {
    await tx.query(
      `INSERT INTO worker_connections (partition_id, eth_address, connections, is_active, last_seen, updated_at)
       SELECT $1::text, a, c::jsonb, act, ls::timestamptz, now() FROM unnest($2::text[], $3::text[], $4::boolean[], $5::text[]) AS u(a, c, act, ls)
       ON CONFLICT (partition_id, eth_address) DO UPDATE SET connections = EXCLUDED.connections, is_active = EXCLUDED.is_active,
         last_seen = EXCLUDED.last_seen, updated_at = now()`,
      [pid, conns.map((c) => c.ethAddress), conns.map((c) => JSON.stringify(c.connections)), conns.map((c) => c.isActive), conns.map((c) => iso(c.lastSeenMs))],
    );
  }
  const corr = sortedValues(m.correlation);
  if (corr.length > 0) {
    await tx.query("DELETE FROM worker_ai_correlation WHERE partition_id = $1 AND request_id = ANY($2::text[])", [pid, corr.map((c) => c.requestID)]);
    const rows: [string, string, string | null, string][] = [];
    for (const c of corr) {
      if (c.received) rows.push([c.requestID, "received", iso(c.received.atMs), jsonText(c.received.body)]);
      if (c.processed) rows.push([c.requestID, "processed", iso(c.processed.atMs), jsonText(c.processed.body)]);
    }
    if (rows.length > 0) {
      await tx.query(
        `INSERT INTO worker_ai_correlation (partition_id, request_id, side, at, body)
         SELECT $1::text, r, s, t::timestamptz, b::jsonb FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(r, s, t, b)`,
        [pid, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
      );
    }
  }
  await insertJobChunks(tx, pid, m.jobChunks);
  if (m.params.size > 0) {
    const rows = [...m.params.values()].sort((a, b) => a.fromOffset - b.fromOffset);
    await tx.query(
      `INSERT INTO worker_partition_params (partition_id, from_offset, commission_bps, correlation_ttl_ms)
       SELECT $1::text, f, c, t FROM unnest($2::bigint[], $3::int[], $4::bigint[]) AS u(f, c, t)
       ON CONFLICT (partition_id, from_offset) DO UPDATE SET commission_bps = EXCLUDED.commission_bps,
         correlation_ttl_ms = EXCLUDED.correlation_ttl_ms, recorded_at = now()`,
      [pid, rows.map((r) => String(r.fromOffset)), rows.map((r) => r.commissionBps), rows.map((r) => String(r.correlationTtlMs))],
    );
  }
  if (m.summary !== null) {
    await tx.query(
      `INSERT INTO worker_summary (partition_id, summary, updated_at) VALUES ($1, $2::jsonb, now())
       ON CONFLICT (partition_id) DO UPDATE SET summary = EXCLUDED.summary, updated_at = now()`,
      [pid, jsonText(m.summary)],
    );
  }
  if (m.refreshPerformance) await refreshPerformance(tx, pid);
  await saveOffsets(tx, WORKER_PARTITION_KIND, [{ entityId: pid, offset: p.offset }]);
}

/**
 * The jobs of one chunk as stored since migration 0204 (worker_processed_job_chunks.jobs with
 * jobs_format = 2; the view worker_processed_jobs decodes it, and format 1 of 0202, to the same
 * rows). One JSON object, element i of each array for job i, as format 1, but with fewer bytes
 * to build, send and store (docs/worker-partition.md, "Stop 11"):
 * - low-cardinality columns are dictionary-encoded: `X` holds the chunk's distinct values (JSON
 *   scalars, null included) in order of first use and `X_i` each job's index in it; `X_i` is left
 *   out when `X` has one value (every job has it);
 * - `request_id` is left out when every job's is null;
 * - `dt` is each job's event time in epoch ms minus `dt0` (the first job's);
 * - `response_time_ms` is left out when every job's equals response_time_raw / `response_time_divisor`
 *   exactly in float8 (transcode: 1; AI: 1,000,000);
 * - `real_time_ratio` is a dictionary whose values are null, the ratio itself (a number), or
 *   `[d]`: the ratio is d / response_time_raw, exactly in float8 (a transcode ratio is the
 *   segment's duration over its response time: one `[2000]` for a chunk of 2 s segments instead of
 *   ~18 characters per job);
 * - event IDs, compute units, fees and raw response times are one value per job as in format 1
 *   (fees stay decimal strings: wei beyond 2^53 stay exact).
 * Every derivation is checked job by job here, with the same float8 arithmetic the view uses; a
 * chunk where it does not hold stores the column plainly.
 */
interface StoredJobs {
  event_id: string[];
  eth_address: (string | null)[];
  eth_address_i?: number[];
  request_id?: (string | null)[];
  model_id: (string | null)[];
  model_id_i?: number[];
  pipeline: (string | null)[];
  pipeline_i?: number[];
  dt0: number;
  dt: number[];
  compute_units: number[];
  price_per_compute_unit: string[];
  price_per_compute_unit_i?: number[];
  fees: string[];
  response_time_raw: number[];
  response_time_ms?: number[];
  response_time_divisor?: number;
  real_time_ratio: (number | [number] | null)[];
  real_time_ratio_i?: number[];
  attributed: boolean[];
  attributed_i?: number[];
  reason: (string | null)[];
  reason_i?: number[];
}

/** The value of worker_processed_job_chunks.jobs_format for chunks written by `storedJobs`. */
export const JOBS_FORMAT = 2;

/**
 * One dictionary-encoded column: its distinct values in order of first use and each job's index
 * in them. While every job has the first job's value no index is written (one comparison per
 * job: most columns of a chunk are constant).
 */
class DictColumn<V> {
  readonly values: V[];
  /** null while every job so far has values[0]. */
  private indexes: number[] | null = null;
  private readonly index = new Map<V, number>();
  private last: V;
  private lastIndex = 0;
  constructor(first: V) {
    this.values = [first];
    this.index.set(first, 0);
    this.last = first;
  }
  set(i: number, value: V): void {
    if (value === this.last) {
      if (this.indexes !== null) this.indexes.push(this.lastIndex);
      return;
    }
    if (this.indexes === null) {
      this.indexes = [];
      for (let k = 0; k < i; k++) this.indexes.push(0); // packed, as the other columns
    }
    let k = this.index.get(value);
    if (k === undefined) {
      k = this.values.length;
      this.values.push(value);
      this.index.set(value, k);
    }
    this.last = value;
    this.lastIndex = k;
    this.indexes.push(k);
  }
  /** The index column, or undefined (left out of the JSON) when every job has the one value. */
  get stored(): number[] | undefined {
    return this.values.length > 1 ? this.indexes! : undefined;
  }
}

/** d ≥ 0 such that d / raw is ratio exactly (IEEE double, as float8 division in the view), or null. */
function ratioNumerator(ratio: number, raw: number): number | null {
  if (!(raw > 0) || !Number.isSafeInteger(raw)) return null;
  const d = Math.round(ratio * raw);
  return Number.isSafeInteger(d) && d >= 0 && d / raw === ratio ? d : null;
}

function storedJobs(jobs: readonly JobRecord[]): StoredJobs {
  const n = jobs.length;
  if (n === 0) throw new Error("storedJobs: a chunk has at least one job");
  // Plain arrays filled in order (packed: JSON.stringify writes them faster than preallocated holey ones).
  const eventId: string[] = [], dt: number[] = [], computeUnits: number[] = [], fees: string[] = [], raw: number[] = [];
  const j0 = jobs[0];
  const eth = new DictColumn(j0.ethAddress), model = new DictColumn(j0.modelID), pipeline = new DictColumn(j0.pipeline);
  const price = new DictColumn(j0.pricePerComputeUnit), attributed = new DictColumn(j0.attributed), reason = new DictColumn(j0.reason);
  // real_time_ratio: the dictionary's keys are the numerator d (≥ 0, integer) for a derived ratio,
  // and -1 - k for the k-th distinct ratio stored as itself; null is its own key.
  const literalRatios: number[] = [];
  const literalKey = new Map<number, number>();
  const ratioKey = (r: number | null, responseTimeRaw: number): number | null => {
    if (r === null) return null;
    const d = ratioNumerator(r, responseTimeRaw);
    if (d !== null) return d;
    let k = literalKey.get(r);
    if (k === undefined) {
      k = literalRatios.length;
      literalRatios.push(r);
      literalKey.set(r, k);
    }
    return -1 - k;
  };
  const ratio = new DictColumn(ratioKey(j0.realTimeRatio, j0.responseTimeRaw));
  const dt0 = j0.dtMs;
  let dtExact = Number.isSafeInteger(dt0);
  let anyRequestId = false;
  let divisor: number | null = j0.responseTimeMs === j0.responseTimeRaw ? 1 : 1_000_000;
  for (let i = 0; i < n; i++) {
    const j = jobs[i];
    eventId.push(j.eventId);
    eth.set(i, j.ethAddress);
    if (j.requestID !== null) anyRequestId = true;
    model.set(i, j.modelID);
    pipeline.set(i, j.pipeline);
    const delta = j.dtMs - dt0;
    dt.push(delta);
    if (!Number.isSafeInteger(delta) || !Number.isSafeInteger(j.dtMs)) dtExact = false;
    computeUnits.push(j.computeUnits);
    price.set(i, j.pricePerComputeUnit);
    fees.push(j.fees);
    raw.push(j.responseTimeRaw);
    if (divisor !== null && !(Number.isSafeInteger(j.responseTimeRaw) && j.responseTimeRaw / divisor === j.responseTimeMs)) divisor = null;
    ratio.set(i, ratioKey(j.realTimeRatio, j.responseTimeRaw));
    attributed.set(i, j.attributed);
    reason.set(i, j.reason);
  }
  return {
    event_id: eventId,
    eth_address: eth.values,
    eth_address_i: eth.stored,
    // Built only when stored (most chunks: no request IDs; ms derived).
    request_id: anyRequestId ? jobs.map((j) => j.requestID) : undefined,
    model_id: model.values,
    model_id_i: model.stored,
    pipeline: pipeline.values,
    pipeline_i: pipeline.stored,
    // Not integers (never, from events.ts): each job's own value, as format 1 stored it.
    dt0: dtExact ? dt0 : 0,
    dt: dtExact ? dt : jobs.map((j) => j.dtMs),
    compute_units: computeUnits,
    price_per_compute_unit: price.values,
    price_per_compute_unit_i: price.stored,
    fees,
    response_time_raw: raw,
    response_time_ms: divisor === null ? jobs.map((j) => j.responseTimeMs) : undefined,
    response_time_divisor: divisor ?? undefined,
    real_time_ratio: ratio.values.map((k) => (k === null ? null : k >= 0 ? [k] : literalRatios[-1 - k])),
    real_time_ratio_i: ratio.stored,
    attributed: attributed.values,
    attributed_i: attributed.stored,
    reason: reason.values,
    reason_i: reason.stored,
  };
}

/**
 * What the performance recompute reads of a chunk (worker_processed_job_chunks.perf): the
 * attributed jobs' inputs grouped as the report ranks them, fees summed per group
 * (performance.ts StoredPerfGroup) — a fraction of `jobs` to parse, and no object per job.
 */
function storedPerf(nodeType: "ai" | "transcode", jobs: readonly JobRecord[]): StoredPerfGroup[] {
  const inputs = new PerformanceInputs();
  for (const j of jobs) if (j.attributed) inputs.add(nodeType, j.ethAddress!, j.modelID, j.pipeline, j.realTimeRatio, j.responseTimeMs, j.computeUnits, j.fees);
  return inputs.stored();
}

/**
 * The jobs of each write set as ONE row (`storedJobs`, format 2) keyed by the offset the set
 * applied through, instead of one row per job: a row per save, not per event. A write set saved
 * again meets its own key and is skipped, so saving stays idempotent. The view
 * worker_processed_jobs shows one row per job.
 */
async function insertJobChunks(tx: Queryable, pid: string, chunks: Merged["jobChunks"]): Promise<void> {
  const nodeType = requirePartition(pid).nodeType;
  for (const chunk of chunks) {
    await tx.query(
      `INSERT INTO worker_processed_job_chunks (partition_id, through_offset, job_count, jobs_format, jobs, perf) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (partition_id, through_offset) DO NOTHING`,
      [pid, chunk.throughOffset, chunk.jobs.length, JOBS_FORMAT, JSON.stringify(storedJobs(chunk.jobs)), JSON.stringify(storedPerf(nodeType, chunk.jobs))],
    );
  }
}

/**
 * The performance inputs of a partition: every attributed job, from the `perf` column of every
 * chunk of the partition (JSON.parse here; the server sends the texts as stored), added group by
 * group. Storage order: the report depends on no order (stats.ts).
 */
export async function readPerformanceInputs(db: Queryable, partitionId: string): Promise<PerformanceInputs> {
  const nodeType = requirePartition(partitionId).nodeType;
  const res = await db.query<{ perf: string }>("SELECT perf FROM worker_processed_job_chunks WHERE partition_id = $1", [partitionId]);
  const inputs = new PerformanceInputs();
  for (const row of res.rows) inputs.addStored(nodeType, JSON.parse(row.perf) as StoredPerfGroup[]);
  return inputs;
}

async function refreshPerformance(tx: Queryable, pid: string): Promise<void> {
  const report = (await readPerformanceInputs(tx, pid)).report();
  await tx.query("DELETE FROM worker_performance WHERE partition_id = $1", [pid]);
  const rows = [
    ...report.transcode_performance.map((r) => ({ category: "transcode", mp: "", row: r })),
    ...report.ai_performance.map((r) => ({ category: "ai", mp: r.model_pipeline, row: r })),
  ];
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO worker_performance (partition_id, category, model_pipeline, eth_address, rank, percentile, job_count, metrics, updated_at)
     SELECT $1::text, c, mp, a, rk, pc, n, m::jsonb, now() FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::float8[], $7::bigint[], $8::text[]) AS u(c, mp, a, rk, pc, n, m)`,
    [pid, rows.map((r) => r.category), rows.map((r) => r.mp), rows.map((r) => r.row.eth_address), rows.map((r) => r.row.rank), rows.map((r) => r.row.percentile), rows.map((r) => r.row.job_count), rows.map((r) => JSON.stringify(r.row))],
  );
}

/** The performance document of worker_performance.json, from the table (records in rank order). */
export async function readPerformanceReport(db: Queryable, partitionId: string) {
  const res = await db.query<{ category: string; model_pipeline: string; metrics: Record<string, unknown> }>(
    "SELECT category, model_pipeline, metrics FROM worker_performance WHERE partition_id = $1 ORDER BY category, model_pipeline, rank",
    [partitionId],
  );
  const transcode: unknown[] = [];
  const ai: unknown[] = [];
  const rankings: Record<string, unknown[]> = {};
  for (const r of res.rows) {
    if (r.category === "transcode") transcode.push(r.metrics);
    else {
      ai.push(r.metrics);
      (rankings[r.model_pipeline] ??= []).push(r.metrics);
    }
  }
  return { transcode_performance: transcode, ai_performance: ai, ai_model_pipeline_rankings: rankings };
}

export async function readSummary(db: Queryable, partitionId: string): Promise<unknown | null> {
  const res = await db.query<{ summary: unknown }>("SELECT summary FROM worker_summary WHERE partition_id = $1", [partitionId]);
  return res.rows[0]?.summary ?? null;
}

/**
 * Derived tables of this kind as replay compares them (one row per fact): worker_processed_jobs
 * is the view over worker_processed_job_chunks, whose cut into chunks is how the saves fell
 * (live and replay cut differently; the jobs are the same).
 */
export const DERIVED_TABLES = [
  "worker_fees",
  "worker_fee_ledger",
  "worker_connections",
  "worker_ai_correlation",
  "worker_processed_jobs",
  "worker_performance",
  "worker_summary",
  "worker_partition_state",
] as const;

/** The tables a reset clears, in order (the stored tables behind DERIVED_TABLES). */
const RESET_TABLES = DERIVED_TABLES.map((t) => (t === "worker_processed_jobs" ? "worker_processed_job_chunks" : t));

/**
 * Replay support: the parameters each partition's applied events were applied with, read before
 * the reset (its history, and the offset live had applied through), so the replay applies them
 * the same way; events after that offset take `config`, as live would.
 */
export async function loadParamsPlans(db: Queryable, partitionIds: readonly string[], config: PartitionParams): Promise<Map<string, ParamsPlan>> {
  const history = await db.query<{ partition_id: string; from_offset: string; commission_bps: number; correlation_ttl_ms: string }>(
    `SELECT partition_id, from_offset::text AS from_offset, commission_bps, correlation_ttl_ms::text AS correlation_ttl_ms
       FROM worker_partition_params WHERE partition_id = ANY($1::text[]) ORDER BY partition_id, from_offset`,
    [[...partitionIds]],
  );
  const offsets = await db.query<{ partition_id: string; journal_offset: string }>(
    "SELECT partition_id, journal_offset::text AS journal_offset FROM worker_partition_state WHERE partition_id = ANY($1::text[])",
    [[...partitionIds]],
  );
  const through = new Map(offsets.rows.map((r) => [r.partition_id, Number(r.journal_offset)]));
  const plans = new Map<string, ParamsPlan>();
  for (const id of partitionIds) {
    const rows = history.rows
      .filter((r) => r.partition_id === id)
      .map((r) => ({ fromOffset: Number(r.from_offset), commissionBps: Number(r.commission_bps), correlationTtlMs: Number(r.correlation_ttl_ms) }));
    plans.set(id, recordedPlan(rows, through.get(id) ?? 0, config));
  }
  return plans;
}

/**
 * Replay support (DESIGN rule 5): removes a partition's derived state and its actor offset, so
 * the next activation re-applies the whole journal (the parameter history, worker_partition_params,
 * is kept: read it first with loadParamsPlans). The actor must not be resident (stop or
 * passivate it first); run it in one transaction.
 */
export async function resetPartitionState(tx: Queryable, partitionId: string): Promise<void> {
  for (const table of RESET_TABLES) await tx.query(`DELETE FROM ${table} WHERE partition_id = $1`, [partitionId]);
  await tx.query(`DELETE FROM strata_actor_offset WHERE kind = $1 AND entity_id = $2`, [WORKER_PARTITION_KIND, partitionId]);
}
