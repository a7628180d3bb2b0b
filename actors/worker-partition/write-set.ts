/**
 * What one message's apply must persist, captured as immutable rows at the end of `handle`.
 *
 * The runtime commits in groups and may run the next message while a commit is in flight, so
 * save never reads the live (mutable) state: it writes these snapshots. Every write is
 * idempotent (absolute values; jobs keyed by event ID; correlation rows replaced per request),
 * so writing an already committed write set again, followed by the newer ones in order, gives
 * the same tables.
 */
import type { JobRecord, PartitionState } from "./partition-state.ts";
import { emptyChanges } from "./partition-state.ts";
import type { PartitionSummary } from "./summary.ts";
import type { ParamsRow } from "./partition-params.ts";

export interface FeeRow {
  ethAddress: string;
  totalFees: string;
  poolCommission: string;
  workerEarnings: string;
  jobCount: number;
}
export interface ConnectionRow {
  ethAddress: string;
  connections: string[];
  isActive: boolean;
  lastSeenMs: number;
}
export interface CorrelationRow {
  requestID: string;
  received: { atMs: number; body: unknown } | null;
  processed: { atMs: number; body: unknown } | null;
}
export interface PartitionRow {
  offset: number;
  eventsApplied: number;
  watermarkMs: number | null;
  commissionBps: number;
  unattributedJobs: number;
  unattributedFees: string;
  expiredReceived: number;
}
export interface WriteSet {
  partition: PartitionRow;
  fees: FeeRow[];
  connections: ConnectionRow[];
  correlation: CorrelationRow[];
  jobs: JobRecord[];
  /** Parameter history rows to record (a change of commission or TTL before these events). */
  params: ParamsRow[];
  /** The summary to write, or null when this write set leaves worker_summary as it is (`journaled`). */
  summary: PartitionSummary | null;
  /** Recompute worker_performance in this save (jobs were written since the last recompute). */
  refreshPerformance: boolean;
  /** Ascending per actor kind instance: which write sets a save already handed (kind.ts). */
  serial: number;
}

/** Snapshots the rows changed since the last write set and starts a new change list. */
export function takeWriteSet(state: PartitionState, summary: PartitionSummary | null, refreshPerformance = true, serial = 0): WriteSet {
  const ch = state.changes;
  state.changes = emptyChanges();
  const fees: FeeRow[] = [...ch.fees].sort().map((a) => {
    const f = state.fees.get(a)!;
    return { ethAddress: a, totalFees: f.totalFees.toString(), poolCommission: f.poolCommission.toString(), workerEarnings: f.workerEarnings.toString(), jobCount: f.jobCount };
  });
  const connections: ConnectionRow[] = [...ch.connections].sort().map((a) => {
    const c = state.connections.get(a)!;
    return { ethAddress: a, connections: [...c.connections], isActive: c.active, lastSeenMs: c.lastSeenMs };
  });
  const correlation: CorrelationRow[] = [...ch.correlation].sort().map((requestID) => {
    const r = state.correlation.received.get(requestID);
    const p = state.correlation.waiting.get(requestID);
    return {
      requestID,
      received: r ? { atMs: r.atMs, body: { ...r } } : null,
      processed: p ? { atMs: p.dtMs, body: { ...p } } : null,
    };
  });
  return {
    partition: {
      offset: state.offset,
      eventsApplied: state.eventsApplied,
      watermarkMs: state.correlation.watermarkMs,
      commissionBps: state.commissionBps,
      unattributedJobs: state.unattributed.jobs,
      unattributedFees: state.unattributed.fees.toString(),
      expiredReceived: state.expiredReceived,
    },
    fees,
    connections,
    correlation,
    jobs: ch.jobs,
    params: ch.params,
    summary,
    refreshPerformance,
    serial,
  };
}
