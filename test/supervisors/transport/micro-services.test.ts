/**
 * The micro protocol per kind (`strata-<kind>`): discovered with the official
 * @nats-io/services client (what `nats micro ls|info|stats` does) against a private
 * nats-server, plus the same protocol on the in-process transport.
 * Why a private server and not testEnv.natsUrl: `$SRV.PING|INFO|STATS` are server-wide subjects
 * that every micro service on the server answers (a running Strata host, other test runs), and
 * these tests count the answers (discovery ends on the expected count) and expect no responders
 * once a service stops; only a server where this file's services are alone makes that exact.
 */
import { test } from "uvu";
import { pino } from "pino";
import * as assert from "uvu/assert";
import { Svcm, type ServiceIdentity, type ServiceInfo, type ServiceStats } from "@nats-io/services";
import type { QueuedIterator } from "@nats-io/nats-core";
import { connectNatsTransport, type NatsTransport } from "../../../supervisors/transport/nats-transport.ts";
import { createMemoryTransport } from "../../../supervisors/transport/memory-transport.ts";
import { registerKindServices, serviceName, type KindServiceSpec } from "../../../supervisors/transport/micro-services.ts";
import { NoRespondersError, type Transport, type TransportMessage } from "../../../supervisors/transport/transport.ts";
import { InputError, errorFromHeaders } from "../../../protocols/errors.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { startNatsServer, type NatsServer } from "../../support/nats-server.ts";
import { uniqueName } from "../../support/env.ts";

let server: NatsServer;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (m: TransportMessage): string => decoder.decode(m.data);

test.before(async () => {
  server = await startNatsServer();
});
test.after(async () => {
  await server.stop();
});

async function withNats(fn: (...transports: NatsTransport[]) => Promise<void>, count = 1): Promise<void> {
  const clock = new SimulatedClock(Date.UTC(2026, 0, 2, 3, 4, 5));
  const transports: NatsTransport[] = [];
  try {
    for (let i = 0; i < count; i++) transports.push(await connectNatsTransport(server.url, { clock, name: `micro-test-${i}` }));
    await fn(...transports);
  } finally {
    await Promise.all(transports.map((t) => t.close()));
  }
}

/** Collect exactly `expected` answers (the official client, ending on the count, not a timer). */
async function discover<T>(t: NatsTransport, verb: "ping" | "info" | "stats", expected: number, name?: string, id?: string): Promise<T[]> {
  const client = new Svcm(t.connection).client({ strategy: "count", maxMessages: expected, maxWait: 30_000 });
  const iter = (await client[verb](name, id)) as QueuedIterator<T>;
  const out: T[] = [];
  for await (const r of iter) out.push(r);
  return out;
}

function vaultTermSpec(prefix: string, overrides: Partial<KindServiceSpec> = {}): KindServiceSpec {
  return {
    kind: "vault-term",
    version: "0.1.0",
    description: "Intuition terms: vaults, positions, aggregates",
    endpoints: [
      {
        name: "state",
        subject: `${prefix}.vault-term.*.*.state`,
        handler: (m) => {
          if (text(m) === "bad") throw new InputError("term id is not hex");
          return bytes(`state of ${m.subject.split(".")[3]}`);
        },
      },
      { name: "status", subject: `${prefix}.vault-term.status`, queue: "q", handler: () => bytes("ok") },
    ],
    stats: () => ({ activeActors: 3, mailboxDepth: 7, deadLetters: 1, ownedPartitions: [0, 5], lag: 12 }),
    ...overrides,
  };
}

function workerSpec(prefix: string): KindServiceSpec {
  return {
    kind: "worker-partition",
    version: "0.1.0",
    description: "Livepeer worker partitions",
    endpoints: [{ name: "state", subject: `${prefix}.worker-partition.*.*.state`, handler: () => bytes("{}") }],
    stats: () => ({ activeActors: 5 }),
  };
}

