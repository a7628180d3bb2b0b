/**
 * The MultiVault events this kind understands, as zod schemas over rindexer's `event_data`
 * objects, and their normalised form (what goes into the event tables and the reducer).
 *
 * A failing field is named by its path (`event_data.transaction_information.log_index: …`).
 * Amounts (uint256) stay decimal strings; `curveId` is kept exactly as received; ids get a `0x`
 * prefix; addresses become EIP-55; block timestamps become seconds; log indexes follow decision 5.
 */
import { z } from "zod";
import { validate } from "../../protocols/validation.ts";
import { InputError } from "../../protocols/errors.ts";
import { normalizeCommonEvent, normalizeCreationEvent } from "./events-fast-path.ts";
import {
  checkBlockTimestamp,
  checksumAddress,
  counterTermId,
  decodeAtomData,
  ensureHexPrefix,
  hexToBytes,
  isUint256,
  parseHexTimestamp,
  parseLogIndex,
} from "./normalize.ts";
import { jsonbProblem, textProblem } from "../../db/sql.ts";

/**
 * A uint256 as a decimal string, 0 … 2^256 − 1 (a JSON integer is accepted and turned into its
 * string). The bound keeps every amount storable in NUMERIC(78,0) (docs/vault-term.md, Bounds).
 */
