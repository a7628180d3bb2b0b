/** admin: routes against a real server on a free port, with an AdminSource over real data structures. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import { AdminBindError, progressCheck, startAdminServer } from "../../admin/mod.ts";
import type { ActorActionResult, ActorDetail, AdminServer, AdminSource, DependencyHealth, KindActors } from "../../admin/mod.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { createMetrics } from "../../supervisors/observability/metrics.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { partitionOf } from "../../protocols/partition.ts";

/** A tiny host: actors in a map with mailboxes, ingress progress, a metrics registry. */
class TestHost implements AdminSource {
  readonly clock = new SimulatedClock(1_700_000_000_000);
  readonly metricsReg = createMetrics({ defaultMetrics: false });
  readonly handled = this.metricsReg.counter("messages_total", "handled", ["kind"]);
  readonly deps = new Map<string, DependencyHealth>([
    ["postgres", { name: "postgres", ok: true, detail: "embedded pglite" }],
    ["nats", { name: "nats", ok: true, detail: "in-process" }],
  ]);
  readonly actorsByKey = new Map<string, { kind: string; id: string; state: unknown; mailbox: unknown[]; restarts: number; status: ActorDetail["status"] }>();
  readonly progress = new Map<string, { lastProgressAt: number | null; backlog: number }>();
  readonly actions: string[] = [];
  get metricsContentType() {
    return this.metricsReg.contentType;
  }
  health() {
    return [...this.deps.values()];
  }
  ready() {
    return [...this.progress].map(([name, p]) => progressCheck({ name, ...p, expectedWithinMs: 30_000, now: this.clock.now() }));
  }
  metrics() {
    return this.metricsReg.text();
  }
  actors(): KindActors[] {
    const kinds = new Map<string, KindActors>();
    for (const a of this.actorsByKey.values()) {
      const k = kinds.get(a.kind) ?? { kind: a.kind, active: 0, mailboxDepth: 0, restarts: 0, failed: 0, deadLetters: 0, lastError: null };
      k.active += a.status === "active" ? 1 : 0;
      k.failed += a.status === "failed" ? 1 : 0;
      k.mailboxDepth += a.mailbox.length;
      k.restarts += a.restarts;
      kinds.set(a.kind, k);
    }
    return [...kinds.values()];
  }
  actor(kind: string, id: string): ActorDetail | undefined {
    const a = this.actorsByKey.get(`${kind}/${id}`);
    if (!a) return undefined;
    return { kind, id, partition: partitionOf(id), status: a.status, mailboxDepth: a.mailbox.length, restarts: a.restarts, lastError: null, state: a.state };
  }
  restartActor(kind: string, id: string): ActorActionResult {
    const a = this.actorsByKey.get(`${kind}/${id}`);
    if (!a) return { ok: false, notFound: true };
    a.restarts += 1;
    a.status = "active";
    this.actions.push(`restart ${kind}/${id}`);
    return { ok: true };
  }
  stopActor(kind: string, id: string): ActorActionResult {
    const a = this.actorsByKey.get(`${kind}/${id}`);
    if (!a) return { ok: false, notFound: true };
    if (a.status === "stopped") return { ok: false, notFound: false, reason: "already stopped" };
    a.status = "stopped";
    this.actions.push(`stop ${kind}/${id}`);
    return { ok: true };
  }
  addActor(kind: string, id: string, state: unknown, mailbox: unknown[] = []) {
    this.actorsByKey.set(`${kind}/${id}`, { kind, id, state, mailbox, restarts: 0, status: "active" });
  }
}

function silentLog() {
  return createLogger({ level: "silent" });
}

async function withServer(opts: { token?: string }, fn: (server: AdminServer, host: TestHost) => Promise<void>) {
  const host = new TestHost();
  const server = await startAdminServer({ host: "127.0.0.1", port: 0, token: opts.token, source: host, log: silentLog() });
  try {
    await fn(server, host);
  } finally {
    await server.close();
  }
}

