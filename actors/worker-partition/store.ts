/**
 * Postgres/PGlite persistence of partition actors (tables in db/migrations/0200_worker_partition.sql, 0202).
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
  /** Some write set asked for the performance recompute (done once, after all jobs are inserted). */
  refreshPerformance: boolean;
  /** The newest summary of the sets, or null when none carries one. */
  summary: PartitionSummary | null;
}

/** Folds write sets (oldest first) into the final rows: later values win; each set's jobs stay a chunk of their own. */
export function mergeWriteSets(partitionId: string, sets: readonly WriteSet[]): Merged | null {
  if (sets.length === 0) return null;
  const m: Merged = { partitionId, last: sets[sets.length - 1], fees: new Map(), connections: new Map(), correlation: new Map(), jobChunks: [], refreshPerformance: false, summary: null };
  for (const ws of sets) {
    for (const f of ws.fees) m.fees.set(f.ethAddress, f);
    for (const c of ws.connections) m.connections.set(c.ethAddress, c);
    for (const c of ws.correlation) m.correlation.set(c.requestID, c);
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
 * The jobs of one chunk as stored (worker_processed_job_chunks.jobs, migration 0202): one JSON
 * array per column, element i of each the job i. Columns, not one array per job: fewer objects
 * to build and serialise. What the view worker_processed_jobs shows; the performance recompute
 * reads the `perf` column instead.
 */
interface StoredJobs {
  event_id: string[];
  eth_address: (string | null)[];
  request_id: (string | null)[];
  model_id: (string | null)[];
  pipeline: (string | null)[];
  /** Event time, epoch ms. */
  dt_ms: number[];
  compute_units: number[];
  /** Decimal strings (wei). */
  price_per_compute_unit: string[];
  fees: string[];
  response_time_ms: number[];
  response_time_raw: number[];
  real_time_ratio: (number | null)[];
  attributed: boolean[];
  reason: (string | null)[];
}

function storedJobs(jobs: readonly JobRecord[]): StoredJobs {
  const n = jobs.length;
  const col = <T>(): T[] => new Array<T>(n);
  const s: StoredJobs = {
    event_id: col(), eth_address: col(), request_id: col(), model_id: col(), pipeline: col(), dt_ms: col(), compute_units: col(),
    price_per_compute_unit: col(), fees: col(), response_time_ms: col(), response_time_raw: col(), real_time_ratio: col(), attributed: col(), reason: col(),
  };
  for (let i = 0; i < n; i++) {
    const j = jobs[i];
    s.event_id[i] = j.eventId;
    s.eth_address[i] = j.ethAddress;
    s.request_id[i] = j.requestID;
    s.model_id[i] = j.modelID;
    s.pipeline[i] = j.pipeline;
    s.dt_ms[i] = j.dtMs;
    s.compute_units[i] = j.computeUnits;
    s.price_per_compute_unit[i] = j.pricePerComputeUnit;
    s.fees[i] = j.fees;
    s.response_time_ms[i] = j.responseTimeMs;
    s.response_time_raw[i] = j.responseTimeRaw;
    s.real_time_ratio[i] = j.realTimeRatio;
    s.attributed[i] = j.attributed;
    s.reason[i] = j.reason;
  }
  return s;
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
 * The jobs of each write set as ONE row (a JSON array of job rows) keyed by the offset the set
 * applied through, instead of one row per job: a row per save, not per event. A write set saved
 * again meets its own key and is skipped, so saving stays idempotent. The view
 * worker_processed_jobs shows one row per job.
 */
async function insertJobChunks(tx: Queryable, pid: string, chunks: Merged["jobChunks"]): Promise<void> {
  const nodeType = requirePartition(pid).nodeType;
  for (const chunk of chunks) {
    await tx.query(
      `INSERT INTO worker_processed_job_chunks (partition_id, through_offset, job_count, jobs, perf) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (partition_id, through_offset) DO NOTHING`,
      [pid, chunk.throughOffset, chunk.jobs.length, JSON.stringify(storedJobs(chunk.jobs)), JSON.stringify(storedPerf(nodeType, chunk.jobs))],
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
 * Replay support (DESIGN rule 5): removes a partition's derived state and its actor offset, so
 * the next activation re-applies the whole journal. The actor must not be resident (stop or
 * passivate it first); run it in one transaction.
 */
export async function resetPartitionState(tx: Queryable, partitionId: string): Promise<void> {
  for (const table of RESET_TABLES) await tx.query(`DELETE FROM ${table} WHERE partition_id = $1`, [partitionId]);
  await tx.query(`DELETE FROM strata_actor_offset WHERE kind = $1 AND entity_id = $2`, [WORKER_PARTITION_KIND, partitionId]);
}
