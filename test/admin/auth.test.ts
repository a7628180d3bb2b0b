/** admin auth and readiness: pure checks. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bearerAuthorized, isLoopbackHost, progressCheck, Router } from "../../admin/mod.ts";

test("admin auth - bearer token compared exactly", () => {
  assert.ok(bearerAuthorized("Bearer abc123", "abc123"));
  assert.ok(bearerAuthorized("bearer abc123", "abc123"));
  assert.not.ok(bearerAuthorized("Bearer abc12", "abc123"));
  assert.not.ok(bearerAuthorized("Bearer abc1234", "abc123"));
  assert.not.ok(bearerAuthorized("Basic abc123", "abc123"));
  assert.not.ok(bearerAuthorized("abc123", "abc123"));
  assert.not.ok(bearerAuthorized(undefined, "abc123"));
  assert.not.ok(bearerAuthorized("Bearer ", "abc123"));
});

test("admin auth - loopback hosts", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(h), h);
  for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.com", "128.0.0.1"]) assert.not.ok(isLoopbackHost(h), h);
});

test("admin readiness - idle is ready, stuck backlog is not, never-progressed backlog is not, down is not", () => {
  const now = 1_000_000;
  assert.is(progressCheck({ name: "k", lastProgressAt: null, backlog: 0, expectedWithinMs: 10, now }).ready, true);
  assert.is(progressCheck({ name: "k", lastProgressAt: now - 5, backlog: 3, expectedWithinMs: 10, now }).ready, true);
  assert.equal(progressCheck({ name: "k", lastProgressAt: now - 11, backlog: 3, expectedWithinMs: 10, now }), {
    name: "k",
    lastProgressAt: now - 11,
    backlog: 3,
    ready: false,
    detail: "3 waiting, no progress for 11 ms (expected within 10 ms)",
  });
  assert.is(progressCheck({ name: "k", lastProgressAt: null, backlog: 1, expectedWithinMs: 10, now }).detail, "1 waiting, no progress yet");
  assert.is(progressCheck({ name: "k", lastProgressAt: now, backlog: 0, expectedWithinMs: 10, now, down: "circuit open" }).ready, false);
});

test("admin router - params are decoded, methods separated", () => {
  const r = new Router();
  r.add("GET", "/actors/:kind/:id", () => ({ status: 200 }));
  r.add("POST", "/actors/:kind/:id/stop", () => ({ status: 200 }));
  const m = r.match("GET", "/actors/worker-partition/ai%7Cus-west");
  assert.ok(m.route);
  if (m.route) assert.equal(m.params, { kind: "worker-partition", id: "ai|us-west" });
  const wrong = r.match("GET", "/actors/a/b/stop");
  assert.is(wrong.route, undefined);
  if (!wrong.route) assert.equal(wrong.allowed, ["POST"]);
  assert.ok(r.list()[1].mutating);
  assert.not.ok(r.list()[0].mutating);
  assert.throws(() => r.add("GET", "nope", () => ({ status: 200 })), /must start with/);
});

test.run();
