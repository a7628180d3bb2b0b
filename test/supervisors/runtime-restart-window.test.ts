/**
 * A windowed kind (`commit.windowMs`) restarting an actor on real databases (PostgreSQL server and
 * PGlite): the restart reloads what is persisted, so it waits for the actor's earlier state to
 * commit — that state is flushed at once, not after the rest of its commit window (an ask to the
 * restarting actor stalled up to the 6 s window of the vault-term kind). SimulatedClock.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { setImmediate } from "node:timers";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
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
  const t = suite(`restart on a windowed kind (${engine.name})`);
  const fx = lazyDatabase(engine);
  const systems: ActorSystem[] = [];

  t.after(async () => {
    for (const s of systems) await s.stop();
    await fx.drop();
  });

  t("restart - an ask to an actor restarting after backoff does not wait for the commit window of its earlier state", async () => {
    const db = await fx.get();
    const table = uniqueName("ledger");
    await createLedgerTable(db, table);
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const knobs = newKnobs();
    const system = new ActorSystem({ db, clock, log, random: () => 0.5 });
    system.register(
      ledgerKind({ table, knobs, options: { commit: { maxBatch: 500, windowMs: 6000 }, restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 30_000, jitter: 0 } } }),
    );
    await system.start();
    systems.push(system);

    system.tell("ledger", "i", "append", { n: 1 }); // its state waits in the 6 s window
    await until(() => system.stats("ledger").waitingCommit === 1, "the first state in the window");
    knobs.failures.set("i", 1);
    let reply: unknown = "pending";
    void system.ask("ledger", "i", "append", { n: 2 }, { timeoutMs: 60_000 }).then(
      (r) => (reply = r),
      (err) => (reply = err),
    );
    await until(() => system.stats("ledger").restarts === 1, "the ask's first attempt to fail");
    assert.is((await system.inspect("ledger", "i")).status, "backoff");

    await clock.advance(100); // the backoff delay only: the window (6 s) is far off
    await until(() => reply !== "pending", "the ask to be answered after the restart");
    assert.is(reply, 2);
    assert.equal(await persistedEntries(db, table, "i"), [1, 2]);
    assert.equal(knobs.handled, ["i:append", "i:append", "i:append"]);
    assert.is(clock.now(), Date.UTC(2026, 0, 1) + 100);
  });

  t.run();
}
