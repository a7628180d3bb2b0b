/**
 * Performance analytics (pure), recomputed exactly from every attributed job of the partition
 * (decision 10), so replay equals live and no median is approximated by a mean.
 *
 * transcode, per worker: real-time ratio (higher = faster than real time; decision 3),
 *   response time ms, throughput = compute units per second; ranked best first on the median
 *   real-time ratio (ties: higher throughput, then address).
 * ai, per (worker, model, pipeline): response time ms (normalised from ns), compute units per
 *   second; ranked per `model | pipeline` on the median response time, lowest first (ties:
 *   higher throughput, then address).
 * rank 1..n, percentile = (rank − 1)/(n − 1) (0 for the best, 1 for the last).
 */
import { spread, percentileOfRank, type Spread } from "./stats.ts";

export interface PerfJob {
  ethAddress: string;
  nodeType: "ai" | "transcode";
  modelID: string | null;
  pipeline: string | null;
  /** Decimal real-time ratio (transcode), null when unknown. */
  realTimeRatio: number | null;
  responseTimeMs: number;
  computeUnits: number;
  /** wei, decimal string. */
  fees: string;
}

/** compute units per second; 0 when the response time is unknown or 0. */
export function computeUnitsPerSecond(computeUnits: number, responseTimeMs: number): number {
  return responseTimeMs > 0 ? computeUnits / (responseTimeMs / 1000) : 0;
}

interface Common {
  eth_address: string;
  job_count: number;
  total_compute_units: number;
  total_fees: string;
  response_time_ms: Spread;
  compute_units_per_second: Spread;
  rank: number;
  percentile: number;
}
export interface TranscodeRow extends Common {
  real_time_ratio: Spread;
}
export interface AiRow extends Common {
  model_id: string;
  pipeline: string;
  model_pipeline: string;
}
export interface PerformanceReport {
  transcode_performance: TranscodeRow[];
  ai_performance: AiRow[];
  ai_model_pipeline_rankings: Record<string, AiRow[]>;
}

export const UNKNOWN_MODEL = "unknown_model";
export const UNKNOWN_PIPELINE = "unknown_pipeline";

interface Group {
  jobs: PerfJob[];
}

function common(address: string, jobs: PerfJob[]): Omit<Common, "rank" | "percentile"> {
  let cu = 0;
  let fees = 0n;
  for (const j of jobs) {
    cu += j.computeUnits;
    fees += BigInt(j.fees);
  }
  return {
    eth_address: address,
    job_count: jobs.length,
    total_compute_units: cu,
    total_fees: fees.toString(),
    response_time_ms: spread(jobs.map((j) => j.responseTimeMs)),
    compute_units_per_second: spread(jobs.map((j) => computeUnitsPerSecond(j.computeUnits, j.responseTimeMs))),
  };
}

function rankInPlace<T extends { rank: number; percentile: number }>(rows: T[]): T[] {
  rows.forEach((row, i) => {
    row.rank = i + 1;
    row.percentile = percentileOfRank(i + 1, rows.length);
  });
  return rows;
}

export function computePerformance(jobs: Iterable<PerfJob>): PerformanceReport {
  const transcode = new Map<string, Group>();
  const ai = new Map<string, Group & { address: string; model: string; pipeline: string }>();
  for (const job of jobs) {
    if (job.nodeType === "transcode") {
      if (job.realTimeRatio === null) continue;
      const g = transcode.get(job.ethAddress) ?? { jobs: [] };
      g.jobs.push(job);
      transcode.set(job.ethAddress, g);
    } else {
      const model = job.modelID || UNKNOWN_MODEL;
      const pipeline = job.pipeline || UNKNOWN_PIPELINE;
      const key = `${job.ethAddress}\u0000${model}\u0000${pipeline}`;
      const g = ai.get(key) ?? { jobs: [], address: job.ethAddress, model, pipeline };
      g.jobs.push(job);
      ai.set(key, g);
    }
  }
  const transcodeRows: TranscodeRow[] = [...transcode].map(([address, g]) => ({
    ...common(address, g.jobs),
    real_time_ratio: spread(g.jobs.map((j) => j.realTimeRatio as number)),
    rank: 0,
    percentile: 0,
  }));
  transcodeRows.sort(
    (a, b) =>
      b.real_time_ratio.median - a.real_time_ratio.median ||
      b.compute_units_per_second.median - a.compute_units_per_second.median ||
      (a.eth_address < b.eth_address ? -1 : a.eth_address > b.eth_address ? 1 : 0),
  );
  rankInPlace(transcodeRows);

  const rankings: Record<string, AiRow[]> = {};
  for (const g of ai.values()) {
    const model_pipeline = `${g.model} | ${g.pipeline}`;
    const row: AiRow = { ...common(g.address, g.jobs), model_id: g.model, pipeline: g.pipeline, model_pipeline, rank: 0, percentile: 0 };
    (rankings[model_pipeline] ??= []).push(row);
  }
  const aiRows: AiRow[] = [];
  for (const mp of Object.keys(rankings).sort()) {
    const rows = rankings[mp];
    rows.sort(
      (a, b) =>
        a.response_time_ms.median - b.response_time_ms.median ||
        b.compute_units_per_second.median - a.compute_units_per_second.median ||
        (a.eth_address < b.eth_address ? -1 : a.eth_address > b.eth_address ? 1 : 0),
    );
    rankInPlace(rows);
    aiRows.push(...rows);
  }
  const sortedRankings: Record<string, AiRow[]> = {};
  for (const mp of Object.keys(rankings).sort()) sortedRankings[mp] = rankings[mp];
  return { transcode_performance: transcodeRows, ai_performance: aiRows, ai_model_pipeline_rankings: sortedRankings };
}
