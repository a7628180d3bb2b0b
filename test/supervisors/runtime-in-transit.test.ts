/**
 * Messages a host sends over the transport to a partition it owns count as outstanding work
 * until they arrive (whenIdle). The count is per message, not per envelope id: the same id (a
 * caller's dedupe key) sent twice used to leave one counted forever and whenIdle never resolved.
 * In-process transport, `directLocal: false`, real databases (PostgreSQL server and PGlite).
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { createMemoryTransport } from "../../supervisors/transport/memory-transport.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { uniqueName } from "../support/env.ts";
import { createLedgerTable, ledgerKind, newKnobs, persistedEntries } from "./test-kinds.ts";

const log = pino({ level: "silent" });

/** Waits (I/O turns, not clock time) until `pred` holds; fails naming `what` after 10 s. */
async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const engine of testEngines) {
  const t = suite(`messages in transit to this host (${engine.name})`);
  const fx = lazyDatabase(engine);

  t.after(() => fx.drop());

  t("whenIdle - the same envelope id sent twice to an owned partition over the transport", async () => {
    const db = await fx.get();
    const table = uniqueName("ledger");
    await createLedgerTable(db, table);
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const transport = createMemoryTransport({ clock });
    const knobs = newKnobs();
    const system = new ActorSystem({ db, clock, log, transport, directLocal: false });
    system.register(ledgerKind({ table, knobs }));
    await system.start();
    try {
      system.tell("ledger", "e", "append", { n: 1 }, { id: "dedupe-key-1" });
      system.tell("ledger", "e", "append", { n: 2 }, { id: "dedupe-key-1" });
      let idle = false;
      void system.whenIdle().then(() => (idle = true));
      await until(() => idle, "whenIdle to resolve");
      // The in-process transport does not deduplicate (NATS core does not either): both arrive.
      assert.equal(await persistedEntries(db, table, "e"), [1, 2]);
      assert.equal(knobs.handled, ["e:append", "e:append"]);
    } finally {
      await system.stop();
      await transport.close();
    }
  });

  t.run();
}
