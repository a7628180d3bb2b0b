/**
 * The transport contract: one set of tests run unchanged against the in-process transport and
 * against NATS — the server the environment gives (testEnv.natsUrl; test/run.ts sets NATS_URL),
 * shared with other runs, so every subject carries a per-run unique prefix (uniqueName). The
 * payload limit is the server's own `max_payload` read from its INFO (the memory transport is
 * given a small one), tested at and just above it.
 * Every test opens its own transport on a SimulatedClock (request timeouts never depend on
 * wall time) and its own subjects, and closes what it opened.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { setImmediate } from "node:timers";
import { createMemoryTransport } from "../../supervisors/transport/memory-transport.ts";
import { connectNatsTransport } from "../../supervisors/transport/nats-transport.ts";
import {
  NoRespondersError,
  PayloadTooLargeError,
  RequestTimeoutError,
  type SubscribeOptions,
  type Transport,
  type TransportMessage,
} from "../../supervisors/transport/transport.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { testEnv, uniqueName } from "../support/env.ts";

/** The memory transport's configured limit. */
const MEMORY_LIMIT = 4096;

interface OpenOptions {
  clock: SimulatedClock;
  onError?: (err: unknown, subject: string) => void;
}

interface Harness {
  name: string;
  /** The payload limit the transport must report and enforce (known after before()). */
  limit: number;
  before(): Promise<void>;
  after(): Promise<void>;
  open(opts: OpenOptions): Promise<Transport>;
}

