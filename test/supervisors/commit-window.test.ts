/**
 * The opt-in commit window (`commit.windowMs`) on real databases (PostgreSQL server and PGlite):
 * repeated updates of one actor within a window are saved once, `maxBatch` dirty actors flush
 * before the window, asks and whenIdle do not wait for it, effects are released after the
 * windowed commit. Time is a SimulatedClock: nothing here sleeps.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { setImmediate } from "node:timers";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { migrate } from "../../db/migrate.ts";
import { DeadLetterStore } from "../../db/dead-letter-store.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { uniqueName } from "../support/env.ts";
import { createLedgerTable, ledgerKind, newKnobs, persistedEntries, type LedgerKnobs } from "./test-kinds.ts";
import type { ActorKind, KindOptions, SaveResult } from "../../supervisors/actor-kind.ts";
import type { LedgerState } from "./test-kinds.ts";
import type { Db } from "../../db/db.ts";

const log = pino({ level: "silent" });

/** Waits (I/O turns, not clock time) until `pred` holds; fails naming `what` after 10 s. */
async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await turn();
  }
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Fixture {
  system: ActorSystem;
  clock: SimulatedClock;
  knobs: LedgerKnobs;
  table: string;
  db: Db;
  /** Entity ids of each `save` call (one per transaction), in order. */
  saves: string[][];
}

