/**
 * STRATA_SAMPLES (supervisors/kinds/bundled-samples.ts, pure): the bundled sample events load by
 * default only where they cannot reach a real ledger or chain; `on` with ETH_RPC_ENDPOINT is refused.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bundledSamples, refuseSamplesOnRealChain } from "../../../supervisors/kinds/bundled-samples.ts";
import { ConfigError } from "../../../config/fields.ts";

const PG = "postgres://strata@db.example:5432/strata";
const RPC = "https://rpc.example";

test("bundled samples - auto loads them only with the embedded database and the dev chain", () => {
  assert.is(bundledSamples("auto", {}).load, true);
  assert.equal(bundledSamples("auto", { databaseUrl: PG }), { load: false, why: "no bundled samples: DATABASE_URL is set (STRATA_SAMPLES=on loads them)" });
  assert.equal(bundledSamples("auto", { ethRpcEndpoint: RPC }), { load: false, why: "no bundled samples: ETH_RPC_ENDPOINT is set" });
  assert.is(bundledSamples("auto", { databaseUrl: PG, ethRpcEndpoint: RPC }).load, false);
});

test("bundled samples - on and off are taken as said", () => {
  assert.is(bundledSamples("on", { databaseUrl: PG }).load, true);
  assert.is(bundledSamples("off", {}).load, false);
});

test("bundled samples - on with a real chain is refused naming STRATA_SAMPLES; other combinations pass", () => {
  const err = (() => {
    try {
      refuseSamplesOnRealChain("on", RPC);
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.instance(err, ConfigError);
  assert.match((err as Error).message, /^STRATA_SAMPLES: on is refused with ETH_RPC_ENDPOINT set/);
  refuseSamplesOnRealChain("auto", RPC);
  refuseSamplesOnRealChain("off", RPC);
  refuseSamplesOnRealChain("on", undefined);
});

test.run();
