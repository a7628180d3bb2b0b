/**
 * The pure heart of vault-term: state of one term + its new events → new state + what changed.
 * No I/O. The result does not depend on the order the events arrive in (shuffled input gives
 * identical rows):
 *  - position.shares = totalShares of the newest (block, log) event across deposits and redeems
 *    (decision 2); deposit / redeem totals accumulate once per event (the caller passes only
 *    events the journal had not seen); type-specific trackers keep the newest of their type;
 *  - vault price fields only from SharePriceChanged, newest wins (decision 3); a deposit or redeem
 *    creates the vault with zeros when absent; position_count = positions with shares > 0,
 *    maintained by deltas (this actor is the single writer of the term's positions);
 *  - term: type from AtomCreated / TripleCreated (pro and counter: 'Triple'); totals = Σ vaults,
 *    recomputed when the term row exists;
 *  - created_at = earliest and updated_at = latest block timestamp among the events applied to a
 *    row (the earlier system used "the last processed event", which depends on arrival order);
 *  - every stored sum (position deposit / redeem totals, term totals) saturates at 10^78 − 1
 *    (`storedSum`, docs/vault-term.md "Bounds (stop 11)"): NUMERIC(78,0) cannot hold more.
 */
import type { TermEvent, Deposited, Redeemed, SharePriceChanged, AtomCreated, TripleCreated } from "./events.ts";
import { marketCap, NUMERIC_78_MAX } from "./market-cap.ts";
import {
  VAULT_TYPES,
  isEventNewer,
  maxTs,
  minTs,
  positionKey,
  type PositionState,
  type Stamp,
  type TermState,
  type TermType,
  type VaultState,
} from "./term-state.ts";

/**
 * A sum of non-negative NUMERIC(78,0) amounts as stored: saturated at 10^78 − 1, the largest value
 * the column holds (the rule of every stored sum of this kind, here and in triple-analytics.ts:
 * docs/vault-term.md, "Bounds (stop 11)"). A function of the exact sum, so replay equals live; and
 * once a growing total saturates, adding more keeps it saturated (cap(cap(a) + b) = cap(a + b)).
 */
export function storedSum(total: bigint): bigint {
  return total > NUMERIC_78_MAX ? NUMERIC_78_MAX : total;
}

/** What the reducer changed; the store writes exactly these rows. */
export interface TermChanges {
  term: boolean;
  atom: boolean;
  triple: boolean;
  vaults: Set<string>;
  positions: Set<string>;
  /** Whether triple analytics must look at this term again. */
  analytics: boolean;
}

export function noChanges(): TermChanges {
  return { term: false, atom: false, triple: false, vaults: new Set(), positions: new Set(), analytics: false };
}

function stampOf(e: TermEvent): Stamp {
  return { block: e.tx.blockNumber, log: e.tx.logIndex };
}

function cloneState(s: TermState): TermState {
  return {
    termId: s.termId,
    term: s.term && { ...s.term },
    atom: s.atom && { ...s.atom },
    triple: s.triple && { ...s.triple },
    vaults: new Map([...s.vaults].map(([k, v]) => [k, { ...v }])),
    positions: new Map([...s.positions].map(([k, v]) => [k, { ...v }])),
  };
}

function vaultTypeName(n: number): string {
  return VAULT_TYPES[n] ?? String(n);
}

function ensureVault(state: TermState, curveId: string, vaultType: number, ts: number | null, changes: TermChanges): VaultState {
  let vault = state.vaults.get(curveId);
  if (!vault) {
    vault = {
      curveId,
      totalShares: 0n,
      sharePrice: 0n,
      totalAssets: 0n,
      marketCap: 0n,
      positionCount: 0,
      vaultType: vaultTypeName(vaultType),
      lastPrice: { block: 0, log: 0 },
      createdAt: ts,
      updatedAt: ts,
    };
    state.vaults.set(curveId, vault);
  } else {
    vault.createdAt = minTs(vault.createdAt, ts);
    vault.updatedAt = maxTs(vault.updatedAt, ts);
  }
  changes.vaults.add(curveId);
  return vault;
}

function ensureTerm(state: TermState, type: TermType, ts: number | null, changes: TermChanges) {
  if (!state.term) {
    state.term = { type: "Unknown", atomId: null, tripleId: null, totalAssets: 0n, totalMarketCap: 0n, createdAt: ts, updatedAt: ts };
  } else {
    state.term.createdAt = minTs(state.term.createdAt, ts);
    state.term.updatedAt = maxTs(state.term.updatedAt, ts);
  }
  if (type !== "Unknown" && state.term.type === "Unknown") state.term.type = type;
  changes.term = true;
  return state.term;
}

