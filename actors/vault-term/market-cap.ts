/**
 * vault.market_cap = total_shares × share_price / 10^18, rounded half away from zero to an
 * integer (what PostgreSQL does when a NUMERIC lands in NUMERIC(78,0)); null when the result
 * does not fit NUMERIC(78,0) (|x| > 10^78 − 1). Vectors: (3, 5·10^17) → 2; (10^18, 2·10^18) → 2·10^18.
 */
export const WAD = 10n ** 18n;
export const NUMERIC_78_MAX = 10n ** 78n - 1n;

/** a / b rounded half away from zero (b > 0). */
export function divRoundHalfAwayFromZero(a: bigint, b: bigint): bigint {
  const negative = a < 0n;
  const abs = negative ? -a : a;
  const q = (abs * 2n + b) / (2n * b);
  return negative ? -q : q;
}

export function marketCap(totalShares: bigint, sharePrice: bigint): bigint | null {
  const value = divRoundHalfAwayFromZero(totalShares * sharePrice, WAD);
  return value > NUMERIC_78_MAX || value < -NUMERIC_78_MAX ? null : value;
}