const harnesses: Harness[] = [
  {
    name: "memory",
    limit: MEMORY_LIMIT,
    before: async () => {},
    after: async () => {},
    open: async ({ clock, onError }) => createMemoryTransport({ maxPayload: MEMORY_LIMIT, clock, onError }),
  },
  {
    name: "nats",
    limit: 0,
    async before() {
      // The server's max_payload, from the INFO it sent on connect.
      const probe = await connectNatsTransport(testEnv.natsUrl, { name: "transport-contract-probe" });
      try {
        const max = probe.connection.info?.max_payload;
        if (typeof max !== "number" || max <= 0) throw new Error(`no max_payload in the INFO of ${testEnv.natsUrl}`);
        this.limit = max;
      } finally {
        await probe.close();
      }
    },
    after: async () => {},
    open: ({ clock, onError }) => connectNatsTransport(testEnv.natsUrl, { clock, onError, name: "transport-contract" }),
  },
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (m: TransportMessage): string => decoder.decode(m.data);

function collect(t: Transport, subject: string, opts?: SubscribeOptions): { seen: TransportMessage[]; texts: () => string[]; unsubscribe(): void } {
  const seen: TransportMessage[] = [];
  const sub = t.subscribe(subject, (m) => void seen.push(m), opts);
  return { seen, texts: () => seen.map(text), unsubscribe: () => sub.unsubscribe() };
}

/**
 * Wait until everything published before this call has been delivered: a request/reply round
 * trip through the same transport (on NATS, through the same server connection) comes back
 * only after earlier messages were handed to their subscriptions.
 */
async function settle(t: Transport): Promise<void> {
  const subject = `${uniqueName("settle")}.ping`;
  const sub = t.subscribe(subject, (m) => m.respond(bytes("pong")));
  await t.flush();
  const reply = await t.request(subject, bytes("ping"), { timeoutMs: 60_000 });
  assert.is(text(reply), "pong");
  sub.unsubscribe();
}

/** A promise that resolves after `n` calls of the returned tick. */
function countdown(n: number): { done: Promise<void>; tick(): void } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  let left = n;
  if (left <= 0) resolve();
  return { done, tick: () => void (--left === 0 && resolve()) };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

for (const h of harnesses) {
  const test = suite(`transport contract (${h.name})`);
  test.before(() => h.before());
  const limit = (): number => h.limit;
  test.after(() => h.after());

  async function withTransport(fn: (t: Transport, clock: SimulatedClock) => Promise<void>, onError?: OpenOptions["onError"]): Promise<void> {
    const clock = new SimulatedClock(1_000_000);
    const t = await h.open({ clock, onError });
    try {
      await fn(t, clock);
    } finally {
      await t.close();
    }
  }

  test(`${h.name} - name and payload limit are reported`, () =>
    withTransport(async (t) => {
      assert.is(t.name, h.name);
      assert.is(t.maxPayload, limit());
    }));

  test(`${h.name} - wildcards: '*' matches one token, '>' one or more, others do not match`, () =>
    withTransport(async (t) => {
      const p = uniqueName("wild");
      const star = collect(t, `${p}.*.c`);
      const starStar = collect(t, `${p}.*.*`);
      const rest = collect(t, `${p}.>`);
      const exact = collect(t, `${p}.b`);
      const mid = collect(t, `${p}.*.c.>`);
      for (const s of [`${p}.b`, `${p}.x.c`, `${p}.x.y.z`, `${p}`, `${p}x.x.c`, `other.${p}.x.c`, `${p}.x.c.d.e`, `${p}.x.d`]) {
        t.publish(s, bytes(s.slice(p.length) || "(root)"));
      }
      await settle(t);
      assert.equal(star.texts(), [".x.c"]);
      assert.equal(starStar.texts(), [".x.c", ".x.d"]);
      assert.equal(rest.texts(), [".b", ".x.c", ".x.y.z", ".x.c.d.e", ".x.d"]);
      assert.equal(exact.texts(), [".b"]);
      assert.equal(mid.texts(), [".x.c.d.e"]);
      assert.is(star.seen[0].subject, `${p}.x.c`, "the message carries the concrete subject");
    }));

  test(`${h.name} - request/reply: the responder's answer comes back to the requester`, () =>
    withTransport(async (t) => {
      const subject = `${uniqueName("rr")}.echo`;
      const requests: TransportMessage[] = [];
      t.subscribe(subject, (m) => {
        requests.push(m);
        m.respond(bytes(text(m).toUpperCase()), { "Strata-Answer": "yes" });
      });
      await t.flush();
      const reply = await t.request(subject, bytes("hello"), { timeoutMs: 1000, headers: { "Strata-Ask": "1" } });
      assert.is(text(reply), "HELLO");
      assert.is(reply.headers["Strata-Answer"], "yes");
      assert.is(requests.length, 1);
      assert.ok(requests[0].reply?.startsWith("_INBOX."), `reply subject is an inbox: ${requests[0].reply}`);
      assert.is(requests[0].headers["Strata-Ask"], "1");
      const second = await t.request(subject, bytes("again"), { timeoutMs: 1000 });
      assert.is(text(second), "AGAIN");
    }));

  test(`${h.name} - request with no subscriber rejects with NoRespondersError`, () =>
    withTransport(async (t, clock) => {
      const subject = `${uniqueName("nobody")}.home`;
      const err = await rejection(t.request(subject, bytes("?"), { timeoutMs: 1000 }));
      assert.instance(err, NoRespondersError);
      assert.is((err as NoRespondersError).subject, subject);
      assert.is(clock.now(), 1_000_000, "decided without waiting for the timeout");
    }));

  test(`${h.name} - request nobody answers rejects with RequestTimeoutError after timeoutMs on the clock`, () =>
    withTransport(async (t, clock) => {
      const subject = `${uniqueName("silent")}.svc`;
      const arrived = countdown(1);
      t.subscribe(subject, () => arrived.tick());
      await t.flush();
      let settled = false;
      const pending = t.request(subject, bytes("?"), { timeoutMs: 250 });
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      await arrived.done;
      await clock.advance(249);
      assert.is(settled, false, "still waiting 1 ms before the timeout");
      await clock.advance(1);
      const err = await rejection(pending);
      assert.instance(err, RequestTimeoutError);
      assert.is((err as RequestTimeoutError).timeoutMs, 250);
      assert.is((err as RequestTimeoutError).subject, subject);
    }));

  test(`${h.name} - queue groups: each message reaches exactly one member, all members get some`, () =>
    withTransport(async (t) => {
      const subject = `${uniqueName("queue")}.work`;
      const members = [0, 1, 2].map(() => collect(t, subject, { queue: "workers" }));
      const audit = collect(t, subject, { queue: "audit" });
      const plain = collect(t, subject);
      await t.flush();
      const total = 300;
      for (let i = 0; i < total; i++) t.publish(subject, bytes(String(i)));
      await settle(t);
      const delivered = members.flatMap((m) => m.texts());
      assert.is(delivered.length, total, "each message to exactly one worker");
      assert.is(new Set(delivered).size, total, "no message twice");
      for (const [i, m] of members.entries()) assert.ok(m.seen.length > 0, `worker ${i} got some messages`);
      assert.is(audit.seen.length, total, "a second group gets its own copy of every message");
      assert.is(plain.seen.length, total, "a plain subscriber gets every message");
    }));

  test(`${h.name} - ordering: 10,000 messages on one subject arrive in publish order`, () =>
    withTransport(async (t) => {
      const subject = `${uniqueName("order")}.seq`;
      const n = 10_000;
      const got: number[] = [];
      const all = countdown(n);
      t.subscribe(subject, (m) => {
        got.push(Number(text(m)));
        all.tick();
      });
      await t.flush();
      for (let i = 0; i < n; i++) t.publish(subject, bytes(String(i)));
      await all.done;
      assert.is(got.length, n);
      const firstOutOfOrder = got.findIndex((v, i) => v !== i);
      assert.is(firstOutOfOrder, -1, `message ${firstOutOfOrder} out of order`);
    }));

  test(`${h.name} - a subscription handles one message at a time, awaiting the handler's promise`, () =>
    withTransport(async (t) => {
      const subject = `${uniqueName("serial")}.one`;
      const n = 50;
      let active = 0;
      let maxActive = 0;
      const order: number[] = [];
      const all = countdown(n);
      t.subscribe(subject, async (m) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => setImmediate(r));
        await Promise.resolve();
        order.push(Number(text(m)));
        active--;
        all.tick();
      });
      await t.flush();
      for (let i = 0; i < n; i++) t.publish(subject, bytes(String(i)));
      await all.done;
      assert.is(maxActive, 1);
      assert.equal(
        order,
        Array.from({ length: n }, (_, i) => i),
      );
    }));

  test(`${h.name} - payload limit: above maxPayload throws PayloadTooLargeError before sending`, () =>
    withTransport(async (t) => {
      const LIMIT = limit();
      const subject = `${uniqueName("big")}.blob`;
      const got = collect(t, subject);
      await t.flush();
      t.publish(subject, new Uint8Array(LIMIT)); // exactly the limit passes
      assert.throws(
        () => t.publish(subject, new Uint8Array(LIMIT + 1)),
        (err: unknown) => err instanceof PayloadTooLargeError && err.size === LIMIT + 1 && err.limit === LIMIT,
      );
      assert.throws(
        () => t.publish(subject, new Uint8Array(LIMIT - 8), { headers: { "Nats-Msg-Id": "header-makes-it-too-big" } }),
        (err: unknown) => err instanceof PayloadTooLargeError && err.size > LIMIT,
      );
      const err = await rejection(t.request(subject, new Uint8Array(LIMIT + 100), { timeoutMs: 1000 }));
      assert.instance(err, PayloadTooLargeError);
      await settle(t);
      assert.equal(
        got.seen.map((m) => m.data.byteLength),
        [LIMIT],
        "only the message within the limit was delivered",
      );
    }));

  test(`${h.name} - headers round-trip on publish; no headers arrive as an empty record`, () =>
    withTransport(async (t) => {
      const subject = `${uniqueName("hdr")}.h`;
      const got = collect(t, subject);
      await t.flush();
      const headers = { "Nats-Msg-Id": "01JABCDEF-7", "Strata-Kind": "vault-term", "Strata-Correlation": "c=1;d=2" };
      t.publish(subject, bytes("with"), { headers });
      t.publish(subject, bytes("without"));
      await settle(t);
      assert.is(got.seen.length, 2);
      assert.equal({ ...got.seen[0].headers }, headers);
      assert.equal({ ...got.seen[1].headers }, {});
    }));

  test(`${h.name} - publish with a reply subject: the subscriber's respond() reaches it`, () =>
    withTransport(async (t) => {
      const p = uniqueName("reply");
      const answers = collect(t, `${p}.answers`);
      t.subscribe(`${p}.ask`, (m) => m.respond(bytes(`re:${text(m)}`)));
      await t.flush();
      t.publish(`${p}.ask`, bytes("q1"), { reply: `${p}.answers` });
      t.publish(`${p}.ask`, bytes("q2")); // no reply subject: respond() is a no-op
      await settle(t);
      await settle(t);
      assert.equal(answers.texts(), ["re:q1"]);
    }));

  test(`${h.name} - unsubscribe stops delivery and counts what was received`, () =>
    withTransport(async (t) => {
      const subject = `${uniqueName("unsub")}.u`;
      const seen: string[] = [];
      const sub = t.subscribe(subject, (m) => void seen.push(text(m)));
      const witness = collect(t, subject);
      await t.flush();
      t.publish(subject, bytes("1"));
      await settle(t);
      sub.unsubscribe();
      t.publish(subject, bytes("2"));
      await settle(t);
      assert.equal(seen, ["1"]);
      assert.is(sub.received, 1);
      assert.equal(witness.texts(), ["1", "2"], "the other subscription still receives");
    }));

  test(`${h.name} - subscribe rejects malformed subjects and queue names with a TypeError`, () =>
    withTransport(async (t) => {
      for (const bad of ["", "a..b", "a.>.b", "a b", "a.b*"]) {
        assert.throws(() => t.subscribe(bad, () => {}), (e: unknown) => e instanceof TypeError, `subject ${JSON.stringify(bad)}`);
      }
      assert.throws(() => t.subscribe("a.b", () => {}, { queue: "two words" }), (e: unknown) => e instanceof TypeError);
      assert.throws(() => t.subscribe("a.b", () => {}, { queue: "" }), (e: unknown) => e instanceof TypeError);
    }));

  test(`${h.name} - a handler that throws is reported and the next message is still handled`, async () => {
    const errors: string[] = [];
    await withTransport(
      async (t) => {
        const subject = `${uniqueName("throws")}.t`;
        const seen: string[] = [];
        t.subscribe(subject, async (m) => {
          seen.push(text(m));
          if (text(m) === "bad") throw new Error("handler failed on purpose");
        });
        await t.flush();
        t.publish(subject, bytes("bad"));
        t.publish(subject, bytes("good"));
        await settle(t);
        assert.equal(seen, ["bad", "good"]);
        assert.equal(errors, [`${subject}: handler failed on purpose`]);
      },
      (err, subject) => errors.push(`${subject}: ${(err as Error).message}`),
    );
  });

  test(`${h.name} - close drains: messages already published are handled before close resolves`, async () => {
    const clock = new SimulatedClock();
    const t = await h.open({ clock });
    const subject = `${uniqueName("drain")}.d`;
    const handled: number[] = [];
    t.subscribe(subject, async (m) => {
      await new Promise<void>((r) => setImmediate(r));
      handled.push(Number(text(m)));
    });
    await t.flush();
    for (let i = 0; i < 20; i++) t.publish(subject, bytes(String(i)));
    await t.flush();
    await t.close();
    assert.equal(
      handled,
      Array.from({ length: 20 }, (_, i) => i),
    );
    assert.throws(() => t.subscribe(subject, () => {}));
  });

  test.run();
}
