/**
 * What the fast-path tests share (events-fast-path.test.ts, creation-fast-path.test.ts): the
 * generator's events as (name, data) samples, the zod schemas' answer, the values a field is
 * mutated to, and the check that a fast path, on every field of an event mutated, either declines
 * (null: the schemas decide and name the error) or returns exactly what the schemas return.
 */
import * as assert from "uvu/assert";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { normalizeEventWithSchemas, type VaultEvent } from "../../../actors/vault-term/events.ts";
import { MAX_BLOCK_TIMESTAMP, UINT256_MAX } from "../../../actors/vault-term/normalize.ts";

export type FastPath = (eventName: string, data: unknown) => VaultEvent | null;

export function samples(opts: Parameters<typeof generateEvents>[0]): { name: string; data: Record<string, unknown> }[] {
  const out: { name: string; data: Record<string, unknown> }[] = [];
  for (const m of generateEvents(opts)) {
    const list = Array.isArray(m.event_data) ? m.event_data : [m.event_data];
    for (const data of list) out.push({ name: m.event_name, data: data as Record<string, unknown> });
  }
  return out;
}

export function bySchemas(name: string, data: unknown): VaultEvent | Error {
  try {
    return normalizeEventWithSchemas(name, data);
  } catch (err) {
    return err as Error;
  }
}

/** Values a field may be mutated to: wrong types, edge numbers, other spellings of a valid value. */
export function variants(value: unknown): unknown[] {
  const out: unknown[] = [undefined, null, "", "0x", "0X", "0", "0g", "00", "0x00", "0XaB", -1, 1.5, 2 ** 60, 3, 0, "12a", "0012", true, {}, [], "NaN"];
  // Bounds (stop 11): uint256 around 2^256 and NUMERIC(78,0); block timestamps around
  // MAX_BLOCK_TIMESTAMP (253402300799 = 0x3afff4417f); text PostgreSQL cannot hold.
  out.push(UINT256_MAX.toString(), (UINT256_MAX + 1n).toString(), "1" + "0".repeat(78), "0".repeat(90) + "7", "9".repeat(77), "0".repeat(10) + (UINT256_MAX + 1n).toString());
  out.push(MAX_BLOCK_TIMESTAMP, MAX_BLOCK_TIMESTAMP + 1, "0x3afff4417f", "0x3afff44180", "0xffffffffffff", "0x" + "f".repeat(14));
  out.push("\u0000", "a\u0000b", "\ud800", "x\udc00", "\ud83d\ude00", "\udc00\ud800");
  if (typeof value === "string") {
    out.push(value + "\u0000", "\ud800" + value, value.toUpperCase(), value.toLowerCase(), value.replace(/^0x/, ""), "0x" + value, "0X" + value, value.replace(/^0x/, "0X"), value + "0", value + "00", value.slice(0, -1), value.slice(0, -2), ` ${value}`, value + "zz");
    if (/^[0-9]+$/.test(value)) out.push(Number(value), value + "000000000000000000000");
  }
  if (typeof value === "number") out.push(String(value), `0x${value.toString(16)}`, value + 0.5, -value, Number.MAX_SAFE_INTEGER + 2);
  return out;
}

/**
 * Every field of `data` (and of its transaction_information, and that object itself) set to each
 * variant or removed: the fast path declines or agrees with the schemas. Returns how often each.
 */
export function checkMutations(fast: FastPath, name: string, data: Record<string, unknown>): { declined: number; agreed: number } {
  let declined = 0;
  let agreed = 0;
  const mutate = (path: string[], value: unknown) => {
    const copy = structuredClone(data) as Record<string, unknown>;
    let target = copy;
    for (const p of path.slice(0, -1)) target = target[p] as Record<string, unknown>;
    if (value === undefined) delete target[path[path.length - 1]];
    else target[path[path.length - 1]] = value;
    return copy;
  };
  const tx = data.transaction_information as Record<string, unknown>;
  const paths = [...Object.keys(data).filter((k) => k !== "transaction_information").map((k) => [k]), ...Object.keys(tx).map((k) => ["transaction_information", k]), ["transaction_information"]];
  for (const path of paths) {
    const original = path.length === 1 ? data[path[0]] : tx[path[1]];
    for (const v of variants(original)) {
      const mutated = mutate(path, v);
      const answer = fast(name, mutated);
      const reference = bySchemas(name, mutated);
      if (answer === null) {
        declined++;
        continue;
      }
      assert.not.instance(reference, Error, `${name} ${path.join(".")}=${JSON.stringify(v)}: the fast path accepted what the schemas refuse`);
      assert.equal(answer, reference, `${name} ${path.join(".")}=${JSON.stringify(v)}`);
      agreed++;
    }
  }
  return { declined, agreed };
}
