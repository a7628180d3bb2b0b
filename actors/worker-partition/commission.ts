/**
 * Pool commission in integer maths (domain decision 5).
 *
 * The rate is configured as a decimal (`POOL_COMMISSION_RATE=0.25`) and converted exactly to basis
 * points (2500); more than 4 decimal places, a negative rate or a rate above 1 is an error.
 *   pool_commission = fees × bps / 10000   (bigint division: truncation toward zero)
 *   worker_earnings = fees − pool_commission
 */
import { InputError } from "../../protocols/errors.ts";

export const BPS_DENOMINATOR = 10_000n;

/** "0.25" → 2500. Throws an InputError naming `what` when the text is not an exact rate in [0, 1]. */
export function commissionRateToBps(text: string, what = "POOL_COMMISSION_RATE"): number {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*$/.exec(text);
  if (!m) throw new InputError(`${what}: expected a decimal rate such as 0.25, got ${JSON.stringify(text)}`, { code: "config" });
  const whole = m[1];
  const frac = (m[2] ?? "").replace(/0+$/, "");
  if (frac.length > 4) {
    throw new InputError(`${what}: ${text.trim()} has more than 4 decimal places (rates are kept in basis points)`, { code: "config" });
  }
  const bps = Number(whole) * 10_000 + Number(frac.padEnd(4, "0") || "0");
  if (bps > 10_000) throw new InputError(`${what}: ${text.trim()} is above 1`, { code: "config" });
  return bps;
}

/** 2500 → "0.25" (the exact decimal the bps stand for): the config's own inverse of POOL_COMMISSION_RATE. */
export { bpsToRate } from "../../config/fields.ts";

export interface CommissionSplit {
  poolCommission: bigint;
  workerEarnings: bigint;
}

export function splitFees(fees: bigint, bps: number): CommissionSplit {
  const poolCommission = (fees * BigInt(bps)) / BPS_DENOMINATOR;
  return { poolCommission, workerEarnings: fees - poolCommission };
}
