/**
 * What the in-process transport promises beyond the shared contract (test/contract): its
 * default limit, payload isolation, asynchronous delivery, fairness, timers and close.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setImmediate } from "node:timers";
import { DEFAULT_MAX_PAYLOAD, canHandOver, createMemoryTransport, payloadSize, type HandedMessage } from "../../../supervisors/transport/memory-transport.ts";
import { PayloadTooLargeError, RequestTimeoutError, type TransportMessage } from "../../../supervisors/transport/transport.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (m: TransportMessage): string => decoder.decode(m.data);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

test("memory transport - the default payload limit is 1 MiB, like NATS", async () => {
  const t = createMemoryTransport();
  try {
    assert.is(t.maxPayload, 1024 * 1024);
    assert.is(DEFAULT_MAX_PAYLOAD, 1024 * 1024);
    t.publish("big.ok", new Uint8Array(1024 * 1024));
    assert.throws(() => t.publish("big.no", new Uint8Array(1024 * 1024 + 1)), (e: unknown) => e instanceof PayloadTooLargeError);
    assert.throws(() => createMemoryTransport({ maxPayload: 0 }), /positive integer/);
  } finally {
    await t.close();
  }
});

test("memory transport - payloadSize counts headers as the NATS header block does", () => {
  const data = new Uint8Array(10);
  assert.is(payloadSize(data, undefined), 10);
  // "NATS/1.0\r\n" (10) + "Nats-Msg-Id: abc\r\n" (11 + 2 + 3 + 2) + "\r\n" (2)
  assert.is(payloadSize(data, { "Nats-Msg-Id": "abc" }), 10 + 10 + 18 + 2);
});

test("memory transport - a sender reusing its buffer does not change what subscribers received", async () => {
  const t = createMemoryTransport();
  try {
    const got: TransportMessage[] = [];
    t.subscribe("reuse.x", (m) => void got.push(m));
    const buffer = bytes("first");
    const headers: Record<string, string> = { "Nats-Msg-Id": "1" };
    t.publish("reuse.x", buffer, { headers });
    buffer.set(bytes("SECON"));
    headers["Nats-Msg-Id"] = "2";
    await t.flush();
    assert.is(text(got[0]), "first");
    assert.is(got[0].headers["Nats-Msg-Id"], "1");
  } finally {
    await t.close();
  }
});

test("memory transport - delivery never happens inside publish()", async () => {
  const t = createMemoryTransport();
  try {
    const events: string[] = [];
    t.subscribe("async.x", () => void events.push("handled"));
    t.publish("async.x", bytes("1"));
    events.push("published");
    await t.flush();
    assert.equal(events, ["published", "handled"]);
  } finally {
    await t.close();
  }
});

test("memory transport - synchronous ping-pong between two subscriptions still lets the event loop run", async () => {
  const t = createMemoryTransport();
  try {
    let hops = 0;
    let stop = false;
    t.subscribe("pp.ping", () => {
      hops++;
      if (!stop) t.publish("pp.pong", bytes("x"));
    });
    t.subscribe("pp.pong", () => {
      hops++;
      if (!stop) t.publish("pp.ping", bytes("x"));
    });
    t.publish("pp.ping", bytes("x"));
    // A macrotask gets its turn even though the two handlers feed each other forever.
    await new Promise<void>((resolve) => setImmediate(resolve));
    stop = true;
    await t.flush();
    assert.ok(hops > 0, "the ping-pong ran");
  } finally {
    await t.close();
  }
});

test("memory transport - a reply clears the request's timer; a late reply after a timeout is dropped", async () => {
  const clock = new SimulatedClock();
  const t = createMemoryTransport({ clock });
  try {
    let held: TransportMessage | undefined;
    t.subscribe("svc.fast", (m) => m.respond(bytes("ok")));
    t.subscribe("svc.slow", (m) => void (held = m));
    assert.is(text(await t.request("svc.fast", bytes("?"), { timeoutMs: 100 })), "ok");
    assert.is(clock.pending, 0, "no timer left behind by an answered request");
    const slow = rejection(t.request("svc.slow", bytes("?"), { timeoutMs: 100 }));
    await t.flush();
    await clock.advance(100);
    assert.instance(await slow, RequestTimeoutError);
    held?.respond(bytes("too late")); // must not throw nor resolve anything
    await t.flush();
  } finally {
    await t.close();
  }
});

test("memory transport - close lets queued handlers finish, fails waiting requests, then refuses work", async () => {
  const clock = new SimulatedClock();
  const t = createMemoryTransport({ clock });
  const handled: string[] = [];
  t.subscribe("close.work", async (m) => {
    await new Promise<void>((r) => setImmediate(r));
    handled.push(text(m));
  });
  t.subscribe("close.never", () => {});
  t.publish("close.work", bytes("a"));
  t.publish("close.work", bytes("b"));
  const waiting = t.request("close.never", bytes("?"), { timeoutMs: 60_000 });
  await t.close();
  assert.equal(handled, ["a", "b"]);
  assert.match(String(await rejection(waiting)), /closed/);
  assert.is(clock.pending, 0, "the request's timer was cleared");
  assert.throws(() => t.publish("close.work", bytes("c")), /closed/);
  assert.match(String(await rejection(t.request("close.work", bytes("?"), { timeoutMs: 10 }))), /closed/);
});

test("memory transport - subscribe rejects invalid subjects and queue names", async () => {
  const t = createMemoryTransport();
  try {
    assert.throws(() => t.subscribe("a..b", () => {}), /empty token/);
    assert.throws(() => t.subscribe("a.>.b", () => {}), /last token/);
    assert.throws(() => t.subscribe("a.b", () => {}, { queue: "has space" }), /queue group/);
  } finally {
    await t.close();
  }
});

test("memory transport - a handed payload arrives as the same value, with data encoded from its text on read", async () => {
  const t = createMemoryTransport({ maxPayload: 64 });
  try {
    assert.ok(canHandOver(t));
    if (!canHandOver(t)) return;
    const got: HandedMessage[] = [];
    t.subscribe("handed.x", (m) => void got.push(m as HandedMessage));
    t.subscribe("handed.echo", (m) => (m as HandedMessage).respondHanded({ text: '{"ok":true}', value: { ok: true } }));
    const value = { n: 1, s: "é" };
    t.publishHanded("handed.x", { text: JSON.stringify(value), value }, { "Nats-Msg-Id": "m1" });
    const reply = await t.requestHanded("handed.echo", { text: "1", value: 1 }, { timeoutMs: 1000 });
    await t.flush();
    assert.is(got.length, 1);
    assert.is(got[0].handed?.value, value, "the very object, not a copy");
    assert.is(text(got[0]), JSON.stringify(value));
    assert.is(got[0].data.byteLength, new TextEncoder().encode(JSON.stringify(value)).byteLength);
    assert.is(got[0].headers["Nats-Msg-Id"], "m1");
    assert.equal(reply.handed?.value, { ok: true });
    assert.is(text(reply), '{"ok":true}');
    // The payload limit holds for handed payloads as for bytes (UTF-8 size plus headers).
    t.publishHanded("handed.x", { text: "x".repeat(64), value: null });
    assert.throws(
      () => t.publishHanded("handed.x", { text: "é".repeat(33), value: null }),
      (e: unknown) => e instanceof PayloadTooLargeError && e.size === 66 && e.limit === 64,
    );
    assert.throws(
      () => t.publishHanded("handed.x", { text: "x".repeat(60), value: null }, { "Nats-Msg-Id": "m2" }),
      (e: unknown) => e instanceof PayloadTooLargeError && e.size > 64,
    );
    await t.flush();
    assert.is(got.length, 2, "only the message within the limit was delivered");
  } finally {
    await t.close();
  }
});

test.run();
