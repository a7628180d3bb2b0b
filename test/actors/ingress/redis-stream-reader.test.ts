// Redis stream reader against real Redis (unique stream and group names per test): ack after
// handle, batch sizes, several readers sharing a group, restart reading own pending entries,
// XAUTOCLAIM of a dead consumer's entries, retry with backoff on the injected clock, poison
// entries dead-lettered and acknowledged.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { testEnv, uniqueName } from "../../support/env.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { InputError, RetryableError } from "../../../protocols/errors.ts";
import { RedisStreamReader, type RedisStreamReaderOptions, type StreamEntry } from "../../../actors/ingress/redis-stream-reader.ts";
import { CircuitBreaker } from "../../../actors/vault-term/circuit-breaker.ts";

const redis = new Redis(testEnv.redisUrl);
const keys: string[] = [];
const readers: RedisStreamReader[] = [];

async function stream(n: number): Promise<string> {
  const name = uniqueName("strata_test_stream");
  keys.push(name);
  const pipe = redis.pipeline();
  for (let i = 0; i < n; i++) pipe.xadd(name, "*", "data", JSON.stringify({ n: i }));
  await pipe.exec();
  return name;
}

function reader(opts: Partial<RedisStreamReaderOptions> & Pick<RedisStreamReaderOptions, "streams" | "handle">): RedisStreamReader {
  const r = new RedisStreamReader({ redisUrl: testEnv.redisUrl, group: "g", consumer: "c1", batchSize: 10, batchTimeoutMs: 50, ...opts });
  readers.push(r);
  return r;
}

const numbers = (batch: StreamEntry[]) => batch.map((e) => JSON.parse(e.fields[1]).n as number);
const pending = async (s: string, group = "g") => Number(((await redis.xpending(s, group)) as [number])[0]);

test("reader - acknowledges a batch only after handle resolves", async () => {
  const s = await stream(5);
  let release!: () => void;
  let inHandle!: () => void;
  const entered = new Promise<void>((r) => (inHandle = r));
  const r = reader({ streams: [s], handle: () => { inHandle(); return new Promise<void>((res) => (release = res)); } });
  const done = r.processOnce({ block: false });
  await entered;
  assert.is(await pending(s), 5);
  release();
  assert.is(await done, 5);
  assert.is(await pending(s), 0);
  assert.is(r.stats.acked, 5);
});

test("reader - batches of batchSize", async () => {
  const s = await stream(25);
  const sizes: number[] = [];
  const r = reader({ streams: [s], batchSize: 10, handle: async (b) => void sizes.push(b.length) });
  assert.is(await r.drain(), 25);
  assert.equal(sizes, [10, 10, 5]);
});

test("reader - reads several streams in one group", async () => {
  const a = await stream(3);
  const b = await stream(4);
  const seen: string[] = [];
  const r = reader({ streams: [a, b], handle: async (batch) => void seen.push(...batch.map((e) => e.stream)) });
  await r.drain();
  assert.is(seen.filter((x) => x === a).length, 3);
  assert.is(seen.filter((x) => x === b).length, 4);
});

test("reader - several readers in one group share the work, each entry once", async () => {
  const s = await stream(40);
  const got: Record<string, number[]> = { c1: [], c2: [] };
  const r1 = reader({ streams: [s], consumer: "c1", batchSize: 7, handle: async (b) => void got.c1.push(...numbers(b)) });
  const r2 = reader({ streams: [s], consumer: "c2", batchSize: 7, handle: async (b) => void got.c2.push(...numbers(b)) });
  for (;;) {
    const n = (await r1.processOnce({ block: false })) + (await r2.processOnce({ block: false }));
    if (n === 0) break;
  }
  assert.ok(got.c1.length > 0 && got.c2.length > 0);
  assert.equal([...got.c1, ...got.c2].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i));
  assert.is(await pending(s), 0);
});

test("reader - a restarted consumer first re-reads its own unacknowledged entries", async () => {
  const s = await stream(6);
  const crashed = reader({ streams: [s], batchSize: 4, handle: async () => {} });
  const first = await crashed.readBatch({ block: false }); // delivered, never acknowledged: a crash
  assert.is(first.length, 4);
  await crashed.stop();
  const seen: number[] = [];
  const again = reader({ streams: [s], batchSize: 4, handle: async (b) => void seen.push(...numbers(b)) });
  await again.drain();
  assert.equal(seen, [0, 1, 2, 3, 4, 5]);
  assert.is(await pending(s), 0);
});

