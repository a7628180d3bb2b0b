/**
 * Restart backoff and the restart window, as pure functions of their inputs.
 *
 * backoffDelay(attempt, policy, random): the delay before restart number `attempt` (1-based):
 *   base = min(maxDelayMs, baseDelayMs * 2^(attempt-1))
 *   delay = base * (1 + jitter * (2 * random() - 1)), clamped to [0, maxDelayMs], rounded to ms.
 * `random` is injected (Math.random in production, a fixed sequence in tests), so a test can list
 * the delays a policy produces.
 *
 * shouldEscalate(restartTimes, now, policy): more than `maxRestarts` restarts inside `windowMs`
 * escalates to the kind supervisor (the actor is marked failed).
 */
import type { RestartPolicy } from "./actor-kind.ts";

export type RandomSource = () => number;

export function backoffDelay(attempt: number, policy: Pick<RestartPolicy, "baseDelayMs" | "maxDelayMs" | "jitter">, random: RandomSource = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`);
  // 2^(attempt-1) overflows to Infinity for large attempts; min() keeps it at maxDelayMs.
  const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const r = Math.min(1, Math.max(0, random()));
  const jittered = base * (1 + policy.jitter * (2 * r - 1));
  return Math.round(Math.min(policy.maxDelayMs, Math.max(0, jittered)));
}

/** Restart times still inside the window ending at `now` (oldest first). */
export function restartsInWindow(restartTimes: readonly number[], now: number, windowMs: number): number[] {
  return restartTimes.filter((t) => now - t < windowMs);
}

/**
 * Whether one more restart at `now` would exceed the policy: true when `maxRestarts` restarts
 * already happened inside the window (the next would be restart maxRestarts + 1).
 */
export function shouldEscalate(restartTimes: readonly number[], now: number, policy: Pick<RestartPolicy, "maxRestarts" | "windowMs">): boolean {
  return restartsInWindow(restartTimes, now, policy.windowMs).length >= policy.maxRestarts;
}
