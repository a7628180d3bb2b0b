/**
 * The actor runtime on real databases (PostgreSQL server and PGlite): ordering, group commit,
 * passivation, supervision with backoff and escalation, dead letters, ask timeout, back-pressure.
 * Time is a SimulatedClock: nothing here sleeps.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import pg from "pg";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { migrate } from "../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../db/dead-letter-store.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { uniqueName } from "../support/env.ts";
import { freePort } from "../support/services.ts";
import { AskTimeoutError, ActorFailedError, CommitFailedError, MailboxFullError } from "../../supervisors/runtime-errors.ts";
import { InputError, RetryableError } from "../../protocols/errors.ts";
import { createLedgerTable, ledgerKind, newKnobs, persistedEntries, type LedgerKnobs } from "./test-kinds.ts";
import type { DeadLetterSink, KindOptions } from "../../supervisors/actor-kind.ts";
import type { Db } from "../../db/db.ts";

const log = pino({ level: "silent" });

/** The error pg gives for a server that is not there (a port nothing listens on). */
async function refusedConnectionError(): Promise<Error> {
  const client = new pg.Client({ host: "127.0.0.1", port: await freePort(), user: "strata", database: "none", connectionTimeoutMillis: 5_000 });
  // (No end(): a client whose connect failed holds no socket, and its end() never settles.)
  try {
    await client.connect();
  } catch (err) {
    return err as Error;
  }
  await client.end();
  throw new Error("a connection to a free port succeeded");
}

/** Waits (I/O turns, not clock time) until `pred` holds; fails naming `what` after 10 s. */
async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface Fixture {
  system: ActorSystem;
  clock: SimulatedClock;
  knobs: LedgerKnobs;
  table: string;
  db: Db;
}

