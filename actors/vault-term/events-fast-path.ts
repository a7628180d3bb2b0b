/**
 * Hand-checked fast path of `normalizeEvent` for well-formed Deposited, Redeemed and
 * SharePriceChanged events (nearly every event of a live stream), and for AtomCreated and
 * TripleCreated (`normalizeCreationEvent`: few, but the schemas cost them ~10× a common event).
 *
 * The zod schemas in events.ts stay the definition and give the error messages: this path
 * returns exactly what they return for an event they accept, and `null` for anything it is not
 * sure of (a missing or odd field, a bad address…), which sends the event through the schemas.
 * It exists because validating with the schemas cost ~13 µs per event and a fifth of the
 * process's allocations in `npm run bench -- vault-term`. Tested against the schemas on the
 * sample generator's events and on mutated ones (test/actors/vault-term/events-fast-path.test.ts).
 */
import type { AtomCreated, Deposited, Redeemed, SharePriceChanged, TripleCreated, TxInfo, VaultEvent } from "./events.ts";
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
import { textProblem } from "../../db/sql.ts";

const DECIMAL = /^[0-9]+$/;
const BYTES32 = /^(0[xX])?[0-9a-fA-F]{64}$/;

type Fields = Record<string, unknown>;

function isRecord(v: unknown): v is Fields {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A decimal uint256 (0 … 2^256 − 1), as the schema's `uint256`. */
function uint256(v: unknown): string | undefined {
  if (typeof v === "string") return DECIMAL.test(v) && isUint256(v) ? v : undefined;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

function bytes32(v: unknown): string | undefined {
  return typeof v === "string" && BYTES32.test(v) ? ensureHexPrefix(v) : undefined;
}

function address(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  // checksumAddress accepts exactly 40 hex digits, 0x or 0X optional (and memoises the valid ones).
  try {
    return checksumAddress(v);
  } catch {
    return undefined;
  }
}

/** A string PostgreSQL text holds as it is (the schema's `storableText`). */
function text(v: unknown): v is string {
  return typeof v === "string" && textProblem(v) === null;
}

function curveId(v: unknown): string | undefined {
  if (typeof v === "string") return v.length > 0 && text(v) ? v : undefined;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return String(v);
  return undefined;
}

function vaultType(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 2 ? v : undefined;
}

function safeInt(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === "string" && DECIMAL.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function txInfo(v: unknown): TxInfo | undefined {
  if (!isRecord(v)) return undefined;
  const { address: addr, block_hash, network, transaction_hash } = v;
  if (!text(addr) || !text(block_hash) || !text(network)) return undefined;
  if (!text(transaction_hash) || transaction_hash.length === 0) return undefined;
  const blockNumber = safeInt(v.block_number);
  const transactionIndex = safeInt(v.transaction_index);
  if (blockNumber === undefined || transactionIndex === undefined) return undefined;
  const li = v.log_index;
  if (typeof li !== "string" && typeof li !== "number") return undefined;
  let logIndex: number;
  let blockTimestamp: number | null;
  const ts = v.block_timestamp;
  try {
    logIndex = parseLogIndex(li);
    if (ts === undefined || ts === null) blockTimestamp = null;
    else if (typeof ts === "number") blockTimestamp = checkBlockTimestamp(ts);
    else if (typeof ts === "string") blockTimestamp = parseHexTimestamp(ts);
    else return undefined;
  } catch {
    return undefined;
  }
  return { address: addr, blockHash: block_hash, blockNumber, blockTimestamp, logIndex, network, transactionHash: transaction_hash, transactionIndex };
}

/** The normalised event when `data` is a well-formed event of a common type, else null. */
export function normalizeCommonEvent(eventName: string, data: unknown): VaultEvent | null {
  if (!isRecord(data)) return null;
  switch (eventName) {
    case "Deposited": {
      const tx = txInfo(data.transaction_information);
      const sender = address(data.sender);
      const receiver = address(data.receiver);
      const termId = bytes32(data.termId);
      const curve = curveId(data.curveId);
      const assets = uint256(data.assets);
      const assetsAfterFees = uint256(data.assetsAfterFees);
      const shares = uint256(data.shares);
      const totalShares = uint256(data.totalShares);
      const vt = vaultType(data.vaultType);
      if (!tx || !sender || !receiver || !termId || !curve || !assets || !assetsAfterFees || !shares || !totalShares || vt === undefined) return null;
      const e: Deposited = { type: "Deposited", tx, sender, receiver, termId, curveId: curve, assets, assetsAfterFees, shares, totalShares, vaultType: vt };
      return e;
    }
    case "Redeemed": {
      const tx = txInfo(data.transaction_information);
      const sender = address(data.sender);
      const receiver = address(data.receiver);
      const termId = bytes32(data.termId);
      const curve = curveId(data.curveId);
      const shares = uint256(data.shares);
      const totalShares = uint256(data.totalShares);
      const assets = uint256(data.assets);
      const fees = uint256(data.fees);
      const vt = vaultType(data.vaultType);
      if (!tx || !sender || !receiver || !termId || !curve || !shares || !totalShares || !assets || !fees || vt === undefined) return null;
      const e: Redeemed = { type: "Redeemed", tx, sender, receiver, termId, curveId: curve, shares, totalShares, assets, fees, vaultType: vt };
      return e;
    }
    case "SharePriceChanged": {
      const tx = txInfo(data.transaction_information);
      const termId = bytes32(data.termId);
      const curve = curveId(data.curveId);
      const sharePrice = uint256(data.sharePrice);
      const totalAssets = uint256(data.totalAssets);
      const totalShares = uint256(data.totalShares);
      const vt = vaultType(data.vaultType);
      if (!tx || !termId || !curve || !sharePrice || !totalAssets || !totalShares || vt === undefined) return null;
      const e: SharePriceChanged = { type: "SharePriceChanged", tx, termId, curveId: curve, sharePrice, totalAssets, totalShares, vaultType: vt };
      return e;
    }
    default:
      return null;
  }
}

/** The normalised event when `data` is a well-formed AtomCreated or TripleCreated, else null. */
export function normalizeCreationEvent(eventName: string, data: unknown): VaultEvent | null {
  if (!isRecord(data)) return null;
  switch (eventName) {
    case "AtomCreated": {
      const tx = txInfo(data.transaction_information);
      const creator = address(data.creator);
      const termId = bytes32(data.termId);
      const atomWallet = address(data.atomWallet);
      const hex = data.atomData;
      if (!tx || !creator || !termId || !atomWallet || typeof hex !== "string") return null;
      let bytes: Uint8Array;
      try {
        bytes = hexToBytes(hex);
      } catch {
        return null;
      }
      // hexToBytes accepted an even number of hex digits: their lower case is the bytes' hex.
      const rawData = (hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex).toLowerCase();
      const e: AtomCreated = { type: "AtomCreated", tx, creator, termId, atomWallet, atomData: decodeAtomData(bytes), rawData };
      return e;
    }
    case "TripleCreated": {
      const tx = txInfo(data.transaction_information);
      const creator = address(data.creator);
      const termId = bytes32(data.termId);
      const subjectId = bytes32(data.subjectId);
      const predicateId = bytes32(data.predicateId);
      const objectId = bytes32(data.objectId);
      if (!tx || !creator || !termId || !subjectId || !predicateId || !objectId) return null;
      const e: TripleCreated = { type: "TripleCreated", tx, creator, termId, subjectId, predicateId, objectId, counterTermId: counterTermId(termId) };
      return e;
    }
    default:
      return null;
  }
}
