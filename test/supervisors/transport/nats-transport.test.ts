/**
 * What the NATS transport promises beyond the shared contract (test/contract): the limit from
 * the server's INFO, the exposed connection (JetStream), traffic between two connections,
 * timers, and close() with and without a reachable server. Runs on the NATS the environment
 * gives (testEnv.natsUrl, JetStream enabled; test/run.ts sets NATS_URL) with per-run unique
 * subjects and stream names; only "close resolves promptly when the server is already gone"
 * spawns a private nats-server, because it must kill the server under a live connection.
 */
import { test } from "uvu";
import { pino } from "pino";
import { setImmediate } from "node:timers";
import net from "node:net";
import * as assert from "uvu/assert";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectNatsTransport, type NatsTransport } from "../../../supervisors/transport/nats-transport.ts";
import { PayloadTooLargeError, RequestTimeoutError, type TransportMessage } from "../../../supervisors/transport/transport.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { startNatsServer, type NatsServer } from "../../support/nats-server.ts";
import { testEnv, uniqueName } from "../../support/env.ts";

const server: Pick<NatsServer, "url"> = { url: testEnv.natsUrl };
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (m: TransportMessage): string => decoder.decode(m.data);


/** The INFO a NATS server sends first on a new connection (read from a plain TCP socket). */
function serverInfo(natsUrl: string): Promise<{ auth_required?: boolean }> {
  const { hostname, port } = new URL(natsUrl);
  return new Promise((resolve, reject) => {
    let seen = "";
    const socket = net.connect(Number(port), hostname);
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      seen += String(chunk);
      const end = seen.indexOf("\r\n");
      if (end < 0) return;
      socket.destroy();
      const line = seen.slice(0, end);
      if (!line.startsWith("INFO ")) reject(new Error(`expected INFO, got ${line.slice(0, 80)}`));
      else resolve(JSON.parse(line.slice(5)) as { auth_required?: boolean });
    });
  });
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

test("nats transport - maxPayload comes from the server INFO and can only be lowered", async () => {
  const plain = await connectNatsTransport(server.url);
  const lowered = await connectNatsTransport(server.url, { maxPayload: 1000 });
  try {
    const serverMax = plain.connection.info?.max_payload as number;
    assert.ok(serverMax > 1000, "the server announces its max_payload in INFO");
    assert.is(plain.maxPayload, serverMax, "the server's max_payload");
    assert.is(plain.maxPayload, plain.connection.info?.max_payload);
    const subject = `${uniqueName("limit")}.x`;
    plain.publish(subject, new Uint8Array(serverMax)); // exactly the server's limit passes
    assert.throws(() => plain.publish(subject, new Uint8Array(serverMax + 1)), (e: unknown) => e instanceof PayloadTooLargeError && e.limit === serverMax && e.size === serverMax + 1);
    assert.is(lowered.maxPayload, 1000);
    assert.throws(() => lowered.publish(subject, new Uint8Array(1001)), (e: unknown) => e instanceof PayloadTooLargeError && e.limit === 1000);
    const higher = await connectNatsTransport(server.url, { maxPayload: serverMax * 10 });
    assert.is(higher.maxPayload, serverMax, "a larger option does not exceed the server's limit");
    await higher.close();
  } finally {
    await plain.close();
    await lowered.close();
  }
});

test("nats transport - .connection serves JetStream: a stream dedupes on Nats-Msg-Id", async () => {
  const t = await connectNatsTransport(server.url);
  const stream = uniqueName("STRATA_TEST").toUpperCase();
  const subject = `${uniqueName("js")}.events`;
  const jsm = await jetstreamManager(t.connection);
  try {
    await jsm.streams.add({ name: stream, subjects: [subject] });
    const js = jetstream(t.connection);
    const first = await js.publish(subject, bytes("e1"), { msgID: "env-1" });
    const again = await js.publish(subject, bytes("e1"), { msgID: "env-1" });
    assert.is(first.duplicate, false);
    assert.is(again.duplicate, true);
    assert.is((await jsm.streams.info(stream)).state.messages, 1);
  } finally {
    await jsm.streams.delete(stream);
    await t.close();
  }
});

test("nats transport - two connections: requests, queue groups and headers cross between hosts", async () => {
  const clock = new SimulatedClock();
  const hostA = await connectNatsTransport(server.url, { clock, name: "host-a" });
  const hostB = await connectNatsTransport(server.url, { clock, name: "host-b" });
  const client = await connectNatsTransport(server.url, { clock, name: "client" });
  try {
    const subject = `${uniqueName("hosts")}.work`;
    const served = { a: 0, b: 0 };
    hostA.subscribe(subject, (m) => (served.a++, m.respond(bytes("a"), { "Strata-Host": "a" })), { queue: "q" });
    hostB.subscribe(subject, (m) => (served.b++, m.respond(bytes("b"), { "Strata-Host": "b" })), { queue: "q" });
    await hostA.flush();
    await hostB.flush();
    const answers: string[] = [];
    for (let i = 0; i < 60; i++) {
      const reply = await client.request(subject, bytes(String(i)), { timeoutMs: 10_000 });
      assert.is(reply.headers["Strata-Host"], text(reply));
      answers.push(text(reply));
    }
    assert.is(served.a + served.b, 60, "each request served by exactly one host");
    assert.ok(served.a > 0 && served.b > 0, `both hosts served (a=${served.a}, b=${served.b})`);
    assert.is(clock.pending, 0, "answered requests leave no timer behind");
  } finally {
    await Promise.all([hostA.close(), hostB.close(), client.close()]);
  }
});

