/**
 * The hand-checked fast path of normalizeEvent (events-fast-path.ts) against the zod schemas,
 * which stay the definition: on the generator's events and on every field of them mutated, the
 * fast path either declines (null: the schemas decide and name the error) or returns exactly
 * what the schemas return. It must also take the well-formed common events (else it is dead code).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { normalizeEventWithSchemas, normalizeEvent, type VaultEvent } from "../../../actors/vault-term/events.ts";
import { normalizeCommonEvent } from "../../../actors/vault-term/events-fast-path.ts";
import { parseRindexerMessage } from "../../../actors/vault-term/rindexer-entry.ts";

const COMMON = new Set(["Deposited", "Redeemed", "SharePriceChanged"]);

function samples(): { name: string; data: Record<string, unknown> }[] {
  const out: { name: string; data: Record<string, unknown> }[] = [];
  for (const m of generateEvents({ seed: 7, atoms: 20, triples: 15, accounts: 12, events: 400 })) {
    const list = Array.isArray(m.event_data) ? m.event_data : [m.event_data];
    for (const data of list) out.push({ name: m.event_name, data: data as Record<string, unknown> });
  }
  return out;
}

function bySchemas(name: string, data: unknown): VaultEvent | Error {
  try {
    return normalizeEventWithSchemas(name, data);
  } catch (err) {
    return err as Error;
  }
}

/** Values a field may be mutated to: wrong types, edge numbers, other spellings of a valid value. */
function variants(value: unknown): unknown[] {
  const out: unknown[] = [undefined, null, "", "0x", "0X", -1, 1.5, 2 ** 60, 3, 0, "12a", "0012", true, {}, [], "NaN"];
  if (typeof value === "string") {
    out.push(value.toUpperCase(), value.toLowerCase(), value.replace(/^0x/, ""), value.replace(/^0x/, "0X"), value + "0", value.slice(0, -1), ` ${value}`);
    if (/^[0-9]+$/.test(value)) out.push(Number(value), value + "000000000000000000000");
  }
  if (typeof value === "number") out.push(String(value), `0x${value.toString(16)}`, value + 0.5, -value, Number.MAX_SAFE_INTEGER + 2);
  return out;
}

test("events fast path - takes every well-formed common event and returns what the schemas return", () => {
  let taken = 0;
  for (const { name, data } of samples()) {
    const fast = normalizeCommonEvent(name, data);
    if (!COMMON.has(name)) {
      assert.is(fast, null, `${name} is left to the schemas`);
      continue;
    }
    assert.ok(fast, `${name} taken by the fast path`);
    assert.equal(fast, bySchemas(name, data));
    taken++;
  }
  assert.ok(taken > 300, `most generated events are common ones (${taken})`);
});

test("events fast path - every mutated field either falls back to the schemas or agrees with them", () => {
  let declined = 0;
  let agreed = 0;
  const seen = new Set<string>();
  for (const { name, data } of samples()) {
    if (!COMMON.has(name) || seen.has(name)) continue;
    seen.add(name);
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
        const fast = normalizeCommonEvent(name, mutated);
        const reference = bySchemas(name, mutated);
        if (fast === null) {
          declined++;
          continue;
        }
        assert.not.instance(reference, Error, `${name} ${path.join(".")}=${JSON.stringify(v)}: the fast path accepted what the schemas refuse`);
        assert.equal(fast, reference, `${name} ${path.join(".")}=${JSON.stringify(v)}`);
        agreed++;
      }
    }
    // Extra fields are dropped by both.
    assert.equal(normalizeCommonEvent(name, { ...data, extra: 1 }), bySchemas(name, data));
  }
  assert.equal([...seen].sort(), [...COMMON].sort());
  assert.ok(declined > 50 && agreed > 20, `both outcomes exercised (${declined} declined, ${agreed} agreed)`);
});

test("events fast path - a bad event still gets the schemas' error naming the field", () => {
  const { data } = samples().find((s) => s.name === "Deposited")!;
  assert.throws(() => normalizeEvent("Deposited", { ...data, sender: "0x12" }), /sender/);
  assert.throws(() => normalizeEvent("Deposited", { ...data, assets: "-5" }), /assets/);
});

test("rindexer message fast path - a malformed message is still refused by the schema with its field named", () => {
  const [bad] = parseRindexerMessage("1-0", { event_name: "Deposited", event_data: "nope" });
  assert.is(bad.ok, false);
  assert.match(!bad.ok ? bad.error.message : "", /event_data/);
  const [noName] = parseRindexerMessage("1-1", { event_name: "", event_data: {} });
  assert.is(noName.ok, false);
  assert.match(!noName.ok ? noName.error.message : "", /event_name/);
});

test.run();
