/**
 * The partition summary (pure), built from the final merged state (seed 003 #20): every worker
 * known by fees or connections is listed, and the aggregates are computed over that final list,
 * so workers without new events still count. Payment fields come from the payments ledger the
 * caller passes (`paidWei`, amounts already paid or in flight per worker); ingest itself never pays.
 * Amounts are wei decimal strings; `*_eth` fields are exact decimal strings.
 */
import { formatEther } from "ethers";
import { bpsToRate } from "./commission.ts";
import type { PartitionState } from "./partition-state.ts";

export const DEFAULT_PAYMENT_THRESHOLD_WEI = 10n ** 16n;

export interface WorkerSummaryRow {
  eth_address: string;
  is_active: boolean;
  connection_count: number;
  connections: string[];
  /** Event time of the latest connection event (ISO), null when none was seen. */
  last_seen: string | null;
  job_count: number;
  total_fees: string;
  pool_commission: string;
  worker_earnings: string;
  total_fees_paid: string;
  pending_fees: string;
  pending_eth: string;
  payment_due: boolean;
}

export interface PartitionSummary {
  partition: string;
  node_type: string;
  region: string;
  /** Latest event time applied (ISO), null before the first event. */
  as_of: string | null;
  workers: WorkerSummaryRow[];
  aggregates: {
    total_workers: number;
    active_workers: number;
    active_worker_percentage: number;
    total_connections: number;
    total_fees: string;
    total_fees_eth: string;
    total_pool_commission: string;
    total_worker_earnings: string;
    total_fees_paid: string;
    total_fees_paid_eth: string;
    total_pending_fees: string;
    total_pending_eth: string;
    pool_commission_rate: string;
    pool_commission_bps: number;
    workers_eligible_for_payment: number;
    payment_threshold_wei: string;
    unattributed_jobs: number;
    unattributed_fees: string;
    pending_ai_correlations: number;
    events_applied: number;
  };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function buildSummary(
  state: PartitionState,
  opts: { paidWei?: ReadonlyMap<string, bigint>; paymentThresholdWei?: bigint } = {},
): PartitionSummary {
  const threshold = opts.paymentThresholdWei ?? DEFAULT_PAYMENT_THRESHOLD_WEI;
  const addresses = [...new Set([...state.fees.keys(), ...state.connections.keys()])].sort();
  const workers: WorkerSummaryRow[] = addresses.map((address) => {
    const fee = state.fees.get(address);
    const conn = state.connections.get(address);
    const earnings = fee?.workerEarnings ?? 0n;
    const paid = opts.paidWei?.get(address) ?? 0n;
    const pending = earnings > paid ? earnings - paid : 0n;
    return {
      eth_address: address,
      is_active: conn?.active ?? false,
      connection_count: conn?.connections.length ?? 0,
      connections: conn ? [...conn.connections] : [],
      last_seen: conn ? iso(conn.lastSeenMs) : null,
      job_count: fee?.jobCount ?? 0,
      total_fees: (fee?.totalFees ?? 0n).toString(),
      pool_commission: (fee?.poolCommission ?? 0n).toString(),
      worker_earnings: earnings.toString(),
      total_fees_paid: paid.toString(),
      pending_fees: pending.toString(),
      pending_eth: formatEther(pending),
      payment_due: pending >= threshold,
    };
  });
  let active = 0;
  let connections = 0;
  let fees = 0n;
  let commission = 0n;
  let earnings = 0n;
  let paid = 0n;
  let pending = 0n;
  let eligible = 0;
  for (const w of workers) {
    if (w.is_active) active += 1;
    connections += w.connection_count;
    fees += BigInt(w.total_fees);
    commission += BigInt(w.pool_commission);
    earnings += BigInt(w.worker_earnings);
    paid += BigInt(w.total_fees_paid);
    pending += BigInt(w.pending_fees);
    if (w.payment_due) eligible += 1;
  }
  const [nodeType, region] = state.partitionId.split("|");
  return {
    partition: state.partitionId,
    node_type: nodeType,
    region,
    as_of: iso(state.correlation.watermarkMs),
    workers,
    aggregates: {
      total_workers: workers.length,
      active_workers: active,
      active_worker_percentage: workers.length === 0 ? 0 : (active / workers.length) * 100,
      total_connections: connections,
      total_fees: fees.toString(),
      total_fees_eth: formatEther(fees),
      total_pool_commission: commission.toString(),
      total_worker_earnings: earnings.toString(),
      total_fees_paid: paid.toString(),
      total_fees_paid_eth: formatEther(paid),
      total_pending_fees: pending.toString(),
      total_pending_eth: formatEther(pending),
      pool_commission_rate: bpsToRate(state.commissionBps),
      pool_commission_bps: state.commissionBps,
      workers_eligible_for_payment: eligible,
      payment_threshold_wei: threshold.toString(),
      unattributed_jobs: state.unattributed.jobs,
      unattributed_fees: state.unattributed.fees.toString(),
      pending_ai_correlations: state.correlation.waiting.size,
      events_applied: state.eventsApplied,
    },
  };
}