for (const engine of testEngines) {
  const t = suite(`commit window (${engine.name})`);
  const fx = lazyDatabase(engine, async (db) => {
    await migrate(db, { maxVersion: 99 });
  });
  const systems: ActorSystem[] = [];

  async function setup(commit: Partial<KindOptions["commit"]>, afterSave?: (entries: readonly { entityId: string }[]) => SaveResult | void): Promise<Fixture> {
    const db = await fx.get();
    const table = uniqueName("ledger");
    await createLedgerTable(db, table);
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const knobs = newKnobs();
    const saves: string[][] = [];
    const base = ledgerKind({ table, knobs, options: { commit: { maxBatch: 500, ...commit } } });
    const counted: ActorKind<LedgerState, unknown> = {
      ...base,
      async save(tx, entries) {
        saves.push(entries.map((e) => e.entityId));
        await base.save(tx, entries);
        return afterSave?.(entries);
      },
    };
    const system = new ActorSystem({ db, clock, log, deadLetters: new DeadLetterStore(db) });
    system.register(counted);
    await system.start();
    systems.push(system);
    return { system, clock, knobs, table, db, saves };
  }

  /** Tells `count` appends to `id`, one burst each (the previous one processed and settled). */
  async function appendInSeparateBursts(f: Fixture, id: string, from: number, count: number, waitForCommit = false): Promise<void> {
    for (let n = from; n < from + count; n++) {
      const before = f.system.stats("ledger").processed;
      f.system.tell("ledger", id, "append", { n });
      await until(() => f.system.stats("ledger").processed === before + 1, `append ${n} processed`);
      // Give an end-of-burst committer its turn: without a window each append is its own save.
      await turn();
      await turn();
      if (waitForCommit) await until(async () => !(await f.system.inspect("ledger", id)).pendingCommit, `append ${n} committed`);
    }
  }

  t.after(async () => {
    for (const s of systems) await s.stop();
    await fx.drop();
  });

  t("commit window - 10 messages to one actor in separate bursts within the window are saved once", async () => {
    const f = await setup({ windowMs: 250 });
    await appendInSeparateBursts(f, "hot", 0, 10);
    assert.equal(f.saves, [], "nothing saved before the window elapses");
    assert.is(await persistedEntries(f.db, f.table, "hot"), undefined);
    assert.is((await f.system.inspect("ledger", "hot")).pendingCommit, true);
    assert.is(f.system.stats("ledger").waitingCommit, 1);
    await f.clock.advance(250);
    await until(async () => f.saves.length === 1 && !(await f.system.inspect("ledger", "hot")).pendingCommit, "the windowed commit");
    await f.system.whenIdle();
    assert.equal(f.saves, [["hot"]]);
    assert.equal(await persistedEntries(f.db, f.table, "hot"), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // The next messages open a new window: one more save for all of them.
    await appendInSeparateBursts(f, "hot", 10, 5);
    assert.is(f.saves.length, 1);
    await f.clock.advance(249);
    await turn();
    assert.is(f.saves.length, 1, "not before the window has elapsed");
    await f.clock.advance(1);
    await until(() => f.saves.length === 2, "the second window's commit");
    await f.system.whenIdle();
    assert.equal(f.saves, [["hot"], ["hot"]]);
    assert.equal(await persistedEntries(f.db, f.table, "hot"), Array.from({ length: 15 }, (_, i) => i));
    assert.is(f.system.stats("ledger").commits, 2);
  });

  t("commit window - without a window each burst is saved on its own (the default is unchanged)", async () => {
    const f = await setup({});
    await appendInSeparateBursts(f, "hot", 0, 10, true);
    await f.system.whenIdle();
    assert.is(f.saves.length, 10);
    assert.equal(await persistedEntries(f.db, f.table, "hot"), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  t("commit window - maxBatch dirty actors flush before the window elapses", async () => {
    const f = await setup({ windowMs: 10_000, maxBatch: 3 });
    f.system.tell("ledger", "a", "append", { n: 1 });
    f.system.tell("ledger", "b", "append", { n: 2 });
    await until(() => f.system.stats("ledger").processed === 2, "two appends processed");
    await turn();
    assert.equal(f.saves, []);
    f.system.tell("ledger", "c", "append", { n: 3 });
    await until(async () => f.saves.length === 1 && !(await f.system.inspect("ledger", "c")).pendingCommit, "the full batch's commit");
    assert.equal([...f.saves[0]].sort(), ["a", "b", "c"]);
    assert.equal(await persistedEntries(f.db, f.table, "c"), [3]);
    assert.is(f.clock.now(), Date.UTC(2026, 0, 1), "the clock did not move");
  });

  t("commit window - an ask is answered after one commit without waiting for the window", async () => {
    const f = await setup({ windowMs: 10_000 });
    f.system.tell("ledger", "x", "append", { n: 1 });
    const reply = await f.system.ask("ledger", "x", "append", { n: 2 }, { timeoutMs: 60_000 });
    assert.is(reply, 2);
    assert.equal(await persistedEntries(f.db, f.table, "x"), [1, 2]);
    assert.is(f.saves.length, 1);
  });

  t("commit window - whenIdle flushes the window under a SimulatedClock", async () => {
    const f = await setup({ windowMs: 10_000 });
    await appendInSeparateBursts(f, "w", 0, 3);
    assert.equal(f.saves, []);
    await f.system.whenIdle();
    assert.equal(f.saves, [["w"]]);
    assert.equal(await persistedEntries(f.db, f.table, "w"), [0, 1, 2]);
    // Messages told after whenIdle was called are not held by the window while it is awaited.
    const idle = f.system.whenIdle();
    f.system.tell("ledger", "w", "append", { n: 3 });
    await idle;
    await f.system.whenIdle();
    assert.equal(await persistedEntries(f.db, f.table, "w"), [0, 1, 2, 3]);
    // Once nobody awaits, the window applies again.
    await appendInSeparateBursts(f, "w", 4, 2);
    const saved = f.saves.length;
    await turn();
    assert.is(f.saves.length, saved);
    await f.clock.advance(10_000);
    await until(() => f.saves.length === saved + 1, "the window's commit");
    await f.system.whenIdle();
    assert.equal(await persistedEntries(f.db, f.table, "w"), [0, 1, 2, 3, 4, 5]);
  });

  t("commit window - tells of windowed messages are released only after the commit", async () => {
    const f = await setup({ windowMs: 500 });
    f.system.tell("ledger", "from", "forward", { n: 7, kind: "ledger", to: "to" });
    await until(() => f.system.stats("ledger").processed === 1, "forward processed");
    await turn();
    await turn();
    assert.not.ok(f.knobs.handled.includes("to:append"), "the tell waits for the commit");
    await f.clock.advance(500);
    await until(() => f.knobs.handled.includes("to:append"), "the released tell");
    await f.system.whenIdle();
    assert.equal(await persistedEntries(f.db, f.table, "from"), [7]);
    assert.equal(await persistedEntries(f.db, f.table, "to"), [7]);
  });

  t("commit window - the tells a group's save returns are sent once per group, only after its commit", async () => {
    // Every group but the counter's own tells the counter how many actors it saved.
    const f = await setup({ windowMs: 500 }, (entries) =>
      entries.some((e) => e.entityId === "count") ? undefined : { tells: [{ kind: "ledger", id: "count", type: "append", body: { n: entries.length } }] },
    );
    for (const id of ["a", "b", "c"]) f.system.tell("ledger", id, "append", { n: 1 });
    await until(() => f.system.stats("ledger").processed === 3, "three appends processed");
    await turn();
    assert.not.ok(f.knobs.handled.includes("count:append"), "nothing is told before the commit");
    await f.clock.advance(500);
    await f.system.whenIdle();
    assert.equal(f.knobs.handled.filter((h) => h === "count:append"), ["count:append"], "one tell for the group of three");
    assert.equal(await persistedEntries(f.db, f.table, "count"), [3]);
  });

  t("commit window - stop commits what waits for the window", async () => {
    const f = await setup({ windowMs: 60_000 });
    await appendInSeparateBursts(f, "s", 0, 3);
    assert.equal(f.saves, []);
    await f.system.stop();
    assert.equal(f.saves, [["s"]]);
    assert.equal(await persistedEntries(f.db, f.table, "s"), [0, 1, 2]);
  });

  t.run();
}