test("micro services - $SRV.INFO lists the registered kinds with their endpoints", () =>
  withNats(async (t) => {
    const p = uniqueName("micro");
    const reg = await registerKindServices(t, [vaultTermSpec(p), workerSpec(p)]);
    try {
      const infos = (await discover<ServiceInfo>(t, "info", 2)).sort((a, b) => a.name.localeCompare(b.name));
      assert.equal(
        infos.map((i) => i.name),
        ["strata-vault-term", "strata-worker-partition"],
      );
      const vt = infos[0];
      assert.is(vt.type, "io.nats.micro.v1.info_response");
      assert.is(vt.version, "0.1.0");
      assert.is(vt.description, "Intuition terms: vaults, positions, aggregates");
      assert.is(vt.id, reg.services[0].id);
      assert.equal(vt.metadata, { "strata.kind": "vault-term" });
      assert.equal(
        vt.endpoints.map((e) => [e.name, e.subject, e.queue_group]),
        [
          ["state", `${p}.vault-term.*.*.state`, ""],
          ["status", `${p}.vault-term.status`, "q"],
        ],
      );
      const only = await discover<ServiceInfo>(t, "info", 1, serviceName("worker-partition"));
      assert.equal(
        only.map((i) => [i.name, i.endpoints.length]),
        [["strata-worker-partition", 1]],
      );
    } finally {
      await reg.stop();
    }
  }));

test("micro services - $SRV.PING answers once per kind, by name and by id", () =>
  withNats(async (t) => {
    const p = uniqueName("micro");
    const reg = await registerKindServices(t, [vaultTermSpec(p), workerSpec(p)]);
    try {
      const all = await discover<ServiceIdentity>(t, "ping", 2);
      assert.equal(all.map((r) => r.name).sort(), ["strata-vault-term", "strata-worker-partition"]);
      assert.ok(all.every((r) => r.type === "io.nats.micro.v1.ping_response"));
      const id = reg.services.find((s) => s.kind === "worker-partition")?.id ?? "";
      const byId = await discover<ServiceIdentity>(t, "ping", 1, "strata-worker-partition", id);
      assert.equal(
        byId.map((r) => [r.name, r.id]),
        [["strata-worker-partition", id]],
      );
    } finally {
      await reg.stop();
    }
  }));

test("micro services - $SRV.STATS carries the provider's data and request and error counts", () =>
  withNats(async (t) => {
    const p = uniqueName("micro");
    let lag = 12;
    const reg = await registerKindServices(t, [vaultTermSpec(p, { stats: () => ({ activeActors: 3, mailboxDepth: 7, deadLetters: 1, ownedPartitions: [0, 5], lag }) })], {
      clock: new SimulatedClock(Date.UTC(2026, 0, 2, 3, 4, 5)),
    });
    try {
      for (const id of ["0xaa", "0xbb", "0xcc"]) {
        const reply = await t.request(`${p}.vault-term.p01.${id}.state`, bytes("get"), { timeoutMs: 10_000 });
        assert.is(text(reply), `state of ${id}`);
      }
      const failed = await t.request(`${p}.vault-term.p01.0xdd.state`, bytes("bad"), { timeoutMs: 10_000 });
      assert.is(failed.headers["Nats-Service-Error-Code"], "400");
      assert.is(failed.headers["Nats-Service-Error"], "term id is not hex");
      const err = errorFromHeaders(failed.headers);
      assert.instance(err, InputError, "the error keeps its class across the wire");
      lag = 40;
      const [stats] = await discover<ServiceStats>(t, "stats", 1, "strata-vault-term");
      assert.is(stats.type, "io.nats.micro.v1.stats_response");
      assert.is(stats.started, "2026-01-02T03:04:05.000Z");
      const [state, status] = stats.endpoints ?? [];
      assert.is(state.name, "state");
      assert.is(state.num_requests, 4);
      assert.is(state.num_errors, 1);
      assert.is(state.last_error, "term id is not hex");
      assert.ok(state.processing_time >= 0 && state.average_processing_time >= 0);
      assert.equal(state.data, { activeActors: 3, mailboxDepth: 7, deadLetters: 1, ownedPartitions: [0, 5], lag: 40 });
      assert.is(status.num_requests, 0);
      assert.equal(status.data, state.data);
    } finally {
      await reg.stop();
    }
  }));