async function get(server: AdminServer, path: string, init: RequestInit = {}) {
  const res = await fetch(server.url + path, init);
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text), headers: res.headers };
}

/** The JSON content type a script or curl sends: what the server asks of mutating requests without a token. */
const JSON_TYPE = { "content-type": "application/json" };

/** The body of a `transfer-encoding: chunked` answer. */
function dechunk(text: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/**
 * One HTTP/1.1 request written by hand on a socket, so Host and Origin are exactly what a browser
 * would send (fetch does not let a caller set Host): `Connection: close`, the answer read to the end.
 */
function rawRequest(port: number, method: string, path: string, headers: Record<string, string>, body = ""): Promise<{ status: number; headers: string; json: () => any }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (d) => (data += d));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head, ...rest] = data.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      let text = rest.join("\r\n\r\n");
      if (/\r\ntransfer-encoding: chunked/i.test(head)) text = dechunk(text);
      resolve({ status, headers: head.toLowerCase(), json: () => JSON.parse(text) });
    });
    const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `content-length: ${Buffer.byteLength(body)}`, "connection: close", "", body];
    socket.write(lines.join("\r\n"));
  });
}

test("admin - /health lists each dependency and turns 503 when one is down", async () => {
  await withServer({}, async (server, host) => {
    let r = await get(server, "/health");
    assert.is(r.status, 200);
    assert.equal(r.json(), { status: "ok", dependencies: [...host.deps.values()] });
    host.deps.set("nats", { name: "nats", ok: false, detail: "connection refused" });
    r = await get(server, "/health");
    assert.is(r.status, 503);
    assert.is(r.json().status, "down");
    assert.equal(r.json().dependencies[1], { name: "nats", ok: false, detail: "connection refused" });
  });
});

test("admin - /ready means advancing: a backlog without recent progress is 503", async () => {
  await withServer({}, async (server, host) => {
    host.progress.set("kind:vault-term", { lastProgressAt: host.clock.now(), backlog: 0 });
    host.progress.set("ingress:redis", { lastProgressAt: host.clock.now(), backlog: 40 });
    let r = await get(server, "/ready");
    assert.is(r.status, 200);
    assert.is(r.json().ready, true);
    await host.clock.advance(31_000);
    r = await get(server, "/ready");
    assert.is(r.status, 503);
    const redis = r.json().checks.find((c: { name: string }) => c.name === "ingress:redis");
    assert.is(redis.ready, false);
    assert.is(redis.detail, "40 waiting, no progress for 31000 ms (expected within 30000 ms)");
    // Idle and caught up stays ready however long ago the last progress was.
    assert.is(r.json().checks.find((c: { name: string }) => c.name === "kind:vault-term").ready, true);
  });
});

test("admin - /metrics serves the registry's exposition text", async () => {
  await withServer({}, async (server, host) => {
    host.handled.inc({ kind: "operator" }, 12);
    const r = await get(server, "/metrics");
    assert.is(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", "text/plain");
    assert.match(r.text, 'strata_messages_total{kind="operator"} 12');
  });
});

test("admin - /actors summarises per kind and /actors/:kind/:id shows state (bigints as strings)", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("worker-partition", "transcode|eu-central", { unpaidWei: 10n ** 18n, workers: 3 }, [{}, {}]);
    host.addActor("worker-partition", "ai|us-west", { unpaidWei: 0n, workers: 1 });
    host.addActor("vault-term", "0x01", { shares: "5" }, [{}]);
    const list = await get(server, "/actors");
    assert.is(list.status, 200);
    assert.equal(list.json().kinds, [
      { kind: "worker-partition", active: 2, mailboxDepth: 2, restarts: 0, failed: 0, deadLetters: 0, lastError: null },
      { kind: "vault-term", active: 1, mailboxDepth: 1, restarts: 0, failed: 0, deadLetters: 0, lastError: null },
    ]);
    const one = await get(server, `/actors/worker-partition/${encodeURIComponent("transcode|eu-central")}`);
    assert.is(one.status, 200);
    assert.equal(one.json(), {
      kind: "worker-partition",
      id: "transcode|eu-central",
      partition: 10,
      status: "active",
      mailboxDepth: 2,
      restarts: 0,
      lastError: null,
      state: { unpaidWei: "1000000000000000000", workers: 3 },
    });
    const missing = await get(server, "/actors/vault-term/0x99");
    assert.is(missing.status, 404);
    assert.is(missing.json().error, "no actor vault-term/0x99");
  });
});