function applyPositionEvent(state: TermState, e: Deposited | Redeemed, changes: TermChanges) {
  const ts = e.tx.blockTimestamp;
  const key = positionKey(e.receiver, e.curveId);
  let pos = state.positions.get(key);
  const wasActive = pos !== undefined && pos.shares > 0n;
  if (!pos) {
    pos = {
      accountId: e.receiver,
      curveId: e.curveId,
      shares: 0n,
      totalDeposit: 0n,
      totalRedeem: 0n,
      lastDeposit: null,
      lastRedeem: null,
      lastShares: null,
      createdAt: ts,
      updatedAt: ts,
    } satisfies PositionState;
    state.positions.set(key, pos);
  } else {
    pos.createdAt = minTs(pos.createdAt, ts);
    pos.updatedAt = maxTs(pos.updatedAt, ts);
  }
  const stamp = stampOf(e);
  if (e.type === "Deposited") {
    pos.totalDeposit = storedSum(pos.totalDeposit + BigInt(e.assetsAfterFees));
    if (isEventNewer(stamp, pos.lastDeposit)) pos.lastDeposit = stamp;
  } else {
    pos.totalRedeem = storedSum(pos.totalRedeem + BigInt(e.assets));
    if (isEventNewer(stamp, pos.lastRedeem)) pos.lastRedeem = stamp;
  }
  if (isEventNewer(stamp, pos.lastShares)) {
    pos.lastShares = stamp;
    pos.shares = BigInt(e.totalShares);
  }
  changes.positions.add(key);
  const vault = ensureVault(state, e.curveId, e.vaultType, ts, changes);
  const isActive = pos.shares > 0n;
  if (isActive !== wasActive) vault.positionCount += isActive ? 1 : -1;
}

function applyPrice(state: TermState, e: SharePriceChanged, changes: TermChanges) {
  const ts = e.tx.blockTimestamp;
  const vault = ensureVault(state, e.curveId, e.vaultType, ts, changes);
  const stamp = stampOf(e);
  if (isEventNewer(stamp, vault.lastPrice)) {
    vault.lastPrice = stamp;
    vault.totalShares = BigInt(e.totalShares);
    vault.sharePrice = BigInt(e.sharePrice);
    vault.totalAssets = BigInt(e.totalAssets);
    vault.vaultType = vaultTypeName(e.vaultType);
    vault.marketCap = marketCap(vault.totalShares, vault.sharePrice);
  }
  ensureTerm(state, "Unknown", ts, changes);
}

function applyAtom(state: TermState, e: AtomCreated, changes: TermChanges) {
  const ts = e.tx.blockTimestamp;
  const stamp = stampOf(e);
  const prev = state.atom;
  if (!prev || isEventNewer(stamp, prev.last)) {
    state.atom = {
      walletId: e.atomWallet,
      creatorId: e.creator,
      data: e.atomData,
      rawData: e.rawData,
      last: stamp,
      createdAt: minTs(prev?.createdAt ?? null, ts),
      updatedAt: maxTs(prev?.updatedAt ?? null, ts),
    };
  } else {
    prev.createdAt = minTs(prev.createdAt, ts);
  }
  changes.atom = true;
  const term = ensureTerm(state, "Atom", ts, changes);
  if (term.type === "Atom") term.atomId = state.termId;
}

function applyTriple(state: TermState, e: TripleCreated, changes: TermChanges) {
  const ts = e.tx.blockTimestamp;
  if (e.termId === state.termId) {
    const stamp = stampOf(e);
    const prev = state.triple;
    if (!prev || isEventNewer(stamp, prev.last)) {
      state.triple = {
        creatorId: e.creator,
        subjectId: e.subjectId,
        predicateId: e.predicateId,
        objectId: e.objectId,
        counterTermId: e.counterTermId,
        last: stamp,
        createdAt: minTs(prev?.createdAt ?? null, ts),
        updatedAt: maxTs(prev?.updatedAt ?? null, ts),
      };
    } else {
      prev.createdAt = minTs(prev.createdAt, ts);
    }
    changes.triple = true;
  }
  // The pro term and the counter term are both 'Triple'; both point at the triple's term id.
  const term = ensureTerm(state, "Triple", ts, changes);
  if (term.type === "Triple") term.tripleId = e.termId;
  changes.analytics = true;
}

/** Apply new events (any order) to one term's state. The input state is not modified. */
export function reduceTerm(input: TermState, events: readonly TermEvent[]): { state: TermState; changes: TermChanges } {
  const state = cloneState(input);
  const changes = noChanges();
  reduceTermInto(state, events, changes);
  return { state, changes };
}

/**
 * The same, in place: `state` is modified and what changed is added to `changes` (a resident
 * term actor accumulates them until its next group commit; cloning a term with many positions
 * per message would cost O(positions)).
 */
export function reduceTermInto(state: TermState, events: readonly TermEvent[], changes: TermChanges): void {
  for (const e of events) {
    switch (e.type) {
      case "Deposited":
      case "Redeemed":
        applyPositionEvent(state, e, changes);
        break;
      case "SharePriceChanged":
        applyPrice(state, e, changes);
        break;
      case "AtomCreated":
        applyAtom(state, e, changes);
        break;
      case "TripleCreated":
        applyTriple(state, e, changes);
        break;
    }
  }
  if (state.term) {
    let assets = 0n;
    let caps = 0n;
    for (const v of state.vaults.values()) {
      assets += v.totalAssets;
      if (v.marketCap !== null) caps += v.marketCap;
    }
    const totalAssets = storedSum(assets);
    const totalMarketCap = storedSum(caps);
    if (totalAssets !== state.term.totalAssets || totalMarketCap !== state.term.totalMarketCap) {
      state.term.totalAssets = totalAssets;
      state.term.totalMarketCap = totalMarketCap;
      changes.term = true;
    }
  }
  // Triple analytics read vaults of pro and counter terms: poke them when those vaults moved.
  if (changes.vaults.size > 0 && state.term?.type === "Triple") changes.analytics = true;
}