for (const engine of testEngines) {
  const t = suite(`actor system (${engine.name})`);
  const fx = lazyDatabase(engine, async (db) => {
    await migrate(db, { maxVersion: 99 });
  });
  const systems: ActorSystem[] = [];

  async function setup(options: Partial<KindOptions> = {}, random: () => number = () => 0.5): Promise<Fixture> {
    const db = await fx.get();
    const table = uniqueName("ledger");
    await createLedgerTable(db, table);
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const knobs = newKnobs();
    const system = new ActorSystem({ db, clock, log, deadLetters: new DeadLetterStore(db), random });
    system.register(ledgerKind({ table, knobs, options }));
    await system.start();
    systems.push(system);
    return { system, clock, knobs, table, db };
  }

  t.after(async () => {
    for (const s of systems) await s.stop();
    await fx.drop();
  });

  t("ordering - 1,000 concurrent messages to one entity are applied in order exactly once", async () => {
    const { system, table, db } = await setup();
    const asks: Promise<unknown>[] = [];
    for (let n = 0; n < 1000; n++) {
      if (n % 10 === 9) asks.push(system.ask("ledger", "hot", "append", { n }, { timeoutMs: 60_000 }));
      else system.tell("ledger", "hot", "append", { n });
    }
    const replies = await Promise.all(asks);
    // The reply of message n is the length after it: n + 1.
    assert.equal(replies, Array.from({ length: 100 }, (_, i) => i * 10 + 10));
    await system.whenIdle();
    const expected = Array.from({ length: 1000 }, (_, i) => i);
    assert.equal(await persistedEntries(db, table, "hot"), expected);
    const stats = system.stats("ledger");
    assert.is(stats.processed, 1000);
    assert.is(stats.mailboxDepth, 0);
    assert.ok(stats.commits >= 1 && stats.commits < 1000, `group commit batches messages (commits: ${stats.commits})`);
  });

  t("ordering - messages to different entities run concurrently and commit together", async () => {
    const { system, table, db, knobs } = await setup();
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    const pending = Array.from({ length: 50 }, (_, i) => system.ask("ledger", `e${i}`, "append", { n: i }, { timeoutMs: 60_000 }));
    await until(() => knobs.handled.length === 50, "50 handlers to start");
    // All 50 handlers are inside `append` at once (each waits at the gate): they run concurrently.
    assert.is(knobs.handled.length, 50);
    assert.is(knobs.loads.length, 1, "the 50 activations were loaded with one query");
    release();
    assert.equal(await Promise.all(pending), Array(50).fill(1));
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "e49"), [49]);
    assert.ok(system.stats("ledger").commits <= 3, `50 actors commit in few transactions (${system.stats("ledger").commits})`);
  });

  t("passivation - idle actors are passivated and reactivation restores their state", async () => {
    const { system, clock, knobs } = await setup({ passivateAfterMs: 1000 });
    for (let n = 1; n <= 3; n++) system.tell("ledger", "p1", "append", { n });
    await system.whenIdle();
    assert.is(system.stats("ledger").resident, 1);
    await clock.advance(999);
    assert.is(system.stats("ledger").resident, 1, "not idle long enough yet");
    await clock.advance(1001);
    const stats = system.stats("ledger");
    assert.is(stats.resident, 0);
    assert.is(stats.passivations, 1);
    assert.is((await system.inspect("ledger", "p1")).status, "passive");
    const loadsBefore = knobs.loads.length;
    assert.equal(await system.ask("ledger", "p1", "get", {}, { timeoutMs: 1000 }), [1, 2, 3]);
    assert.is(knobs.loads.length, loadsBefore + 1, "state was reloaded from the database");
    assert.is(system.stats("ledger").activations, 2);
  });

  t("passivation - maxResident passivates the least recently used actor first", async () => {
    const { system } = await setup({ maxResident: 2 });
    system.tell("ledger", "a", "append", { n: 1 });
    system.tell("ledger", "b", "append", { n: 2 });
    await system.whenIdle();
    system.tell("ledger", "a", "append", { n: 3 }); // a is now the most recently used
    await system.whenIdle();
    system.tell("ledger", "c", "append", { n: 4 });
    await system.whenIdle();
    const stats = system.stats("ledger");
    assert.is(stats.resident, 2);
    assert.is((await system.inspect("ledger", "b")).status, "passive");
    assert.is((await system.inspect("ledger", "a")).status, "active");
    assert.equal(await system.ask("ledger", "b", "get", {}, { timeoutMs: 1000 }), [2]);
  });

  t("supervision - a retryable failure restarts the actor after backoff and retries the message", async () => {
    const { system, clock, knobs, table, db } = await setup({ restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 10_000, jitter: 0.2 } });
    system.tell("ledger", "r", "append", { n: 1 });
    await system.whenIdle();
    knobs.failures.set("r", 2);
    const reply = system.ask("ledger", "r", "append", { n: 2 }, { timeoutMs: 60_000 });
    await until(async () => (await system.inspect("ledger", "r")).status === "backoff", "first restart");
    let view = await system.inspect("ledger", "r");
    assert.is(view.status, "backoff");
    assert.is(view.restarts, 1);
    assert.is(view.lastError, "r fails (2 left)");
    assert.equal(clock.pendingDelays()[0], 100);
    await clock.advance(100);
    await until(async () => (await system.inspect("ledger", "r")).restarts === 2, "second restart");
    assert.ok(clock.pendingDelays().includes(200), `second delay doubles: ${clock.pendingDelays()}`);
    await clock.advance(200);
    assert.is(await reply, 2);
    await system.whenIdle();
    view = await system.inspect("ledger", "r");
    assert.is(view.status, "active");
    assert.equal(view.state, { entries: [1, 2] });
    assert.equal(await persistedEntries(db, table, "r"), [1, 2]);
    assert.equal(knobs.handled.filter((h) => h === "r:append").length, 4, "1 + 2 failed tries + 1 success");
  });

  t("supervision - restarts back off exponentially, then escalate: the actor is failed while another keeps working", async () => {
    const { system, clock, knobs, db } = await setup({ restart: { maxRestarts: 3, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 10_000, jitter: 0.2 } });
    knobs.broken.add("bad");
    const doomed = system.ask("ledger", "bad", "append", { n: 1 }, { timeoutMs: 600_000 }).then(() => undefined, (e: unknown) => e);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      await until(async () => (await system.inspect("ledger", "bad")).restarts === i + 1, `restart ${i + 1}`);
      const view = await system.inspect("ledger", "bad");
      assert.is(view.status, "backoff");
      const delay = (view.restartAt as number) - clock.now();
      delays.push(delay);
      // Meanwhile another actor of the kind is served normally.
      assert.is(await system.ask("ledger", "good", "append", { n: i }, { timeoutMs: 1000 }), i + 1);
      await clock.advance(delay);
    }
    assert.equal(delays, [100, 200, 400]);
    const err = await doomed;
    assert.instance(err, ActorFailedError);
    assert.is((err as ActorFailedError).retryable, false);
    const view = await system.inspect("ledger", "bad");
    assert.is(view.status, "failed");
    assert.is(view.lastError, "bad is broken");
    const stats = system.stats("ledger");
    assert.is(stats.failed, 1);
    assert.equal(stats.failedActors, ["bad"]);
    assert.is(stats.restarts, 3);
    // Further messages to the failed actor are dead-lettered and their asks rejected.
    const later = await system.ask("ledger", "bad", "append", { n: 2 }, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
    assert.instance(later, ActorFailedError);
    await system.whenIdle();
    const letters = (await listDeadLetters(db, { kind: "ledger" })).filter((l) => l.entityId === "bad");
    assert.is(letters.length, 2);
    assert.ok(letters.every((l) => l.error.includes("bad is broken")), letters.map((l) => l.error).join(" / "));
    assert.equal(await system.ask("ledger", "good", "get", {}, { timeoutMs: 1000 }), [0, 1, 2]);
    // Admin restart clears the failure; the next message activates it afresh.
    knobs.broken.delete("bad");
    assert.is(system.restart("ledger", "bad"), true);
    assert.is(system.stats("ledger").failed, 0);
    assert.is(await system.ask("ledger", "bad", "append", { n: 3 }, { timeoutMs: 1000 }), 1);
  });

  t("regression: a database outage of a few seconds failed actors for good - an unreachable dependency backs off without escalating", async () => {
    const { system, clock, knobs } = await setup({ restart: { maxRestarts: 3, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 1_000, jitter: 0 } });
    // A real refused connection: pg to a port nothing listens on.
    knobs.outage = await refusedConnectionError();
    const reply = system.ask("ledger", "o", "append", { n: 1 }, { timeoutMs: 600_000 });
    for (let i = 1; i <= 8; i++) {
      await until(async () => (await system.inspect("ledger", "o")).restarts === i, `restart ${i}`);
      const view = await system.inspect("ledger", "o");
      assert.is(view.status, "backoff", `restart ${i}: backing off, not failed`);
      assert.is(system.stats("ledger").failed, 0);
      if (i === 8) knobs.outage = null; // the dependency is back before the next try
      await clock.advance((view.restartAt as number) - clock.now());
    }
    assert.is(await reply, 1, "the message is applied once the dependency is back");
    // A bug-like failure still escalates as before (the outage did not change the policy).
    knobs.broken.add("b");
    system.tell("ledger", "b", "append", { n: 1 });
    for (let i = 1; i <= 3; i++) {
      await until(async () => (await system.inspect("ledger", "b")).restarts === i, `b restart ${i}`);
      const view = await system.inspect("ledger", "b");
      await clock.advance((view.restartAt as number) - clock.now());
    }
    await until(async () => (await system.inspect("ledger", "b")).status === "failed", "b failed");
  });

  t("supervision - restarts spread over more than the window do not escalate", async () => {
    const { system, clock, knobs } = await setup({ restart: { maxRestarts: 2, windowMs: 1000, baseDelayMs: 600, maxDelayMs: 600, jitter: 0 } });
    knobs.failures.set("slow", 4);
    const reply = system.ask("ledger", "slow", "append", { n: 7 }, { timeoutMs: 600_000 });
    for (let i = 0; i < 4; i++) {
      await until(async () => (await system.inspect("ledger", "slow")).restarts === i + 1, `restart ${i + 1}`);
      await clock.advance(600);
    }
    assert.is(await reply, 1);
    assert.is((await system.inspect("ledger", "slow")).restarts, 4);
    assert.is(system.stats("ledger").failed, 0);
  });

  t("supervision - a failing activation (load) is retried with backoff, then the message is applied", async () => {
    const { system, clock, knobs, db, table } = await setup({ restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 50, maxDelayMs: 1000, jitter: 0 } });
    knobs.loadFailures = 2;
    const reply = system.ask("ledger", "cold", "append", { n: 1 }, { timeoutMs: 60_000 });
    await until(async () => (await system.inspect("ledger", "cold")).restarts === 1, "first restart");
    assert.is((await system.inspect("ledger", "cold")).lastError, "database unavailable");
    await clock.advance(50);
    await until(async () => (await system.inspect("ledger", "cold")).restarts === 2, "second restart");
    await clock.advance(100);
    assert.is(await reply, 1);
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "cold"), [1]);
  });

  t("dead letters - a dead letter that cannot be stored is retried, never dropped", async () => {
    const base = await setup({ restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 } });
    // A second system whose sink writes to a table that does not exist yet.
    const db = base.db;
    const missing = uniqueName("no_dlq");
    const sink: DeadLetterSink = {
      record: async (letter) => {
        await db.query(`INSERT INTO ${missing} (kind, error) VALUES ($1, $2)`, [letter.kind, letter.error]);
      },
    };
    const clock = new SimulatedClock(0);
    const system = new ActorSystem({ db, clock, log, deadLetters: sink, random: () => 0.5 });
    system.register(ledgerKind({ table: base.table, knobs: newKnobs(), options: { restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 } } }));
    systems.push(system);
    system.tell("ledger", "dl", "append", { n: "bad" });
    system.tell("ledger", "dl", "append", { n: 2 });
    await until(async () => (await system.inspect("ledger", "dl")).status === "backoff", "the failed dead letter to restart the actor");
    assert.is((await system.inspect("ledger", "dl")).mailboxDepth, 2, "the bad message is kept, the good one waits behind it");
    await db.query(`CREATE TABLE ${missing} (kind text, error text)`);
    await clock.advance(100);
    await system.whenIdle();
    const rows = await db.query<{ error: string }>(`SELECT error FROM ${missing}`);
    assert.is(rows.rows.length, 1);
    assert.match(rows.rows[0].error, /ledger append: n: /);
    assert.equal(await persistedEntries(db, base.table, "dl"), [2]);
  });

  t("dead letters - a bad message reaches the dead-letter sink with its error while the next good one is processed", async () => {
    const { system, db, table } = await setup();
    system.tell("ledger", "d", "append", { n: 1 });
    system.tell("ledger", "d", "append", { n: "two" }, { source: "import:test.jsonl:2" });
    system.tell("ledger", "d", "reject", { reason: "not today" });
    const bad = system.ask("ledger", "d", "append", { x: 1 }, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
    system.tell("ledger", "d", "append", { n: 3 });
    assert.instance(await bad, InputError);
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "d"), [1, 3]);
    const letters = (await listDeadLetters(db, { kind: "ledger" })).filter((l) => l.entityId === "d").reverse();
    assert.is(letters.length, 3);
    assert.is(letters[0].source, "import:test.jsonl:2");
    assert.is(letters[0].errorCode, "validation");
    assert.match(letters[0].error, /^ledger append: n: /);
    assert.equal((letters[0].payload as { body: unknown }).body, { n: "two" });
    assert.is(letters[1].errorCode, "rejected");
    assert.is(letters[1].error, "rejected: not today");
    assert.is(letters[2].errorCode, "validation");
    assert.is(system.stats("ledger").deadLetters, 3);
  });

  t("ask - times out on the injected clock; the message is still applied", async () => {
    const { system, clock, knobs } = await setup();
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    const reply = system.ask("ledger", "slow", "append", { n: 1 }, { timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
    await until(() => knobs.handled.includes("slow:append"), "the handler to start");
    await clock.advance(4999);
    let settled = false;
    void reply.then(() => (settled = true));
    await clock.advance(0);
    assert.is(settled, false);
    await clock.advance(1);
    const err = await reply;
    assert.instance(err, AskTimeoutError);
    assert.is((err as AskTimeoutError).code, "ask_timeout");
    assert.is((err as AskTimeoutError).retryable, true);
    release();
    knobs.gate = null;
    await system.whenIdle();
    assert.equal(await system.ask("ledger", "slow", "get", {}, { timeoutMs: 1000 }), [1]);
  });

  t("group commit - a failed commit resets the actors of the batch and fails their asks retryably", async () => {
    const { system, db, table } = await setup();
    await system.ask("ledger", "x", "append", { n: 1 }, { timeoutMs: 1000 });
    await system.ask("ledger", "y", "append", { n: 10 }, { timeoutMs: 1000 });
    // Same burst, same transaction: y's poisoned state makes the database refuse the batch.
    const ax = system.ask("ledger", "x", "append", { n: 2 }, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
    const ay = system.ask("ledger", "y", "poison", {}, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e);
    const [ex, ey] = await Promise.all([ax, ay]);
    for (const e of [ex, ey]) {
      assert.instance(e, CommitFailedError);
      assert.is((e as CommitFailedError).retryable, true);
    }
    await system.whenIdle();
    const stats = system.stats("ledger");
    assert.is(stats.commitFailures, 1);
    assert.match(stats.lastError?.message ?? "", /group commit of 2 ledger actor\(s\) failed/);
    // Both actors were reset to what is persisted.
    assert.equal(await system.ask("ledger", "x", "get", {}, { timeoutMs: 1000 }), [1]);
    assert.equal(await system.ask("ledger", "y", "get", {}, { timeoutMs: 1000 }), [10]);
    assert.is(await system.ask("ledger", "x", "append", { n: 2 }, { timeoutMs: 1000 }), 2);
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "x"), [1, 2]);
    assert.equal(await persistedEntries(db, table, "y"), [10]);
  });

  t("group commit - tells of an actor are sent only after its commit, never after a failed one", async () => {
    const { system, db, table } = await setup();
    system.tell("ledger", "src", "forward", { n: 5, kind: "ledger", to: "dst" });
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "dst"), [5]);
    // A poisoned batch: the forward's tell must not go out.
    system.tell("ledger", "src", "poison", {});
    system.tell("ledger", "src", "forward", { n: 6, kind: "ledger", to: "dst" });
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "dst"), [5]);
    assert.equal(await persistedEntries(db, table, "src"), [5]);
  });

  t("back-pressure - a full mailbox rejects with a retryable error and shows in stats", async () => {
    const { system, knobs } = await setup({ mailboxCapacity: 3 });
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    for (let n = 0; n < 3; n++) system.tell("ledger", "full", "append", { n });
    let err: unknown;
    try {
      system.tell("ledger", "full", "append", { n: 3 });
    } catch (e) {
      err = e;
    }
    assert.instance(err, MailboxFullError);
    assert.ok(err instanceof RetryableError);
    const stats = system.stats("ledger");
    assert.is(stats.rejected, 1);
    assert.is(stats.maxMailboxDepth, 3);
    assert.is(stats.mailboxDepth, 3);
    release();
    knobs.gate = null;
    await system.whenIdle();
    assert.equal(await system.ask("ledger", "full", "get", {}, { timeoutMs: 1000 }), [0, 1, 2]);
    assert.is(system.stats("ledger").mailboxDepth, 0);
  });

  t("back-pressure - send waits for room instead of failing", async () => {
    const { system, db, table } = await setup({ mailboxCapacity: 4 });
    for (let n = 0; n < 100; n++) await system.send("ledger", "flow", "append", { n });
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "flow"), Array.from({ length: 100 }, (_, i) => i));
    assert.is(system.stats("ledger").rejected, 0, "send never surfaced a full mailbox");
    assert.ok(system.stats("ledger").peakMailboxDepth <= 4);
  });

  t("back-pressure - trySend sends while there is room and answers false on a full mailbox, refusing and counting nothing", async () => {
    const { system, knobs, db, table } = await setup({ mailboxCapacity: 3 });
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    const sent = [0, 1, 2, 3, 4].map((n) => system.trySend("ledger", "try", "append", { n }));
    assert.equal(sent, [true, true, true, false, false]);
    assert.is(system.stats("ledger").rejected, 0, "a full mailbox met by trySend is not a refusal");
    const waiting = system.send("ledger", "try", "append", { n: 3 }); // the caller's wait for room
    release();
    knobs.gate = null;
    await waiting;
    await system.whenIdle();
    assert.equal(await persistedEntries(db, table, "try"), [0, 1, 2, 3]);
    assert.throws(() => system.trySend("ledger", "try", "state", {}), /use ask/);
  });

  t("admin - restart reloads a resident actor from what is persisted", async () => {
    const { system, knobs } = await setup();
    await system.ask("ledger", "rr", "append", { n: 1 }, { timeoutMs: 1000 });
    await system.whenIdle();
    const loads = knobs.loads.length;
    assert.is(system.restart("ledger", "rr"), true);
    assert.equal(await system.ask("ledger", "rr", "get", {}, { timeoutMs: 1000 }), [1]);
    assert.is(knobs.loads.length, loads + 1);
    assert.is(system.restart("ledger", "never-seen"), false);
  });

  t("group commit - lanes commit partitions in parallel transactions, each actor in order", async () => {
    const { system, db, table } = await setup({ commit: { maxBatch: 50, lanes: engine.name === "postgres" ? 4 : 1 } });
    const ids = Array.from({ length: 40 }, (_, i) => `lane-${i}`);
    for (let n = 0; n < 25; n++) for (const id of ids) system.tell("ledger", id, "append", { n });
    await system.whenIdle();
    for (const id of ids) assert.equal(await persistedEntries(db, table, id), Array.from({ length: 25 }, (_, i) => i), id);
    assert.is(system.stats("ledger").processed, 1000);
  });

  t("admin - stop passivates one actor; inspect shows state, depth and status", async () => {
    const { system } = await setup();
    await system.ask("ledger", "s", "append", { n: 1 }, { timeoutMs: 1000 });
    const view = await system.inspect("ledger", "s");
    assert.equal(view, { kind: "ledger", id: "s", partition: view.partition, status: "active", state: { entries: [1] }, mailboxDepth: 0, restarts: 0, pendingCommit: false, lastError: null, restartAt: null });
    assert.is(await system.stop("ledger", "s"), true);
    assert.is((await system.inspect("ledger", "s")).status, "passive");
    assert.equal((await system.inspect("ledger", "s")).state, { entries: [1] });
    assert.is(await system.stop("ledger", "s"), false);
  });

  t.run();
}
