/**
 * The hand-checked fast path of normalizeEvent (events-fast-path.ts) against the zod schemas,
 * which stay the definition: on the generator's events and on every field of them mutated, the
 * fast path either declines (null: the schemas decide and name the error) or returns exactly
 * what the schemas return. It must also take the well-formed common events (else it is dead code).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { normalizeEvent } from "../../../actors/vault-term/events.ts";
import { normalizeCommonEvent } from "../../../actors/vault-term/events-fast-path.ts";
import { bySchemas, checkMutations, samples } from "./fast-path-fixture.ts";
import { parseRindexerMessage } from "../../../actors/vault-term/rindexer-entry.ts";

const COMMON = new Set(["Deposited", "Redeemed", "SharePriceChanged"]);

const generated = () => samples({ seed: 7, atoms: 20, triples: 15, accounts: 12, events: 400 });

test("events fast path - takes every well-formed common event and returns what the schemas return", () => {
  let taken = 0;
  for (const { name, data } of generated()) {
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
  for (const { name, data } of generated()) {
    if (!COMMON.has(name) || seen.has(name)) continue;
    seen.add(name);
    const counts = checkMutations(normalizeCommonEvent, name, data);
    declined += counts.declined;
    agreed += counts.agreed;
    // Extra fields are dropped by both.
    assert.equal(normalizeCommonEvent(name, { ...data, extra: 1 }), bySchemas(name, data));
  }
  assert.equal([...seen].sort(), [...COMMON].sort());
  assert.ok(declined > 50 && agreed > 20, `both outcomes exercised (${declined} declined, ${agreed} agreed)`);
});

test("events fast path - a bad event still gets the schemas' error naming the field", () => {
  const { data } = generated().find((s) => s.name === "Deposited")!;
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