test("nats transport - a late reply after the timeout is dropped; the next request still works", async () => {
  const clock = new SimulatedClock();
  const t = await connectNatsTransport(server.url, { clock });
  try {
    const subject = `${uniqueName("late")}.svc`;
    let held: TransportMessage | undefined;
    let arrived!: () => void;
    const seen = new Promise<void>((r) => (arrived = r));
    t.subscribe(subject, (m) => {
      if (text(m) === "hold") {
        held = m;
        arrived();
      } else m.respond(bytes(`re:${text(m)}`));
    });
    await t.flush();
    const slow = rejection(t.request(subject, bytes("hold"), { timeoutMs: 500 }));
    await seen;
    await clock.advance(500);
    assert.instance(await slow, RequestTimeoutError);
    held?.respond(bytes("too late"));
    assert.is(text(await t.request(subject, bytes("next"), { timeoutMs: 500 })), "re:next");
  } finally {
    await t.close();
  }
});

test("nats transport - close fails a request still waiting and refuses new subscriptions", async () => {
  const clock = new SimulatedClock();
  const t: NatsTransport = await connectNatsTransport(server.url, { clock });
  const subject = `${uniqueName("closing")}.svc`;
  let arrived!: () => void;
  const seen = new Promise<void>((r) => (arrived = r));
  t.subscribe(subject, () => arrived());
  await t.flush();
  const waiting = rejection(t.request(subject, bytes("?"), { timeoutMs: 60_000 }));
  await seen;
  await t.close();
  assert.match(String(await waiting), /closed before the reply/);
  assert.is(clock.pending, 0);
  assert.ok(t.connection.isClosed());
  assert.throws(() => t.subscribe(subject, () => {}), /closed/);
});

test("nats transport - regression: a failing handler is reported on the injected logger, not the console", async () => {
  const lines: { msg: string; subject: string; err: { message: string } }[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const t = await connectNatsTransport(server.url, { log });
  const subject = `${uniqueName("fails")}.x`;
  const printed: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    const handled: string[] = [];
    t.subscribe(subject, (m) => {
      handled.push(text(m));
      if (text(m) === "bad") throw new Error("handler broke on postgres://app:s3cret@db/x");
    });
    await t.flush();
    t.publish(subject, bytes("bad"));
    t.publish(subject, bytes("good"));
    await t.flush();
    for (let i = 0; i < 1000 && handled.length < 2; i++) await new Promise((r) => setImmediate(r));
    assert.equal(handled, ["bad", "good"], "delivery continues after the failure");
  } finally {
    console.error = original;
    await t.close();
  }
  assert.is(lines.length, 1);
  assert.is(lines[0].subject, subject);
  assert.match(lines[0].msg, /handler for .* failed/);
  assert.match(lines[0].err.message, /handler broke/);
  assert.equal(printed, [], "nothing written around the logger");
});

test("nats transport - close resolves promptly when the server is already gone", async () => {
  const own = await startNatsServer();
  const t = await connectNatsTransport(own.url);
  const handled: string[] = [];
  const subject = `${uniqueName("gone")}.x`;
  t.subscribe(subject, (m) => void handled.push(text(m)));
  t.publish(subject, bytes("before"));
  await t.flush();
  const disconnected = (async () => {
    for await (const s of t.connection.status()) if (s.type === "disconnect") return;
  })();
  await own.stop();
  await disconnected;
  await t.close(); // must not wait for a server that will not come back
  assert.equal(handled, ["before"]);
  assert.ok(t.connection.isClosed());
});

test("nats transport - credentials in NATS_URL are used: a token server and a user/password server accept them", async () => {
  for (const [config, userinfo] of [
    ['authorization { token: "s3cr3t-t0ken" }', "s3cr3t-t0ken@"],
    ['authorization { user: "strata", password: "p@ss word" }', "strata:p%40ss%20word@"],
  ] as const) {
    const auth = await startNatsServer({ config });
    try {
      const url = auth.url.replace("nats://", `nats://${userinfo}`);
      const t = await connectNatsTransport(url, { maxReconnectAttempts: 0 });
      try {
        const got = new Promise<string>((resolve) => t.subscribe("auth.check", (m) => resolve(text(m))));
        await t.connection.flush();
        t.publish("auth.check", bytes("in"));
        assert.is(await got, "in");
      } finally {
        await t.close();
      }
      // The server requires them (its INFO says so), so the connection above used them. Asked
      // on a plain socket: a client refused by the server gets a connection reset, which nats.js
      // under Deno's node:net leaves unhandled (an uncaught ECONNRESET ends the test process).
      assert.is((await serverInfo(auth.url)).auth_required, true, "without the credentials the server refuses");
    } finally {
      await auth.stop();
    }
  }
});

test.run();