const uint256 = z.union([
  z.string().superRefine((v, ctx) => {
    if (!/^[0-9]+$/.test(v)) ctx.addIssue({ code: "custom", message: "expected a decimal uint256 string" });
    else if (!isUint256(v)) ctx.addIssue({ code: "custom", message: `exceeds the uint256 maximum 2^256 − 1 (${v.length} digits)` });
  }),
  z.number().int().nonnegative().refine(Number.isSafeInteger, "integer too large for a JSON number").transform(String),
]);
/** A string PostgreSQL text can hold as received (no U+0000, no lone surrogate). */
const storableText = z.string().superRefine((v, ctx) => {
  const problem = textProblem(v);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
});
const hexId = z.string().regex(/^(0[xX])?[0-9a-fA-F]{64}$/, "expected bytes32 hex (64 digits)").transform(ensureHexPrefix);
const address = z.string().transform((v, ctx) => {
  try {
    return checksumAddress(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
const curveId = z.union([storableText.min(1), z.number().int().nonnegative().transform(String)]);
const vaultType = z.number().int().min(0).max(2);
const logIndex = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseLogIndex(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
const blockTimestamp = z
  .union([z.string(), z.number().int().nonnegative(), z.null()])
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === null) return null;
    try {
      if (typeof v === "number") return checkBlockTimestamp(v);
      return parseHexTimestamp(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });
const safeInt = z.union([z.number().int().nonnegative(), z.string().regex(/^[0-9]+$/).transform(Number)]).refine(Number.isSafeInteger, "integer too large");

export const transactionInformationSchema = z.object({
  address: storableText,
  block_hash: storableText,
  block_number: safeInt,
  block_timestamp: blockTimestamp,
  log_index: logIndex,
  network: storableText,
  transaction_hash: storableText.min(1),
  transaction_index: safeInt,
});

export interface TxInfo {
  address: string;
  blockHash: string;
  blockNumber: number;
  /** Seconds since the epoch, or null when rindexer sent none. */
  blockTimestamp: number | null;
  logIndex: number;
  network: string;
  transactionHash: string;
  transactionIndex: number;
}

const withTx = <T extends z.ZodRawShape>(shape: T) => z.object({ ...shape, transaction_information: transactionInformationSchema });

export const eventSchemas = {
  AtomCreated: withTx({ creator: address, termId: hexId, atomData: z.string(), atomWallet: address }),
  TripleCreated: withTx({ creator: address, termId: hexId, subjectId: hexId, predicateId: hexId, objectId: hexId }),
  Deposited: withTx({
    sender: address,
    receiver: address,
    termId: hexId,
    curveId,
    assets: uint256,
    assetsAfterFees: uint256,
    shares: uint256,
    totalShares: uint256,
    vaultType,
  }),
  Redeemed: withTx({
    sender: address,
    receiver: address,
    termId: hexId,
    curveId,
    shares: uint256,
    totalShares: uint256,
    assets: uint256,
    fees: uint256,
    vaultType,
  }),
  SharePriceChanged: withTx({ termId: hexId, curveId, sharePrice: uint256, totalAssets: uint256, totalShares: uint256, vaultType }),
} as const;

export type KnownEventName = keyof typeof eventSchemas;
export const KNOWN_EVENTS = Object.keys(eventSchemas) as KnownEventName[];

export interface AtomCreated {
  type: "AtomCreated";
  tx: TxInfo;
  creator: string;
  termId: string;
  atomWallet: string;
  /** UTF-8 text of atomData, or null when it is not text. */
  atomData: string | null;
  /** atomData as lower-case hex without 0x (stored as BYTEA). */
  rawData: string;
}
export interface TripleCreated {
  type: "TripleCreated";
  tx: TxInfo;
  creator: string;
  termId: string;
  subjectId: string;
  predicateId: string;
  objectId: string;
  counterTermId: string;
}
export interface Deposited {
  type: "Deposited";
  tx: TxInfo;
  sender: string;
  receiver: string;
  termId: string;
  curveId: string;
  assets: string;
  assetsAfterFees: string;
  shares: string;
  totalShares: string;
  vaultType: number;
}
export interface Redeemed {
  type: "Redeemed";
  tx: TxInfo;
  sender: string;
  receiver: string;
  termId: string;
  curveId: string;
  shares: string;
  totalShares: string;
  assets: string;
  fees: string;
  vaultType: number;
}
export interface SharePriceChanged {
  type: "SharePriceChanged";
  tx: TxInfo;
  termId: string;
  curveId: string;
  sharePrice: string;
  totalAssets: string;
  totalShares: string;
  vaultType: number;
}
/** Any other event name: kept in generic_events as JSONB. */
export interface GenericEvent {
  type: "Generic";
  tx: TxInfo;
  eventName: string;
  eventData: unknown;
}
export type VaultEvent = AtomCreated | TripleCreated | Deposited | Redeemed | SharePriceChanged | GenericEvent;
/** The events that change a term's aggregates. */
export type TermEvent = Exclude<VaultEvent, GenericEvent>;

function txInfo(t: z.output<typeof transactionInformationSchema>): TxInfo {
  return {
    address: t.address,
    blockHash: t.block_hash,
    blockNumber: t.block_number,
    blockTimestamp: t.block_timestamp,
    logIndex: t.log_index,
    network: t.network,
    transactionHash: t.transaction_hash,
    transactionIndex: t.transaction_index,
  };
}

/** Validate and normalise one decoded event object. Throws InputError naming the failing field. */
export function normalizeEvent(eventName: string, data: unknown, what = "vault-term"): VaultEvent {
  return normalizeCommonEvent(eventName, data) ?? normalizeCreationEvent(eventName, data) ?? normalizeEventWithSchemas(eventName, data, what);
}

/** `normalizeEvent` through the zod schemas only (the definition; the fast path must agree). */
export function normalizeEventWithSchemas(eventName: string, data: unknown, what = "vault-term"): VaultEvent {
  const label = `${what} ${eventName}`;
  switch (eventName) {
    case "AtomCreated": {
      const e = validate(eventSchemas.AtomCreated, data, label);
      const bytes = hexToBytes(e.atomData, `${label}: event_data.atomData`);
      let rawData = "";
      for (const b of bytes) rawData += b.toString(16).padStart(2, "0");
      return { type: "AtomCreated", tx: txInfo(e.transaction_information), creator: e.creator, termId: e.termId, atomWallet: e.atomWallet, atomData: decodeAtomData(bytes), rawData };
    }
    case "TripleCreated": {
      const e = validate(eventSchemas.TripleCreated, data, label);
      return {
        type: "TripleCreated",
        tx: txInfo(e.transaction_information),
        creator: e.creator,
        termId: e.termId,
        subjectId: e.subjectId,
        predicateId: e.predicateId,
        objectId: e.objectId,
        counterTermId: counterTermId(e.termId),
      };
    }
    case "Deposited": {
      const { transaction_information, ...rest } = validate(eventSchemas.Deposited, data, label);
      return { type: "Deposited", tx: txInfo(transaction_information), ...rest };
    }
    case "Redeemed": {
      const { transaction_information, ...rest } = validate(eventSchemas.Redeemed, data, label);
      return { type: "Redeemed", tx: txInfo(transaction_information), ...rest };
    }
    case "SharePriceChanged": {
      const { transaction_information, ...rest } = validate(eventSchemas.SharePriceChanged, data, label);
      return { type: "SharePriceChanged", tx: txInfo(transaction_information), ...rest };
    }
    default: {
      if (!eventName) throw new InputError(`${what}: event_name is empty`, { code: "validation" });
      const nameProblem = textProblem(eventName);
      if (nameProblem !== null) throw new InputError(`${what}: event_name ${nameProblem}`, { code: "validation" });
      const e = validate(z.object({ transaction_information: transactionInformationSchema }).loose(), data, label);
      // Kept as JSONB, which refuses U+0000 and lone surrogates anywhere (keys included).
      const dataProblem = jsonbProblem(JSON.stringify(data));
      if (dataProblem !== null) throw new InputError(`${label}: event_data ${dataProblem}`, { code: "validation" });
      return { type: "Generic", tx: txInfo(e.transaction_information), eventName, eventData: data };
    }
  }
}

/** The terms whose actors an event concerns: TripleCreated concerns the triple and its counter term. */
export function termsOf(event: VaultEvent): string[] {
  switch (event.type) {
    case "Generic":
      return [];
    case "TripleCreated":
      return [event.termId, event.counterTermId];
    default:
      return [event.termId];
  }
}

/** (block_number, log_index) ordering: negative when a is older than b. */
export function compareEventKey(a: { blockNumber: number; logIndex: number }, b: { blockNumber: number; logIndex: number }): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}
