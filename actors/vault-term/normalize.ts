/**
 * Normalisation primitives for rindexer's MultiVault messages (pure, no I/O).
 *
 * - ensureHexPrefix: `0x` added when missing; an existing `0x`/`0X` prefix is kept as received.
 * - parseLogIndex (decision 5): `0x…` → hex, plain digits → decimal, anything else → InputError.
 * - parseHexTimestamp: `0x68b18674` → 1756464756 (seconds since the epoch).
 * - checksumAddress: 40 hex digits (with or without 0x, any case) → EIP-55; otherwise InputError.
 * - counterTermId: keccak256(COUNTER_SALT ‖ termId bytes) with COUNTER_SALT = keccak256("COUNTER_SALT").
 * - decodeAtomData: hex bytes (rindexer sends them without 0x) → UTF-8 text when valid, else null.
 * - Bounds (docs/vault-term.md, "Bounds (stop 11)"): isUint256 (0 … 2^256 − 1, what the contract
 *   can emit and what fits NUMERIC(78,0)) and checkBlockTimestamp (0 … MAX_BLOCK_TIMESTAMP); text
 *   fields are checked with db/sql.ts textProblem (U+0000 or a lone UTF-16 surrogate).
 */
import { getAddress, keccak256, toUtf8Bytes, getBytes } from "ethers";
import { InputError } from "../../protocols/errors.ts";
import { BoundedMemo } from "./bounded-memo.ts";

export function ensureHexPrefix(value: string): string {
  return value.startsWith("0x") || value.startsWith("0X") ? value : "0x" + value;
}

const HEX_DIGITS = /^[0-9a-fA-F]+$/;
const DEC_DIGITS = /^[0-9]+$/;

/** Parse a 0x-hex or decimal-digit string as a non-negative safe integer. */
export function parseLogIndex(value: string | number, what = "log_index"): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new InputError(`${what}: expected a non-negative integer, got ${value}`, { code: "bad_log_index" });
  }
  let n: number;
  if (value.startsWith("0x") && HEX_DIGITS.test(value.slice(2))) n = parseInt(value.slice(2), 16);
  else if (DEC_DIGITS.test(value)) n = parseInt(value, 10);
  else throw new InputError(`${what}: expected 0x-hex or decimal digits, got ${JSON.stringify(value)}`, { code: "bad_log_index" });
  if (!Number.isSafeInteger(n)) throw new InputError(`${what}: ${JSON.stringify(value)} is too large`, { code: "bad_log_index" });
  return n;
}

/** The largest uint256: amounts above it cannot come from the contract (and 10^78 − 1 is NUMERIC(78,0)'s limit). */
export const UINT256_MAX = 2n ** 256n - 1n;
const UINT256_MAX_DIGITS = UINT256_MAX.toString().length; // 78

/** Whether a string of decimal digits (already checked) is at most 2^256 − 1 (leading zeros allowed). */
export function isUint256(digits: string): boolean {
  return digits.length < UINT256_MAX_DIGITS || BigInt(digits) <= UINT256_MAX;
}

/**
 * The latest block timestamp accepted: 9999-12-31T23:59:59Z. PostgreSQL's timestamptz (to_timestamp)
 * stops at 294276 AD and a JavaScript Date at 275760 AD; four-digit years are what every client of
 * the tables reads back without surprise, and a chain's clock is far below either.
 */
export const MAX_BLOCK_TIMESTAMP = 253_402_300_799;

/** A block timestamp in seconds, checked against 0 … MAX_BLOCK_TIMESTAMP. */
export function checkBlockTimestamp(seconds: number, what = "block_timestamp", received: unknown = seconds): number {
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_BLOCK_TIMESTAMP) {
    throw new InputError(`${what}: ${JSON.stringify(received)} is outside 0 … ${MAX_BLOCK_TIMESTAMP} seconds (9999-12-31T23:59:59Z)`, { code: "bad_timestamp" });
  }
  return seconds;
}

/** `0x`-hex seconds → seconds (0 … MAX_BLOCK_TIMESTAMP). */
export function parseHexTimestamp(value: string, what = "block_timestamp"): number {
  if (!/^0[xX][0-9a-fA-F]+$/.test(value)) throw new InputError(`${what}: expected 0x-hex seconds, got ${JSON.stringify(value)}`, { code: "bad_timestamp" });
  const n = parseInt(value.slice(2), 16);
  if (!Number.isSafeInteger(n)) throw new InputError(`${what}: ${JSON.stringify(value)} is too large`, { code: "bad_timestamp" });
  return checkBlockTimestamp(n, what, value);
}

// EIP-55 needs a keccak per address (~25 µs in JS); accounts repeat, so results are memoised by
// the address as received (its validation and lower-casing are skipped too), bounded: cleared
// when full, which only costs recomputation.
export const CHECKSUM_MEMO_LIMIT = 100_000;
const checksums = new BoundedMemo<string>(CHECKSUM_MEMO_LIMIT);

/** EIP-55 checksum of a 40-hex-digit address (input case ignored). */
export function checksumAddress(value: string, what = "address"): string {
  const known = checksums.get(value);
  if (known !== undefined) return known;
  const hex = value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value;
  if (hex.length !== 40 || !HEX_DIGITS.test(hex)) {
    throw new InputError(`${what}: expected 40 hex digits, got ${JSON.stringify(value)}`, { code: "bad_address" });
  }
  const out = getAddress("0x" + hex.toLowerCase());
  checksums.set(value, out);
  return out;
}

/** How many checksums are memoised (never above CHECKSUM_MEMO_LIMIT). */
export function checksumMemoSize(): number {
  return checksums.size;
}

export const COUNTER_SALT = keccak256(toUtf8Bytes("COUNTER_SALT"));
const COUNTER_SALT_BYTES = getBytes(COUNTER_SALT);

/** The counter (against) term of a triple: keccak256(COUNTER_SALT ‖ termId), lower-case 0x + 64 hex. */
export function counterTermId(termId: string): string {
  const hex = termId.startsWith("0x") || termId.startsWith("0X") ? termId.slice(2) : termId;
  if (hex.length !== 64 || !HEX_DIGITS.test(hex)) throw new InputError(`termId: expected bytes32 (64 hex digits), got ${JSON.stringify(termId)}`, { code: "bad_term_id" });
  const input = new Uint8Array(64);
  input.set(COUNTER_SALT_BYTES, 0);
  input.set(hexToBytes(hex), 32);
  return keccak256(input);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes of an even-length hex string (0x optional). */
export function hexToBytes(value: string, what = "bytes"): Uint8Array {
  const hex = value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value;
  if (hex.length % 2 !== 0 || (hex.length > 0 && !HEX_DIGITS.test(hex))) {
    throw new InputError(`${what}: expected an even number of hex digits`, { code: "bad_bytes" });
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** UTF-8 text of the bytes, or null when they are not valid UTF-8 or hold a NUL (TEXT cannot). */
export function decodeAtomData(bytes: Uint8Array): string | null {
  try {
    const text = utf8.decode(bytes);
    return text.includes("\u0000") ? null : text;
  } catch {
    return null;
  }
}
