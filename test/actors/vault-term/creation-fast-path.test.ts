/**
 * The fast path of AtomCreated and TripleCreated (events-fast-path.ts, normalizeCreationEvent)
 * against the zod schemas, which stay the definition: on the generator's creation events and on
 * every field of them mutated, it either declines (null: the schemas decide and name the error)
 * or returns exactly what the schemas return; and it takes every well-formed one.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { normalizeEvent } from "../../../actors/vault-term/events.ts";
import { normalizeCreationEvent } from "../../../actors/vault-term/events-fast-path.ts";
import { bySchemas, checkMutations, samples } from "./fast-path-fixture.ts";

const CREATION = new Set(["AtomCreated", "TripleCreated"]);

const generated = () => samples({ seed: 11, atoms: 30, triples: 20, accounts: 12, events: 100 });

test("creation fast path - takes every well-formed AtomCreated and TripleCreated and returns what the schemas return", () => {
  const taken = new Map<string, number>();
  for (const { name, data } of generated()) {
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
  const picks = generated().filter((s) => CREATION.has(s.name));
  const chosen = [
    picks.find((s) => s.name === "AtomCreated" && !String(s.data.atomData).startsWith("00"))!,
    picks.find((s) => s.name === "AtomCreated" && String(s.data.atomData).startsWith("00"))!,
    picks.find((s) => s.name === "TripleCreated")!,
  ];
  for (const { name, data } of chosen) {
    seen.add(name);
    const counts = checkMutations(normalizeCreationEvent, name, data);
    declined += counts.declined;
    agreed += counts.agreed;
    assert.equal(normalizeCreationEvent(name, { ...data, extra: 1 }), bySchemas(name, data), "extra fields are dropped by both");
  }
  assert.equal([...seen].sort(), [...CREATION].sort());
  assert.ok(declined > 50 && agreed > 30, `both outcomes exercised (${declined} declined, ${agreed} agreed)`);
});

test("creation fast path - a bad creation event still gets the schemas' error naming the field", () => {
  const atom = generated().find((s) => s.name === "AtomCreated")!.data;
  assert.throws(() => normalizeEvent("AtomCreated", { ...atom, atomData: "abc" }), /atomData/);
  assert.throws(() => normalizeEvent("AtomCreated", { ...atom, atomWallet: "0x12" }), /atomWallet/);
  const triple = generated().find((s) => s.name === "TripleCreated")!.data;
  assert.throws(() => normalizeEvent("TripleCreated", { ...triple, objectId: "0x12" }), /objectId/);
});

test.run();