test("admin - mutating routes need the bearer token when one is configured", async () => {
  await withServer({ token: "s3cret-token" }, async (server, host) => {
    host.addActor("operator", "0xabc", {});
    const none = await get(server, "/actors/operator/0xabc/restart", { method: "POST" });
    assert.is(none.status, 401);
    assert.is(none.headers.get("www-authenticate"), 'Bearer realm="strata-admin"');
    const wrong = await get(server, "/actors/operator/0xabc/restart", { method: "POST", headers: { authorization: "Bearer s3cret-tokeN" } });
    assert.is(wrong.status, 401);
    const short = await get(server, "/actors/operator/0xabc/restart", { method: "POST", headers: { authorization: "Bearer s3cret" } });
    assert.is(short.status, 401);
    assert.equal(host.actions, []);
    const ok = await get(server, "/actors/operator/0xabc/restart", { method: "POST", headers: { authorization: "Bearer s3cret-token" } });
    assert.is(ok.status, 200);
    assert.equal(ok.json(), { ok: true, action: "restart", kind: "operator", id: "0xabc" });
    const stop = await get(server, "/actors/operator/0xabc/stop", { method: "POST", headers: { authorization: "Bearer s3cret-token" } });
    assert.is(stop.status, 200);
    const again = await get(server, "/actors/operator/0xabc/stop", { method: "POST", headers: { authorization: "Bearer s3cret-token" } });
    assert.is(again.status, 409);
    assert.is(again.json().error, "already stopped");
    const gone = await get(server, "/actors/operator/0xdef/stop", { method: "POST", headers: { authorization: "Bearer s3cret-token" } });
    assert.is(gone.status, 404);
    assert.equal(host.actions, ["restart operator/0xabc", "stop operator/0xabc"]);
    // Read routes stay open for probes.
    assert.is((await get(server, "/health")).status, 200);
  });
});

test("admin - without a token mutating routes are served on loopback only", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("network", "torus", {});
    const r = await get(server, "/actors/network/torus/stop", { method: "POST", headers: JSON_TYPE });
    assert.is(r.status, 200);
    assert.equal(host.actions, ["stop network/torus"]);
  });
  for (const bindHost of ["0.0.0.0", "::", "10.1.2.3"]) {
    try {
      await startAdminServer({ host: bindHost, port: 0, source: new TestHost(), log: silentLog() });
      assert.unreachable(`bound ${bindHost} without a token`);
    } catch (err) {
      assert.instance(err, AdminBindError);
      assert.match((err as Error).message, `ADMIN_HOST=${bindHost} is not a loopback address: set ADMIN_TOKEN`);
    }
  }
});

test("admin - unknown routes are 404, wrong methods 405 with Allow, bad JSON 400", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("network", "torus", {});
    assert.is((await get(server, "/nope")).status, 404);
    const wrongMethod = await get(server, "/actors/network/torus/restart");
    assert.is(wrongMethod.status, 405);
    assert.is(wrongMethod.headers.get("allow"), "POST");
    const bad = await get(server, "/actors/network/torus/restart", { method: "POST", body: "{not json", headers: { "content-type": "application/json" } });
    assert.is(bad.status, 400);
    assert.equal(host.actions, []);
  });
});

