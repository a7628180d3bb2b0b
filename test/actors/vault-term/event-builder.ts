import process from "node:process";
/**
 * Test helper: rindexer messages as the earlier system's EventBuilder made them (network
 * `base_sepolia`, default block 1000, curve bytes32 0x00…00, assetsAfterFees = assets, fees "0",
 * vaultType 0, SharePriceChanged with totalAssets = totalShares = 10^18). Each event gets its own
 * transaction hash. `parse` runs them through the real rindexer parser.
 */
import { parseRindexerMessage } from "../../../actors/vault-term/rindexer-entry.ts";
import type { ParsedMessage } from "../../../actors/vault-term/rindexer-entry.ts";
import { mulberry32 } from "../../../samples/seeded-random.ts";

export const ACCOUNT = "0x742d35Cc6634C0532925a3b844Bc9e7595f0bEb0";
export const ACCOUNT_EIP55 = "0x742D35CC6634c0532925A3b844BC9E7595F0BEb0";
export const CONTRACT = "0x6E35cF57A41fA15eA0EaE9C33e751b01A784Fe7e";
export const CURVE0 = "0x" + "0".repeat(64);
export const CURVE2 = "0x" + "2".padStart(64, "0");
export const WAD = 10n ** 18n;

export const bytes32 = (n: number | bigint) => "0x" + n.toString(16).padStart(64, "0");
export const account = (n: number) => "0x" + n.toString(16).padStart(40, "0");

let txSeq = 0;
export interface At {
  block?: number;
  log?: number | string;
}

export function txInfo(at: At = {}) {
  const block = at.block ?? 1000;
  const log = at.log ?? 0;
  txSeq += 1;
  return {
    address: CONTRACT,
    block_hash: "0x" + block.toString(16).padStart(64, "b"),
    block_number: block,
    block_timestamp: "0x" + (1_700_000_000 + block * 12).toString(16),
    log_index: typeof log === "number" ? String(log) : log,
    network: "base_sepolia",
    transaction_hash: "0x" + `${process.pid.toString(16)}f${txSeq.toString(16)}`.padStart(64, "0"),
    transaction_index: 0,
  };
}

export function message(eventName: string, eventData: unknown) {
  return { event_name: eventName, event_signature_hash: "0x00", event_data: eventData, network: "base_sepolia" };
}

export function deposit(o: At & { term: string; amount: number | bigint; total: number | bigint; receiver?: string; curve?: string; vaultType?: number }) {
  return message("Deposited", {
    sender: o.receiver ?? ACCOUNT,
    receiver: o.receiver ?? ACCOUNT,
    termId: o.term,
    curveId: o.curve ?? CURVE0,
    assets: String(o.amount),
    assetsAfterFees: String(o.amount),
    shares: String(o.amount),
    totalShares: String(o.total),
    vaultType: o.vaultType ?? 0,
    transaction_information: txInfo(o),
  });
}

export function redeem(o: At & { term: string; amount: number | bigint; total: number | bigint; receiver?: string; curve?: string }) {
  return message("Redeemed", {
    sender: o.receiver ?? ACCOUNT,
    receiver: o.receiver ?? ACCOUNT,
    termId: o.term,
    curveId: o.curve ?? CURVE0,
    shares: String(o.amount),
    totalShares: String(o.total),
    assets: String(o.amount),
    fees: "0",
    vaultType: 0,
    transaction_information: txInfo(o),
  });
}

export function price(o: At & { term: string; sharePrice: bigint | number; totalShares?: bigint | number; totalAssets?: bigint | number; curve?: string }) {
  return message("SharePriceChanged", {
    termId: o.term,
    curveId: o.curve ?? CURVE0,
    sharePrice: String(o.sharePrice),
    totalAssets: String(o.totalAssets ?? WAD),
    totalShares: String(o.totalShares ?? WAD),
    vaultType: 0,
    transaction_information: txInfo(o),
  });
}

const hex = (text: string) => Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

export function atom(o: At & { term: string; data?: string }) {
  return message("AtomCreated", {
    creator: ACCOUNT,
    termId: o.term,
    atomData: hex(o.data ?? `ipfs://atom-${o.term.slice(-4)}`),
    atomWallet: account(0xa11e7),
    transaction_information: txInfo(o),
  });
}

export function triple(o: At & { term: string; subject: string; predicate: string; object: string }) {
  return message("TripleCreated", {
    creator: ACCOUNT,
    termId: o.term,
    subjectId: o.subject,
    predicateId: o.predicate,
    objectId: o.object,
    transaction_information: txInfo(o),
  });
}

let msgSeq = 0;
/** Parse messages as the reader would (each one a stream entry of its own). */
export function parse(messages: readonly unknown[]): ParsedMessage[] {
  return messages.flatMap((m) => parseRindexerMessage(`${Date.now()}-${msgSeq++}`, m));
}

/** A deterministic shuffle (mulberry32). */
export function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rand = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
