/**
 * The fast path of AtomCreated and TripleCreated (events-fast-path.ts, normalizeCreationEvent)
 * against the zod schemas, which stay the definition: on the generator's creation events and on
 * every field of them mutated, it either declines (null: the schemas decide and name the error)
 * or returns exactly what the schemas return; and it takes every well-formed one.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { normalizeEventWithSchemas, normalizeEvent, type VaultEvent } from "../../../actors/vault-term/events.ts";
import { normalizeCreationEvent } from "../../../actors/vault-term/events-fast-path.ts";

const CREATION = new Set(["AtomCreated", "TripleCreated"]);

function samples(): { name: string; data: Record<string, unknown> }[] {
  const out: { name: string; data: Record<string, unknown> }[] = [];
  for (const m of generateEvents({ seed: 11, atoms: 30, triples: 20, accounts: 12, events: 100 })) {
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
  const out: unknown[] = [undefined, null, "", "0x", "0X", "0", "0g", "00", "0x00", "0XaB", -1, 1.5, 2 ** 60, 3, 0, "12a", "0012", true, {}, [], "NaN"];
  if (typeof value === "string") {
    out.push(value.toUpperCase(), value.toLowerCase(), value.replace(/^0x/, ""), "0x" + value, "0X" + value, value.replace(/^0x/, "0X"), value + "0", value + "00", value.slice(0, -1), value.slice(0, -2), ` ${value}`, value + "zz");
    if (/^[0-9]+$/.test(value)) out.push(Number(value), value + "000000000000000000000");
  }
  if (typeof value === "number") out.push(String(value), `0x${value.toString(16)}`, value + 0.5, -value, Number.MAX_SAFE_INTEGER + 2);
  return out;
}

test("creation fast path - takes every well-formed AtomCreated and TripleCreated and returns what the schemas return", () => {
  const taken = new Map<string, number>();
  for (const { name, data } of samples()) {
    const fast = normalizeCreationEvent(name, data);
    if (!CREATION.has(name)) {
      assert.is(fast, null, `${name} is not a creation event`);
      continue;
    }
    assert.ok(fast, `${name} taken by the fast path`);
    assert.equal(fast, bySchemas(name, data));
    assert.equal(normalizeEvent(name, data), bySchemas(name, data));
    taken.set(name, (taken.get(name) ?? 0) + 1);
  }
  assert.ok((taken.get("AtomCreated") ?? 0) >= 30 && (taken.get("TripleCreated") ?? 0) >= 20, `both kinds taken (${[...taken]})`);
});

test("creation fast path - every mutated field either falls back to the schemas or agrees with them", () => {
  let declined = 0;
  let agreed = 0;
  const seen = new Set<string>();
  // One text atom, one binary atom (a NUL: atom_data null) and one triple.
  const picks = samples().filter((s) => CREATION.has(s.name));
  const chosen = [
    picks.find((s) => s.name === "AtomCreated" && !String(s.data.atomData).startsWith("00"))!,
    picks.find((s) => s.name === "AtomCreated" && String(s.data.atomData).startsWith("00"))!,
    picks.find((s) => s.name === "TripleCreated")!,
  ];
  for (const { name, data } of chosen) {
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
        const fast = normalizeCreationEvent(name, mutated);
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
    assert.equal(normalizeCreationEvent(name, { ...data, extra: 1 }), bySchemas(name, data), "extra fields are dropped by both");
  }
  assert.equal([...seen].sort(), [...CREATION].sort());
  assert.ok(declined > 50 && agreed > 30, `both outcomes exercised (${declined} declined, ${agreed} agreed)`);
});

test("creation fast path - a bad creation event still gets the schemas' error naming the field", () => {
  const atom = samples().find((s) => s.name === "AtomCreated")!.data;
  assert.throws(() => normalizeEvent("AtomCreated", { ...atom, atomData: "abc" }), /atomData/);
  assert.throws(() => normalizeEvent("AtomCreated", { ...atom, atomWallet: "0x12" }), /atomWallet/);
  const triple = samples().find((s) => s.name === "TripleCreated")!.data;
  assert.throws(() => normalizeEvent("TripleCreated", { ...triple, objectId: "0x12" }), /objectId/);
});

test.run();