test("admin - extra routes plug into the router", async () => {
  const host = new TestHost();
  const server = await startAdminServer({
    host: "127.0.0.1",
    port: 0,
    source: host,
    log: silentLog(),
    routes: [{ method: "POST", pattern: "/runs/:network", mutating: true, handler: (req) => ({ status: 202, json: { network: req.params.network, body: req.body } }) }],
  });
  try {
    const r = await get(server, "/runs/torus", { method: "POST", body: JSON.stringify({ day: "2025-01-01" }), headers: JSON_TYPE });
    assert.is(r.status, 202);
    assert.equal(r.json(), { network: "torus", body: { day: "2025-01-01" } });
    assert.ok((await get(server, "/")).json().routes.includes("POST /runs/:network (token)"));
  } finally {
    await server.close();
  }
});

// Regression (security review): without ADMIN_TOKEN the loopback server served any request, so a
// web page in a browser on the same machine could POST a "simple" text/plain request (no CORS
// preflight) to a mutating route, and read GET routes through DNS rebinding.

test("admin guard - without a token a text/plain or form POST (a browser's simple request) is refused with 415", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("network", "torus", {});
    for (const type of ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const r = await rawRequest(server.port, "POST", "/actors/network/torus/stop", { host: `127.0.0.1:${server.port}`, "content-type": type }, '{"x":1}');
      assert.is(r.status, 415, type);
      assert.match(r.json().error, "needs content-type: application/json");
    }
    const none = await rawRequest(server.port, "POST", "/actors/network/torus/stop", { host: `127.0.0.1:${server.port}` });
    assert.is(none.status, 415);
    assert.match(none.json().error, "(got none)");
    assert.equal(host.actions, []);
  });
});

test("admin guard - without a token a mutating request with an Origin header is refused with 403, even as JSON", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("network", "torus", {});
    for (const origin of ["https://evil.example", "null", `http://127.0.0.1:${server.port}`]) {
      const r = await rawRequest(server.port, "POST", "/actors/network/torus/stop", { host: `127.0.0.1:${server.port}`, origin, ...JSON_TYPE }, "{}");
      assert.is(r.status, 403, origin);
      assert.match(r.json().error, "cross-origin request refused");
    }
    assert.equal(host.actions, []);
    // Read routes do not care about Origin (a browser cannot read the answer without CORS headers).
    assert.is((await rawRequest(server.port, "GET", "/health", { host: `127.0.0.1:${server.port}`, origin: "https://evil.example" })).status, 200);
  });
});

test("admin guard - a Host that is not loopback with this port (DNS rebinding) is refused on every route", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("network", "torus", {});
    const port = server.port;
    for (const h of [`evil.example:${port}`, "evil.example", `127.0.0.1:${port + 1}`, `127.0.0.1.nip.io:${port}`, `10.0.0.5:${port}`]) {
      const read = await rawRequest(port, "GET", "/actors/network/torus", { host: h });
      assert.is(read.status, 403, h);
      assert.match(read.json().error, `Host ${JSON.stringify(h)} is not this loopback admin endpoint`);
      assert.not.match(JSON.stringify(read.json()), "torus\"", "nothing of the answer leaks");
      const write = await rawRequest(port, "POST", "/actors/network/torus/stop", { host: h, ...JSON_TYPE }, "{}");
      assert.is(write.status, 403, h);
    }
    // No Host at all: 400 (from node:http itself on Node, from the guard where the runtime lets it through).
    assert.is((await rawRequest(port, "GET", "/health", {})).status, 400);
    assert.equal(host.actions, []);
  });
});

