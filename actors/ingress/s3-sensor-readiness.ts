/**
 * Readiness of an S3 sensor (`/ready`, check `ingress:<name>`): advancing, not merely alive.
 * Not ready while a partition's polls fail, or when no poll has finished for longer than the
 * interval plus `stallAllowanceMs` (a poll waits for its batch to be committed by the partition
 * actor: a stuck actor or a hung S3 read shows here). Before the first poll has finished, the
 * time since the sensor started counts instead. Pure: the caller passes the sensor's figures.
 */
import type { ReadinessCheck } from "../../admin/source.ts";

/** How long past its interval a poll may take before the sensor counts as stalled (a batch of 250 files on a slow store). */
export const DEFAULT_STALL_ALLOWANCE_MS = 10 * 60_000;

export interface S3SensorFigures {
  name: string;
  /** Consecutive failed polls per partition. */
  failures: ReadonlyMap<string, number>;
  /** When the last poll finished; null = none yet. */
  lastPollAt: number | null;
  startedAt: number;
  intervalMs: number;
  /** Partitions that have ingested a batch since start. */
  ingestedPartitions: number;
  now: number;
  stallAllowanceMs?: number;
}

export function s3SensorReadiness(f: S3SensorFigures): ReadinessCheck {
  const failing = [...f.failures].filter(([, n]) => n > 0);
  if (failing.length > 0) {
    return { name: f.name, ready: false, lastProgressAt: f.lastPollAt, backlog: failing.length, detail: `S3 polls failing for ${failing.map(([p, n]) => `${p} (${n}×)`).join(", ")}` };
  }
  const expectedWithinMs = f.intervalMs + (f.stallAllowanceMs ?? DEFAULT_STALL_ALLOWANCE_MS);
  const since = f.now - (f.lastPollAt ?? f.startedAt);
  if (since > expectedWithinMs) {
    const what = f.lastPollAt === null ? "no poll has finished since the sensor started" : "no poll has finished";
    return { name: f.name, ready: false, lastProgressAt: f.lastPollAt, backlog: 0, detail: `${what} ${since} ms ago (expected within ${expectedWithinMs} ms)` };
  }
  const state = f.lastPollAt === null ? "first poll in progress" : "polling";
  return { name: f.name, ready: true, lastProgressAt: f.lastPollAt, backlog: 0, detail: `${state}; ${f.ingestedPartitions} partition(s) have ingested a batch` };
}
