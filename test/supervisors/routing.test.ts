/**
 * Actors over a transport, the same suite on the in-process transport and on NATS (the server
 * the environment gives, testEnv.natsUrl, with a kind name per test): subjects, request/reply,
 * errors that keep their class across the wire, owned partitions, state requests, emitted
 * events, undecodable input, full mailboxes, whenIdle over the wire.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import type { Transport, TransportMessage } from "../../supervisors/transport/transport.ts";
import { createMemoryTransport } from "../../supervisors/transport/memory-transport.ts";
import { connectNatsTransport } from "../../supervisors/transport/nats-transport.ts";
import { migrate } from "../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../db/dead-letter-store.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { testEnv, uniqueName } from "../support/env.ts";
import { entitySubject } from "../../protocols/subject.ts";
import { partitionOf } from "../../protocols/partition.ts";
import { decodeEnvelope } from "../../protocols/envelope.ts";
import { InputError } from "../../protocols/errors.ts";
import { AskTimeoutError, MailboxFullError, NoRouteError } from "../../supervisors/runtime-errors.ts";
import { createLedgerTable, ledgerKind, newKnobs, persistedEntries, type LedgerKnobs } from "./test-kinds.ts";
import type { KindOptions } from "../../supervisors/actor-kind.ts";
import type { Db } from "../../db/db.ts";

const log = pino({ level: "silent" });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface TransportFactory {
  name: string;
  open(clock: SimulatedClock): Promise<Transport>;
  close(): Promise<void>;
}

function memoryFactory(): TransportFactory {
  return { name: "memory", open: async (clock) => createMemoryTransport({ clock }), close: async () => {} };
}

/** The NATS the environment gives (testEnv.natsUrl): every test uses a kind name of its own, so subjects never meet other runs'. */
function natsFactory(): TransportFactory {
  return {
    name: "nats",
    open: (clock) => connectNatsTransport(testEnv.natsUrl, { clock, name: "routing-test" }),
    close: async () => {},
  };
}

async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const pg = testEngines.find((e) => e.name === "postgres");
if (!pg) throw new Error("the postgres test engine is missing");

