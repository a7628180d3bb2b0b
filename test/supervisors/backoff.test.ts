/** Restart backoff and the restart window: pure functions, listed delays. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { backoffDelay, restartsInWindow, shouldEscalate } from "../../supervisors/backoff.ts";

const policy = { baseDelayMs: 100, maxDelayMs: 5_000, jitter: 0.2, maxRestarts: 3, windowMs: 10_000 };

test("backoff - delays double per attempt up to the cap (no jitter at random 0.5)", () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, policy, () => 0.5));
  assert.equal(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
});

test("backoff - jitter spreads a delay by ± the jitter fraction", () => {
  assert.is(backoffDelay(3, policy, () => 0), 320);
  assert.is(backoffDelay(3, policy, () => 1), 480);
  assert.is(backoffDelay(3, policy, () => 0.75), 440);
  // Jitter never pushes past the cap.
  assert.is(backoffDelay(20, policy, () => 1), 5000);
  assert.is(backoffDelay(2000, policy, () => 0.5), 5000, "huge attempts do not overflow");
});

test("backoff - attempt must be a positive integer", () => {
  assert.throws(() => backoffDelay(0, policy), /attempt must be/);
  assert.throws(() => backoffDelay(1.5, policy), /attempt must be/);
});

test("backoff - escalation counts only restarts inside the window", () => {
  assert.equal(restartsInWindow([0, 5_000, 9_999, 12_000], 15_000, 10_000), [9_999, 12_000], "exactly windowMs ago is outside");
  assert.is(shouldEscalate([1_000, 2_000], 3_000, policy), false);
  assert.is(shouldEscalate([1_000, 2_000, 3_000], 4_000, policy), true);
  assert.is(shouldEscalate([1_000, 2_000, 3_000], 11_000, policy), false, "the first restart left the window");
});

test.run();
