/**
 * Unpaid wei per worker: earned − paid − in flight, never negative (pure, bigint).
 * A worker with an ambiguous or reverted payment is blocked: nothing more is paid to it until a
 * person resolves that payment. Only workers at or above the threshold are paid, the whole amount.
 */
export interface WorkerBalance {
  ethAddress: string;
  /** Decimal strings of wei. */
  earnedWei: string;
  paidWei: string;
  inFlightWei: string;
  /** Set when the worker has a payment needing a person (ambiguous, reverted). */
  blockedReason: string | null;
}

export interface PlannedPayment {
  paymentId: string;
  ethAddress: string;
  amountWei: string;
}

export interface SkippedWorker {
  ethAddress: string;
  unpaidWei: string;
  /** ledger_mismatch: paid + in flight exceed earned (fee state lost or reset?) — reported, never paid negative. */
  /** invalid_address: not 0x + 40 hex; zero_address: a worker that sent no address (paying it burns the money). */
  reason: "below_threshold" | "blocked" | "nothing_unpaid" | "ledger_mismatch" | "invalid_address" | "zero_address";
  detail?: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export function unpaidWei(b: WorkerBalance): bigint {
  const unpaid = BigInt(b.earnedWei) - BigInt(b.paidWei) - BigInt(b.inFlightWei);
  return unpaid > 0n ? unpaid : 0n;
}

/** Decide the payments of one run. Payment ids are `<runId>-<n>` (n from 1, in address order). */
export function planPayments(runId: string, balances: readonly WorkerBalance[], thresholdWei: string): { planned: PlannedPayment[]; skipped: SkippedWorker[] } {
  const threshold = BigInt(thresholdWei);
  const planned: PlannedPayment[] = [];
  const skipped: SkippedWorker[] = [];
  const sorted = [...balances].sort((a, b) => (a.ethAddress.toLowerCase() < b.ethAddress.toLowerCase() ? -1 : a.ethAddress.toLowerCase() > b.ethAddress.toLowerCase() ? 1 : 0));
  for (const b of sorted) {
    const unpaid = unpaidWei(b);
    if (!ADDRESS.test(b.ethAddress)) skipped.push({ ethAddress: b.ethAddress, unpaidWei: unpaid.toString(), reason: "invalid_address" });
    else if (BigInt(b.ethAddress) === 0n) skipped.push({ ethAddress: b.ethAddress, unpaidWei: unpaid.toString(), reason: "zero_address" });
    else if (b.blockedReason !== null) skipped.push({ ethAddress: b.ethAddress, unpaidWei: unpaid.toString(), reason: "blocked", detail: b.blockedReason });
    else if (BigInt(b.earnedWei) < BigInt(b.paidWei) + BigInt(b.inFlightWei)) {
      skipped.push({ ethAddress: b.ethAddress, unpaidWei: "0", reason: "ledger_mismatch", detail: `earned ${b.earnedWei} wei < paid ${b.paidWei} + in flight ${b.inFlightWei}` });
    } else if (unpaid === 0n) skipped.push({ ethAddress: b.ethAddress, unpaidWei: "0", reason: "nothing_unpaid" });
    else if (unpaid < threshold) skipped.push({ ethAddress: b.ethAddress, unpaidWei: unpaid.toString(), reason: "below_threshold" });
    else planned.push({ paymentId: `${runId}-${planned.length + 1}`, ethAddress: b.ethAddress, amountWei: unpaid.toString() });
  }
  return { planned, skipped };
}
