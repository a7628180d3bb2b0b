/**
 * A default `strata config` (describe()) shows is a value a user can type back: setting the key
 * to the shown text loads the same value. POOL_COMMISSION_RATE's 2500 bps is shown as `0.25`.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../config/load-config.ts";
import { field } from "../../config/fields.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";

test("config - POOL_COMMISSION_RATE's default is shown as the rate 0.25, and 0.1234 as itself", () => {
  const shown = (env: Record<string, string>) => loadConfig(env, { sections: KIND_SECTIONS }).describe().find((e) => e.key === "POOL_COMMISSION_RATE");
  assert.equal(shown({}), { section: "worker-partition", key: "POOL_COMMISSION_RATE", value: "0.25", source: "default", description: "Pool commission as a decimal (0.25), kept exactly as basis points." });
  assert.is(shown({ POOL_COMMISSION_RATE: "0.1234" })?.value, "0.1234");
  assert.is(shown({ POOL_COMMISSION_RATE: "1" })?.value, "1");
  assert.is(shown({ POOL_COMMISSION_RATE: "0" })?.value, "0");
});

test("config - every default shown by describe() loads back to itself when typed", () => {
  const defaults = loadConfig({}, { sections: KIND_SECTIONS }).describe().filter((e) => e.source === "default");
  assert.ok(defaults.length > 20, `only ${defaults.length} defaults`);
  for (const e of defaults) {
    let again;
    try {
      again = loadConfig({ [e.key]: e.value }, { sections: KIND_SECTIONS }).describe().find((x) => x.key === e.key);
    } catch (err) {
      assert.unreachable(`${e.key}=${e.value} (its shown default) is refused: ${(err as Error).message}`);
    }
    assert.equal(again, { ...e, source: "env" }, e.key);
  }
});

test("config - basisPoints text round-trips for every rate from 0 to 1", () => {
  const f = field.basisPoints("RATE");
  for (let bps = 0; bps <= 10_000; bps++) assert.is(f.parse(f.asText!(bps)), bps);
  assert.is(f.asText!(2500), "0.25");
  assert.is(f.asText!(5), "0.0005");
  assert.is(f.asText!(10_000), "1");
});

test.run();
