/**
 * The state one vault-term actor owns: the term row, its atom or triple row, its vaults (every
 * curve) and the positions the current batch touches. Amounts are bigint; timestamps are seconds
 * since the epoch (null when rindexer sent none); `(block, log)` stamps order events.
 */
export interface Stamp {
  block: number;
  log: number;
}

/** is_event_newer: true when there is no old event, or (block, log) is strictly greater. */
export function isEventNewer(next: Stamp, old: Stamp | null): boolean {
  if (old === null) return true;
  return next.block > old.block || (next.block === old.block && next.log > old.log);
}

export const VAULT_TYPES = ["Atom", "Triple", "CounterTriple"] as const;
export type TermType = "Atom" | "Triple" | "Unknown";

export interface PositionState {
  accountId: string;
  curveId: string;
  shares: bigint;
  totalDeposit: bigint;
  totalRedeem: bigint;
  lastDeposit: Stamp | null;
  lastRedeem: Stamp | null;
  lastShares: Stamp | null;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface VaultState {
  curveId: string;
  totalShares: bigint;
  sharePrice: bigint;
  totalAssets: bigint;
  marketCap: bigint | null;
  positionCount: number;
  vaultType: string | null;
  /** Last SharePriceChanged applied; (0, 0) before any. */
  lastPrice: Stamp;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface TermRowState {
  type: TermType;
  atomId: string | null;
  tripleId: string | null;
  totalAssets: bigint;
  totalMarketCap: bigint | null;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface AtomState {
  walletId: string;
  creatorId: string;
  data: string | null;
  /** Lower-case hex without 0x. */
  rawData: string;
  last: Stamp;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface TripleState {
  creatorId: string;
  subjectId: string;
  predicateId: string;
  objectId: string;
  counterTermId: string;
  last: Stamp;
  createdAt: number | null;
  updatedAt: number | null;
}

export interface TermState {
  termId: string;
  term: TermRowState | null;
  atom: AtomState | null;
  triple: TripleState | null;
  /** Every vault of the term, by curve id. */
  vaults: Map<string, VaultState>;
  /** Positions loaded for this batch, by positionKey(account, curve). */
  positions: Map<string, PositionState>;
}

export function positionKey(accountId: string, curveId: string): string {
  return `${accountId}|${curveId}`;
}

export function emptyTermState(termId: string): TermState {
  return { termId, term: null, atom: null, triple: null, vaults: new Map(), positions: new Map() };
}

/** Earliest / latest of two optional timestamps. */
export function minTs(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
export function maxTs(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
