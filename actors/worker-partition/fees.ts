/**
 * Fees per worker (pure). Each attributed job adds its fee, split by the pool commission in
 * integer basis points (commission.ts). A job with fees 0 adds nothing; amounts are bigint wei.
 * Dedupe is not done here: the journal hands every event ID over exactly once (decision 1).
 */
import { splitFees } from "./commission.ts";

export interface FeeAccount {
  totalFees: bigint;
  poolCommission: bigint;
  workerEarnings: bigint;
  /** Jobs with a positive fee credited to this worker. */
  jobCount: number;
}

export type FeeBook = Map<string, FeeAccount>;

export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/** Credits one job's fee; returns false (nothing changed) when the fee is 0. */
export function creditJobFee(book: FeeBook, ethAddress: string, fees: bigint, commissionBps: number): boolean {
  if (fees <= 0n) return false;
  const { poolCommission, workerEarnings } = splitFees(fees, commissionBps);
  const acc = book.get(ethAddress);
  if (acc) {
    acc.totalFees += fees;
    acc.poolCommission += poolCommission;
    acc.workerEarnings += workerEarnings;
    acc.jobCount += 1;
  } else {
    book.set(ethAddress, { totalFees: fees, poolCommission, workerEarnings, jobCount: 1 });
  }
  return true;
}
