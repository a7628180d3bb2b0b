// Circuit breaker on a simulated clock: opens after the threshold, refuses calls while open,
// lets one trial through when half-open, closes on success and re-opens on failure.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { CircuitBreaker, type BreakerState } from "../../../actors/vault-term/circuit-breaker.ts";

test("circuit breaker - opens after threshold failures, half-opens after the timeout", async () => {
  const clock = new SimulatedClock(1000);
  const changes: BreakerState[] = [];
  const b = new CircuitBreaker("postgres", { threshold: 3, timeoutMs: 60_000, clock, onChange: (s) => changes.push(s) });
  b.failure(new Error("down"));
  b.failure(new Error("down"));
  assert.is(b.state, "closed");
  assert.ok(b.allows());
  b.failure(new Error("still down"));
  assert.is(b.state, "open");
  assert.not.ok(b.allows());
  assert.is(b.retryInMs(), 60_000);
  assert.is(b.lastError, "still down");
  await clock.advance(59_999);
  assert.not.ok(b.allows());
  await clock.advance(1);
  assert.is(b.state, "half-open");
  assert.ok(b.allows(), "one trial");
  assert.not.ok(b.allows(), "only one trial at a time");
  b.failure(new Error("nope"));
  assert.is(b.state, "open");
  await clock.advance(60_000);
  assert.ok(b.allows());
  b.success();
  assert.is(b.state, "closed");
  assert.equal(changes, ["open", "open", "closed"]);
});

test("circuit breaker - a success resets the consecutive failure count", () => {
  const clock = new SimulatedClock();
  const b = new CircuitBreaker("redis", { threshold: 2, timeoutMs: 10, clock });
  b.failure();
  b.success();
  b.failure();
  assert.is(b.state, "closed");
  b.failure();
  assert.is(b.state, "open");
});

test.run();
