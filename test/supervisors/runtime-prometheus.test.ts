/** The runtime's Prometheus metrics, read from the exposition text of a real registry. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { createMetrics } from "../../supervisors/observability/metrics.ts";
import { registerActorGauges, runtimeMetrics } from "../../supervisors/runtime-prometheus.ts";
import { createPgliteTestDatabase } from "../support/databases.ts";
import { createLedgerTable, ledgerKind, newKnobs } from "./test-kinds.ts";

test("runtime metrics - messages, commits and per-kind gauges appear in the exposition text", async () => {
  const fx = await createPgliteTestDatabase();
  try {
    await createLedgerTable(fx.db, "ledger_metrics");
    const metrics = createMetrics({ defaultMetrics: false });
    const system = new ActorSystem({ db: fx.db, clock: new SimulatedClock(0), log: pino({ level: "silent" }), metrics: runtimeMetrics(metrics) });
    system.register(ledgerKind({ table: "ledger_metrics", knobs: newKnobs() }));
    registerActorGauges(metrics, system);
    await system.start();
    for (let n = 0; n < 5; n++) system.tell("ledger", "m", "append", { n });
    system.tell("ledger", "m", "append", { n: "bad" });
    await system.whenIdle();
    const text = await metrics.text();
    assert.match(text, /strata_actor_messages_total\{kind="ledger",outcome="ok"\} 5/);
    assert.match(text, /strata_actor_messages_total\{kind="ledger",outcome="dead_letter"\} 1/);
    assert.match(text, /strata_group_commit_actors_count\{kind="ledger"\} [1-5]\b/);
    assert.match(text, /strata_actors_resident\{kind="ledger"\} 1/);
    assert.match(text, /strata_actor_dead_letters\{kind="ledger"\} 1/);
    await system.stop();
  } finally {
    await fx.drop();
  }
});

test.run();
