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

/** The values of one ranked group (a worker, or a worker × model × pipeline), job by job. */
interface Group {
  address: string;
  model: string;
  pipeline: string;
  responseTimeMs: number[];
  computeUnits: number[];
  /** Transcode only. */
  realTimeRatio: number[];
  fees: bigint;
}

/**
 * The stored form of one group's inputs (store.ts keeps one list per job chunk):
 * [address, model, pipeline ("" for transcode), fees summed (decimal string),
 *  real-time ratios (transcode), response times ms, compute units] — the per-job values in the
 * same order in each array. No address, fee or object per job.
 */
export type StoredPerfGroup = [string, string, string, string, number[], number[], number[]];

function newGroup(address: string, model: string, pipeline: string): Group {
  return { address, model, pipeline, responseTimeMs: [], computeUnits: [], realTimeRatio: [], fees: 0n };
}

function common(g: Group): Omit<Common, "rank" | "percentile"> {
  let cu = 0;
  const cups = new Array<number>(g.computeUnits.length);
  for (let i = 0; i < cups.length; i++) {
    cu += g.computeUnits[i];
    cups[i] = computeUnitsPerSecond(g.computeUnits[i], g.responseTimeMs[i]);
  }
  return {
    eth_address: g.address,
    job_count: g.responseTimeMs.length,
    total_compute_units: cu,
    total_fees: g.fees.toString(),
    response_time_ms: spread(g.responseTimeMs),
    compute_units_per_second: spread(cups),
  };
}

function rankInPlace<T extends { rank: number; percentile: number }>(rows: T[]): T[] {
  rows.forEach((row, i) => {
    row.rank = i + 1;
    row.percentile = percentileOfRank(i + 1, rows.length);
  });
  return rows;
}

/**
 * The inputs of the report, gathered job by job into the groups it ranks: only the values the
 * report needs are kept (no object per job), so the recompute over every job of a partition
 * (store.ts reads them column by column) costs little beyond reading them. The report depends
 * on no order of the jobs: sums of floats are exact (stats.ts exactSum), medians sort.
 */
export class PerformanceInputs {
  private readonly transcode = new Map<string, Group>();
  private readonly ai = new Map<string, Group>();

  private group(nodeType: "ai" | "transcode", ethAddress: string, modelID: string | null, pipeline: string | null): Group {
    let g: Group | undefined;
    if (nodeType === "transcode") {
      g = this.transcode.get(ethAddress);
      if (!g) this.transcode.set(ethAddress, (g = newGroup(ethAddress, "", "")));
    } else {
      const model = modelID || UNKNOWN_MODEL;
      const pipe = pipeline || UNKNOWN_PIPELINE;
      const key = `${ethAddress}\u0000${model}\u0000${pipe}`;
      g = this.ai.get(key);
      if (!g) this.ai.set(key, (g = newGroup(ethAddress, model, pipe)));
    }
    return g;
  }

  /** One attributed job (a transcode job without a real-time ratio is not ranked). */
  add(nodeType: "ai" | "transcode", ethAddress: string, modelID: string | null, pipeline: string | null, realTimeRatio: number | null, responseTimeMs: number, computeUnits: number, fees: string): void {
    if (nodeType === "transcode" && realTimeRatio === null) return;
    const g = this.group(nodeType, ethAddress, modelID, pipeline);
    if (nodeType === "transcode") g.realTimeRatio.push(realTimeRatio as number);
    g.responseTimeMs.push(responseTimeMs);
    g.computeUnits.push(computeUnits);
    g.fees += BigInt(fees);
  }

  /** The inputs of many jobs at once, as `stored()` gave them. */
  addStored(nodeType: "ai" | "transcode", groups: readonly StoredPerfGroup[]): void {
    for (const [address, model, pipeline, fees, realTimeRatio, responseTimeMs, computeUnits] of groups) {
      const g = this.group(nodeType, address, model, pipeline);
      if (nodeType === "transcode") for (const v of realTimeRatio) g.realTimeRatio.push(v);
      for (const v of responseTimeMs) g.responseTimeMs.push(v);
      for (const v of computeUnits) g.computeUnits.push(v);
      g.fees += BigInt(fees);
    }
  }

  /** These inputs in their stored form (see StoredPerfGroup). */
  stored(): StoredPerfGroup[] {
    return [...this.transcode.values(), ...this.ai.values()].map((g) => [g.address, g.model, g.pipeline, g.fees.toString(), g.realTimeRatio, g.responseTimeMs, g.computeUnits]);
  }

  report(): PerformanceReport {
    return buildReport(this.transcode, this.ai);
  }
}

export function computePerformance(jobs: Iterable<PerfJob>): PerformanceReport {
  const inputs = new PerformanceInputs();
  for (const j of jobs) inputs.add(j.nodeType, j.ethAddress, j.modelID, j.pipeline, j.realTimeRatio, j.responseTimeMs, j.computeUnits, j.fees);
  return inputs.report();
}

function buildReport(transcode: Map<string, Group>, ai: Map<string, Group>): PerformanceReport {
  const transcodeRows: TranscodeRow[] = [...transcode.values()].map((g) => ({
    ...common(g),
    real_time_ratio: spread(g.realTimeRatio),
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
    const row: AiRow = { ...common(g), model_id: g.model, pipeline: g.pipeline, model_pipeline, rank: 0, percentile: 0 };
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
