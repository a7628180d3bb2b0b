/**
 * ActorSystem.stop() on real databases (PostgreSQL server and PGlite): a handler still running
 * when stop is called finishes its message and its state is committed before stop resolves (the
 * host closes the database right after), and a send() waiting for room in a full mailbox is
 * refused with ActorResetError instead of waiting forever. SimulatedClock: nothing sleeps.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { flushMicrotasks, SimulatedClock } from "../../supervisors/clock.ts";
import { ActorResetError } from "../../supervisors/runtime-errors.ts";
import { RetryableError } from "../../protocols/errors.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { uniqueName } from "../support/env.ts";
import { createLedgerTable, ledgerKind, newKnobs, persistedEntries, type LedgerKnobs } from "./test-kinds.ts";
import type { KindOptions } from "../../supervisors/actor-kind.ts";
import type { Db } from "../../db/db.ts";

const log = pino({ level: "silent" });

/** Waits (I/O turns, not clock time) until `pred` holds; fails naming `what` after 10 s. */
async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** How a promise ended so far: `pending`, `resolved`, or the rejection. */
function track(p: Promise<unknown>): { outcome: "pending" | "resolved" | unknown } {
  const t: { outcome: "pending" | "resolved" | unknown } = { outcome: "pending" };
  p.then(
    () => (t.outcome = "resolved"),
    (err) => (t.outcome = err),
  );
  return t;
}

for (const engine of testEngines) {
  const t = suite(`runtime stop (${engine.name})`);
  const fx = lazyDatabase(engine);
  const systems: ActorSystem[] = [];

  async function setup(options: Partial<KindOptions> = {}): Promise<{ system: ActorSystem; clock: SimulatedClock; knobs: LedgerKnobs; table: string; db: Db }> {
    const db = await fx.get();
    const table = uniqueName("ledger");
    await createLedgerTable(db, table);
    const knobs = newKnobs();
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const system = new ActorSystem({ db, clock, log, random: () => 0.5 });
    system.register(ledgerKind({ table, knobs, options }));
    await system.start();
    systems.push(system);
    return { system, clock, knobs, table, db };
  }

  t.after(async () => {
    for (const s of systems) await s.stop();
    await fx.drop();
  });

  t("stop - waits for a running handler and commits its state before it resolves", async () => {
    const { system, knobs, table, db } = await setup();
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    const asked = track(system.ask("ledger", "b", "append", { n: 1 }, { timeoutMs: 60_000 }));
    system.tell("ledger", "b", "append", { n: 2 }); // queued behind the running one: refused by stop
    await until(() => knobs.handled.includes("b:append"), "the handler to start");

    const stopped = track(system.stop());
    await flushMicrotasks(20);
    assert.is(stopped.outcome, "pending", "stop() resolved while a handler was still running");

    release();
    await until(() => stopped.outcome !== "pending", "stop() to resolve");
    assert.is(stopped.outcome, "resolved");
    // Committed before stop resolved: the host closes the database right after stop().
    assert.equal(await persistedEntries(db, table, "b"), [1]);
    assert.is(system.stats("ledger").commits, 1);
    await until(() => asked.outcome !== "pending", "the ask to settle");
    assert.is(asked.outcome, "resolved", "the running message's ask is answered after its commit");
    assert.equal(knobs.handled, ["b:append"], "the queued message is not handled after stop");
  });

  t("stop - a running handler that fails during stop: no restart is scheduled, its ask is refused", async () => {
    const { system, knobs, clock } = await setup({ restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 } });
    let fail!: (err: unknown) => void;
    knobs.gate = new Promise<void>((_, reject) => (fail = reject));
    const asked = track(system.ask("ledger", "f", "append", { n: 1 }, { timeoutMs: 60_000 }));
    await until(() => knobs.handled.includes("f:append"), "the handler to start");
    const stopped = track(system.stop());
    await flushMicrotasks(5);
    assert.is(stopped.outcome, "pending");
    fail(new RetryableError("fails while the system stops", { code: "flaky" }));
    await until(() => stopped.outcome !== "pending", "stop() to resolve");
    assert.instance(asked.outcome, ActorResetError);
    assert.is(clock.pending, 0, "no backoff timer left behind by stop");
    assert.equal(knobs.handled, ["f:append"]);
  });

  t("stop - a send() waiting for room in a full mailbox is refused with ActorResetError", async () => {
    // A broken actor in a long backoff (the SimulatedClock never reaches it) keeps its mailbox full.
    const { system, knobs } = await setup({ mailboxCapacity: 1, restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    knobs.broken.add("c");
    system.tell("ledger", "c", "append", { n: 1 });
    await until(() => knobs.handled.includes("c:append"), "the first attempt");
    await until(() => system.stats("ledger").restarts === 1, "the actor in backoff");

    const sent = track(system.send("ledger", "c", "append", { n: 2 }));
    await flushMicrotasks(5);
    assert.is(sent.outcome, "pending", "send() waits for room");

    await system.stop();
    await until(() => sent.outcome !== "pending", "the waiting send() to settle after stop");
    assert.instance(sent.outcome, ActorResetError);
    assert.equal(knobs.handled, ["c:append"]);
  });

  t.run();
}