for (const factory of [memoryFactory(), natsFactory()]) {
  const t = suite(`routing (${factory.name})`);
  const fx = lazyDatabase(pg, async (db) => {
    await migrate(db, { maxVersion: 99 });
  });
  const cleanups: (() => Promise<void>)[] = [];

  interface Host {
    system: ActorSystem;
    knobs: LedgerKnobs;
  }
  interface World {
    db: Db;
    table: string;
    clock: SimulatedClock;
    transport: Transport;
    kind: string;
    host(opts?: { owned?: number[]; directLocal?: boolean; options?: Partial<KindOptions> }): Promise<Host>;
  }

  async function world(): Promise<World> {
    const db = await fx.get();
    const table = uniqueName("ledger");
    await createLedgerTable(db, table);
    const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
    const transport = await factory.open(clock);
    // A kind name of its own: NATS subjects of concurrent test runs never meet.
    const kind = uniqueName("ledger").replace(/_/g, "-");
    cleanups.push(() => transport.close());
    return {
      db,
      table,
      clock,
      transport,
      kind,
      async host(opts = {}) {
        const knobs = newKnobs();
        const system = new ActorSystem({
          db,
          clock,
          log,
          transport,
          deadLetters: new DeadLetterStore(db),
          ownedPartitions: opts.owned,
          directLocal: opts.directLocal ?? false,
        });
        system.register(ledgerKind({ name: kind, table, knobs, options: opts.options }));
        await system.start();
        cleanups.unshift(() => system.stop());
        return { system, knobs };
      },
    };
  }

  function record(transport: Transport, subject: string): TransportMessage[] {
    const seen: TransportMessage[] = [];
    transport.subscribe(subject, (msg) => {
      seen.push(msg);
    });
    return seen;
  }

  t.after(async () => {
    for (const c of cleanups) await c();
    await factory.close();
    await fx.drop();
  });

  t("routing - tell and ask travel on strata.<kind>.<partition>.<entity>.cmd.<type> with the envelope id header", async () => {
    const w = await world();
    const { system } = await w.host();
    const seen = record(w.transport, `strata.${w.kind}.>`);
    await w.transport.flush();
    const id = "transcode|eu-central";
    system.tell(w.kind, id, "append", { n: 1 });
    assert.is(await system.ask(w.kind, id, "append", { n: 2 }, { timeoutMs: 5000 }), 2);
    await system.whenIdle();
    const subject = entitySubject(w.kind, id, "cmd.append");
    assert.is(subject, `strata.${w.kind}.p10.transcode_7Ceu-central.cmd.append`);
    await until(() => seen.length === 2, "both messages seen on the wire");
    assert.equal(seen.map((m) => m.subject), [subject, subject]);
    const env = decodeEnvelope(seen[1].data);
    assert.is(env.type, "append");
    assert.equal(env.body, { n: 2 });
    assert.is(seen[1].headers["Nats-Msg-Id"], env.id);
    assert.equal(await persistedEntries(w.db, w.table, id), [1, 2]);
  });

  t("routing - errors keep their class across the wire", async () => {
    const w = await world();
    const { system, knobs } = await w.host({ options: { mailboxCapacity: 2 } }); // the message in process counts
    const bad = await system.ask(w.kind, "e", "append", { n: "x" }, { timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
    assert.instance(bad, InputError);
    assert.is((bad as InputError).code, "validation");
    assert.match((bad as InputError).message, /append: n: /);
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    const first = system.ask(w.kind, "e", "append", { n: 1 }, { timeoutMs: 5000 });
    await until(() => knobs.handled.includes("e:append"), "first append in the handler");
    const second = system.ask(w.kind, "e", "append", { n: 2 }, { timeoutMs: 5000 });
    await until(async () => (await system.inspect(w.kind, "e")).mailboxDepth === 2, "second append queued");
    const full = await system.ask(w.kind, "e", "append", { n: 3 }, { timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
    assert.instance(full, MailboxFullError);
    assert.is((full as MailboxFullError).retryable, true);
    release();
    knobs.gate = null;
    assert.equal(await Promise.all([first, second]), [1, 2]);
    const noRoute = await system.ask(uniqueName("nobody-serves").replace(/_/g, "-"), "e", "append", {}, { timeoutMs: 5000 }).then(() => undefined, (e: unknown) => e);
    assert.instance(noRoute, NoRouteError);
  });

  t("routing - regression: a tell arriving over the transport at a full mailbox is dead-lettered (mailbox_full), not dropped", async () => {
    const w = await world();
    const { system, knobs } = await w.host({ options: { mailboxCapacity: 2 } });
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    system.tell(w.kind, "busy", "append", { n: 1 });
    await until(() => knobs.handled.includes("busy:append"), "first append in the handler");
    system.tell(w.kind, "busy", "append", { n: 2 });
    await until(async () => (await system.inspect(w.kind, "busy")).mailboxDepth === 2, "second append queued");
    system.tell(w.kind, "busy", "append", { n: 3 }, { id: "refused-1" });
    await until(async () => (await listDeadLetters(w.db, { kind: w.kind })).length === 1, "the refused tell dead-lettered");
    const [letter] = await listDeadLetters(w.db, { kind: w.kind });
    assert.is(letter.errorCode, "mailbox_full");
    assert.is(letter.entityId, "busy");
    assert.is(letter.source, `nats:${entitySubject(w.kind, "busy", "cmd.append")}`);
    const kept = letter.payload as { id: string; type: string; body: unknown };
    assert.is(kept.id, "refused-1", "the whole envelope is kept for replay");
    assert.is(kept.type, "append");
    assert.equal(kept.body, { n: 3 });
    assert.is(system.stats(w.kind).rejected, 1);
    assert.is(system.stats(w.kind).deadLetters, 1);
    release();
    knobs.gate = null;
    await system.whenIdle();
    assert.equal(await persistedEntries(w.db, w.table, "busy"), [1, 2]);
  });

  t("routing - ask over the transport times out on the injected clock", async () => {
    const w = await world();
    const { system, knobs } = await w.host();
    let release!: () => void;
    knobs.gate = new Promise<void>((resolve) => (release = resolve));
    const reply = system.ask(w.kind, "slow", "append", { n: 1 }, { timeoutMs: 3000 }).then(() => undefined, (e: unknown) => e);
    await until(() => knobs.handled.includes("slow:append"), "the handler to start");
    await w.clock.advance(3000);
    assert.instance(await reply, AskTimeoutError);
    release();
    knobs.gate = null;
    await system.whenIdle();
    assert.equal(await persistedEntries(w.db, w.table, "slow"), [1]);
  });

  t("routing - each host serves only the partitions it owns", async () => {
    const w = await world();
    const even = Array.from({ length: 8 }, (_, i) => i * 2);
    const odd = even.map((p) => p + 1);
    const a = await w.host({ owned: even, directLocal: true });
    const b = await w.host({ owned: odd, directLocal: true });
    const ids = Array.from({ length: 24 }, (_, i) => `entity-${i}`);
    const replies = await Promise.all(ids.map((id) => a.system.ask(w.kind, id, "append", { n: 7 }, { timeoutMs: 5000 })));
    assert.equal(replies, Array(24).fill(1));
    for (const id of ids) {
      const owner = partitionOf(id) % 2 === 0 ? a : b;
      const other = owner === a ? b : a;
      assert.is((await owner.system.inspect(w.kind, id)).status, "active", `${id} lives on its owner`);
      assert.is((await other.system.inspect(w.kind, id)).status, "passive", `${id} is not on the other host`);
    }
    assert.ok(a.knobs.handled.length > 0 && b.knobs.handled.length > 0);
    assert.is(a.knobs.handled.length + b.knobs.handled.length, 24);
  });

  t("routing - a state request is answered by the owner with the actor's state", async () => {
    const w = await world();
    const { system } = await w.host();
    await system.ask(w.kind, "s1", "append", { n: 4 }, { timeoutMs: 5000 });
    const res = await w.transport.request(entitySubject(w.kind, "s1", "state"), new Uint8Array(0), { timeoutMs: 5000 });
    assert.equal(JSON.parse(decoder.decode(res.data)), { entries: [4] });
    // ask(…, "state") gets the same answer over the wire and on the direct local path.
    assert.equal(await system.ask(w.kind, "s1", "state", {}, { timeoutMs: 5000 }), { entries: [4] });
    const local = await w.host({ directLocal: true });
    assert.equal(await local.system.ask(w.kind, "s1", "state", {}, { timeoutMs: 5000 }), { entries: [4] });
  });

  t("routing - emitted events are published on evt subjects after the commit, caused by their message", async () => {
    const w = await world();
    const { system } = await w.host();
    const events = record(w.transport, `strata.${w.kind}.*.*.evt.>`);
    await w.transport.flush();
    system.tell(w.kind, "em", "announce", { n: 9 }, { id: "cause-1" });
    await system.whenIdle();
    await until(() => events.length === 1, "the event");
    assert.is(events[0].subject, entitySubject(w.kind, "em", "evt.announced"));
    const env = decodeEnvelope(events[0].data);
    assert.equal(env.body, { n: 9 });
    assert.is(env.causationId, "cause-1");
    assert.is(env.correlationId, "cause-1");
    assert.equal(await persistedEntries(w.db, w.table, "em"), [9]);
  });

  t("routing - an undecodable message is dead-lettered and answered with an InputError", async () => {
    const w = await world();
    const { system } = await w.host();
    const subject = entitySubject(w.kind, "junk", "cmd.append");
    const res = await w.transport.request(subject, encoder.encode('{"id":"x","body":1}'), { timeoutMs: 5000 });
    assert.is(res.headers["Strata-Error-Retryable"], "false");
    assert.is(res.headers["Strata-Error-Code"], "validation");
    await until(async () => (await listDeadLetters(w.db, { kind: w.kind })).length === 1, "the dead letter");
    const [letter] = await listDeadLetters(w.db, { kind: w.kind });
    assert.is(letter.source, `nats:${subject}`);
    assert.is(letter.entityId, "junk");
    assert.equal(letter.payload, { id: "x", body: 1 });
    assert.is(system.stats(w.kind).deadLetters, 1);
  });

  t("routing - 1,000 tells over the transport are applied in order exactly once; whenIdle covers those in transit", async () => {
    const w = await world();
    const { system } = await w.host();
    for (let n = 0; n < 1000; n++) system.tell(w.kind, "flow", "append", { n });
    await system.whenIdle();
    assert.equal(await persistedEntries(w.db, w.table, "flow"), Array.from({ length: 1000 }, (_, i) => i));
    assert.is(system.stats(w.kind).processed, 1000);
  });

  t("routing - an actor's tell goes over the transport after its commit and whenIdle waits for the chain", async () => {
    const w = await world();
    const { system } = await w.host();
    const seen = record(w.transport, `strata.${w.kind}.*.${"dst"}.cmd.append`);
    await w.transport.flush();
    system.tell(w.kind, "src", "forward", { n: 3, kind: w.kind, to: "dst" }, { id: "origin-1" });
    await system.whenIdle();
    assert.equal(await persistedEntries(w.db, w.table, "dst"), [3]);
    await until(() => seen.length === 1, "the forwarded tell on the wire");
    const env = decodeEnvelope(seen[0].data);
    assert.is(env.causationId, "origin-1");
    assert.is(env.correlationId, "origin-1");
    assert.is(seen[0].headers["Strata-After-Commit"], "1", "marked so the owner queues it even past capacity");
  });

  t.run();
}