test("admin guard - a curl-like request (loopback Host, no Origin, JSON) is still served without a token", async () => {
  await withServer({}, async (server, host) => {
    host.addActor("network", "torus", {});
    for (const h of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `LOCALHOST:${server.port}`, `[::1]:${server.port}`]) {
      assert.is((await rawRequest(server.port, "GET", "/health", { host: h })).status, 200, h);
    }
    const r = await rawRequest(server.port, "POST", "/actors/network/torus/restart", { host: `localhost:${server.port}`, "content-type": "application/json; charset=utf-8", "user-agent": "curl/8.5.0" });
    assert.is(r.status, 200);
    // fetch from a script sends no Origin either.
    assert.is((await get(server, "/actors/network/torus/stop", { method: "POST", headers: JSON_TYPE })).status, 200);
    assert.equal(host.actions, ["restart network/torus", "stop network/torus"]);
  });
});

test("admin guard - a CORS preflight is never approved", async () => {
  await withServer({}, async (server) => {
    const r = await rawRequest(server.port, "OPTIONS", "/actors/network/torus/stop", {
      host: `127.0.0.1:${server.port}`,
      origin: "https://evil.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type",
    });
    assert.is(r.status, 405);
    assert.not.match(r.headers, "access-control-allow");
  });
});

test("admin guard - token mode: the bearer decides mutating routes as before, whatever the Origin or content type", async () => {
  await withServer({ token: "s3cret-token" }, async (server, host) => {
    host.addActor("network", "torus", {});
    const loopback = `127.0.0.1:${server.port}`;
    const none = await rawRequest(server.port, "POST", "/actors/network/torus/stop", { host: loopback, ...JSON_TYPE }, "{}");
    assert.is(none.status, 401);
    assert.match(none.headers, 'www-authenticate: bearer realm="strata-admin"');
    const withToken = await rawRequest(server.port, "POST", "/actors/network/torus/restart", { host: loopback, authorization: "Bearer s3cret-token", origin: "https://ops.example", "content-type": "text/plain" });
    assert.is(withToken.status, 200);
    // Bound to loopback: a foreign Host is refused unless the token comes with it.
    assert.is((await rawRequest(server.port, "GET", "/health", { host: `evil.example:${server.port}` })).status, 403);
    assert.is((await rawRequest(server.port, "GET", "/health", { host: `evil.example:${server.port}`, authorization: "Bearer s3cret-token" })).status, 200);
    assert.equal(host.actions, ["restart network/torus"]);
  });
  // Bound beyond loopback (only possible with a token): reached under names it cannot know, so
  // read routes answer any Host (probes, scrapers) and mutating ones need the token.
  const host = new TestHost();
  host.addActor("network", "torus", {});
  const server = await startAdminServer({ host: "0.0.0.0", port: 0, token: "s3cret-token", source: host, log: silentLog() });
  try {
    assert.is((await rawRequest(server.port, "GET", "/health", { host: `strata-0.strata.svc:${server.port}` })).status, 200);
    assert.is((await rawRequest(server.port, "POST", "/actors/network/torus/stop", { host: `strata-0.strata.svc:${server.port}`, ...JSON_TYPE }, "{}")).status, 401);
    assert.is((await rawRequest(server.port, "POST", "/actors/network/torus/stop", { host: `strata-0.strata.svc:${server.port}`, authorization: "Bearer s3cret-token" })).status, 200);
  } finally {
    await server.close();
  }
});

test("admin - every answer goes through the scrub (a secret in a /health detail is masked)", async () => {
  const host = new TestHost();
  host.deps.set("eth-rpc", { name: "eth-rpc", ok: false, detail: "eth-rpc https://rpc.example/v2/SECRETKEY123: fetch failed" });
  const server = await startAdminServer({ host: "127.0.0.1", port: 0, source: host, log: silentLog(), scrub: (t) => t.split("https://rpc.example/v2/SECRETKEY123").join("https://rpc.example/***") });
  try {
    const r = await get(server, "/health");
    assert.not.match(r.text, "SECRETKEY123");
    assert.is(r.json().dependencies[2].detail, "eth-rpc https://rpc.example/***: fetch failed");
  } finally {
    await server.close();
  }
});

test.run();