test("micro services - an endpoint with no queue group reaches every host; only the owner answers", () =>
  withNats(async (hostA, hostB, client) => {
    const p = uniqueName("micro");
    const owned = (owner: string) => (m: TransportMessage) => (m.subject.split(".")[3] === owner ? bytes(`answered by ${owner}`) : undefined);
    const spec = (owner: string): KindServiceSpec => ({
      kind: "vault-term",
      version: "0.1.0",
      description: "two hosts",
      endpoints: [{ name: "state", subject: `${p}.vault-term.*.*.state`, handler: owned(owner) }],
      stats: () => ({ owner }),
    });
    const a = await registerKindServices(hostA, [spec("term-a")]);
    const b = await registerKindServices(hostB, [spec("term-b")]);
    try {
      for (let i = 0; i < 5; i++) {
        assert.is(text(await client.request(`${p}.vault-term.p00.term-a.state`, bytes("?"), { timeoutMs: 10_000 })), "answered by term-a");
        assert.is(text(await client.request(`${p}.vault-term.p00.term-b.state`, bytes("?"), { timeoutMs: 10_000 })), "answered by term-b");
      }
      const stats = await discover<ServiceStats>(client, "stats", 2, "strata-vault-term");
      const byOwner = Object.fromEntries(stats.map((s) => [(s.endpoints?.[0].data as { owner: string }).owner, s.endpoints?.[0].num_requests]));
      assert.equal(byOwner, { "term-a": 5, "term-b": 5 }, "each host counts only the requests it answered");
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 3));

test("micro services - stop() removes the service: $SRV.PING.<name> has no responders", () =>
  withNats(async (t) => {
    const p = uniqueName("micro");
    const reg = await registerKindServices(t, [workerSpec(p)]);
    const before = await t.request("$SRV.PING.strata-worker-partition", new Uint8Array(0), { timeoutMs: 10_000 });
    assert.is(JSON.parse(text(before)).name, "strata-worker-partition");
    await reg.stop();
    await t.flush();
    try {
      await t.request("$SRV.PING.strata-worker-partition", new Uint8Array(0), { timeoutMs: 10_000 });
      assert.unreachable("expected no responders");
    } catch (err) {
      assert.instance(err, NoRespondersError);
    }
  }));

test("micro services - registration rejects a bad version and a duplicate kind", async () => {
  const t: Transport = createMemoryTransport();
  try {
    const p = uniqueName("micro");
    const failure = async (specs: KindServiceSpec[]): Promise<unknown> => {
      try {
        await registerKindServices(t, specs);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const badVersion = await failure([vaultTermSpec(p, { version: "one" })]);
    assert.instance(badVersion, TypeError);
    assert.match(String(badVersion), /not semver/);
    const twice = await failure([vaultTermSpec(p), vaultTermSpec(p)]);
    assert.instance(twice, TypeError);
    assert.match(String(twice), /registered twice/);
  } finally {
    await t.close();
  }
});

test("micro services - the same protocol answers on the in-process transport", async () => {
  const t = createMemoryTransport();
  const p = uniqueName("micro");
  const reg = await registerKindServices(t, [vaultTermSpec(p)]);
  try {
    const info = JSON.parse(text(await t.request("$SRV.INFO.strata-vault-term", new Uint8Array(0), { timeoutMs: 10_000 })));
    assert.equal(
      info.endpoints.map((e: { name: string }) => e.name),
      ["state", "status"],
    );
    assert.is(text(await t.request(`${p}.vault-term.p02.0x01.state`, bytes("get"), { timeoutMs: 10_000 })), "state of 0x01");
    const stats = JSON.parse(text(await t.request(`$SRV.STATS.strata-vault-term.${reg.services[0].id}`, new Uint8Array(0), { timeoutMs: 10_000 })));
    assert.is(stats.endpoints[0].num_requests, 1);
    assert.is(stats.endpoints[0].data.mailboxDepth, 7);
  } finally {
    await reg.stop();
    await t.close();
  }
});

test("micro services - regression: an answer that cannot be sent is reported on the injected logger, not the console", async () => {
  const t = createMemoryTransport({ maxPayload: 64 });
  const p = uniqueName("micro");
  const lines: { msg: string; service: string; err: { message: string } }[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const spec: KindServiceSpec = {
    kind: "vault-term",
    version: "0.1.0",
    description: "answers too big for the transport",
    endpoints: [{ name: "state", subject: `${p}.vault-term.*.*.state`, handler: () => bytes("x".repeat(100)) }],
    stats: () => ({}),
  };
  const reg = await registerKindServices(t, [spec], { log });
  const printed: unknown[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    t.publish(`${p}.vault-term.p00.0x01.state`, bytes("get"), { reply: `${p}.reply` });
    await t.flush();
    await reg.stop();
  } finally {
    console.error = original;
    await t.close();
  }
  assert.is(lines.length, 1);
  assert.is(lines[0].service, "strata-vault-term");
  assert.match(lines[0].msg, /could not answer/);
  assert.match(lines[0].err.message, /exceeds the limit of 64 bytes/);
  assert.equal(printed, [], "nothing written around the logger");
});

test.run();