test("reader - XAUTOCLAIM takes a dead consumer's stale entries", async () => {
  const s = await stream(5);
  const dead = reader({ streams: [s], consumer: "dead", handle: async () => {} });
  assert.is((await dead.readBatch({ block: false })).length, 5);
  await dead.stop();
  const seen: number[] = [];
  const live = reader({ streams: [s], consumer: "live", claimIdleMs: 0, handle: async (b) => void seen.push(...numbers(b)) });
  await live.drain();
  assert.equal(seen, [0, 1, 2, 3, 4]);
  assert.is(live.stats.claimed, 5);
  assert.is(await pending(s), 0);
});

test("reader - a failing batch is retried with backoff on the injected clock", async () => {
  const s = await stream(3);
  const clock = new SimulatedClock();
  let calls = 0;
  let firstCall!: () => void;
  const called = new Promise<void>((res) => (firstCall = res));
  const r = reader({
    streams: [s], clock, retry: { baseDelayMs: 100, maxDelayMs: 1000 },
    handle: async () => { calls += 1; firstCall(); if (calls < 3) throw new RetryableError("database down"); },
  });
  const done = r.processOnce({ block: false });
  await called;
  await clock.advance(99);
  assert.is(calls, 1);
  await clock.advance(1);
  assert.is(calls, 2);
  assert.is(await pending(s), 3);
  await clock.advance(200);
  assert.is(await done, 3);
  assert.is(calls, 3);
  assert.is(r.stats.retries, 2);
  assert.is(await pending(s), 0);
});

test("reader - while the database breaker is open the handler is not called", async () => {
  const s = await stream(2);
  const clock = new SimulatedClock();
  const sink = new CircuitBreaker("postgres", { threshold: 2, timeoutMs: 10_000, clock });
  let calls = 0;
  let first!: () => void;
  const firstCall = new Promise<void>((res) => (first = res));
  const r = reader({
    streams: [s], clock, retry: { baseDelayMs: 100, maxDelayMs: 100 }, breakers: { sink },
    handle: async () => {
      calls += 1;
      first();
      if (calls <= 2) throw new RetryableError("connection refused");
    },
  });
  const done = r.processOnce({ block: false });
  await firstCall;
  await clock.advance(100);
  assert.is(calls, 2);
  assert.is(sink.state, "open");
  await clock.advance(9_000);
  assert.is(calls, 2, "no calls while open");
  await clock.advance(1_000);
  assert.is(await done, 2);
  assert.is(calls, 3);
  assert.is(sink.state, "closed");
});

/** Whether `p` settles within `ms` of real time (a hang shows as false; no timing is measured). */
async function settles(p: Promise<unknown>, ms = 10_000): Promise<boolean> {
  let timer!: ReturnType<typeof setTimeout>;
  const late = new Promise<false>((res) => (timer = setTimeout(() => res(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

test("regression: stop() hung while the database was down - a batch waiting for its retry or for an open breaker is given up unacknowledged", async () => {
  for (const breakerOpen of [false, true]) {
    const s = await stream(2);
    const clock = new SimulatedClock(); // never advanced: only stop() can end the waits
    const sink = new CircuitBreaker("postgres", { threshold: 1, timeoutMs: 60_000, clock });
    let calls = 0;
    let first!: () => void;
    const firstCall = new Promise<void>((res) => (first = res));
    const r = reader({
      streams: [s], clock, retry: { baseDelayMs: 30_000, maxDelayMs: 30_000 }, breakers: breakerOpen ? { sink } : {},
      handle: async () => {
        calls += 1;
        first();
        throw new RetryableError("connection refused");
      },
    });
    r.start();
    await firstCall;
    // The failure is counted just after the handler's call: let it be.
    for (let i = 0; i < 200 && breakerOpen && sink.state !== "open"; i++) await new Promise((res) => setTimeout(res, 5));
    if (breakerOpen) assert.is(sink.state, "open");
    assert.ok(await settles(r.stop()), `stop() returns while the batch waits (${breakerOpen ? "breaker open" : "backoff"})`);
    assert.is(calls, 1, "not retried after stop");
    assert.is(await pending(s), 2, "the batch stays unacknowledged: read again later");
    assert.is(r.stats.acked, 0);
  }
});

test("reader - a poison entry is dead-lettered and acknowledged, the rest is processed", async () => {
  const s = await stream(5);
  const ok: number[] = [];
  const poisoned: number[] = [];
  const r = reader({
    streams: [s],
    handle: async (b) => {
      if (numbers(b).includes(2)) throw new InputError("entry 2 is bad");
      ok.push(...numbers(b));
    },
    poison: async (e, err) => {
      assert.match((err as Error).message, "entry 2 is bad");
      poisoned.push(JSON.parse(e.fields[1]).n);
    },
  });
  await r.drain();
  assert.equal(ok, [0, 1, 3, 4]);
  assert.equal(poisoned, [2]);
  assert.is(await pending(s), 0);
});

test.after(async () => {
  for (const r of readers) await r.stop();
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

test.run();
