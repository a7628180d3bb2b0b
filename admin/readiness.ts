/**
 * "Ready means advancing": a pure check of one ingress or kind from its last progress time and
 * its backlog. Idle with nothing waiting is ready; work waiting with no progress within the
 * expected interval is not (a stuck consumer is alive but not ready).
 */
import type { ReadinessCheck } from "./source.ts";

export interface ProgressInput {
  name: string;
  /** Epoch ms of the last progress, null = never. */
  lastProgressAt: number | null;
  /** Work waiting; 0 = caught up. */
  backlog: number;
  /** Progress expected at least this often while there is a backlog (ms). */
  expectedWithinMs: number;
  now: number;
  /** Set when the component is known to be down (circuit open, failed actor). */
  down?: string;
}

export function progressCheck(input: ProgressInput): ReadinessCheck {
  const base = { name: input.name, lastProgressAt: input.lastProgressAt, backlog: input.backlog };
  if (input.down) return { ...base, ready: false, detail: input.down };
  if (input.backlog <= 0) return { ...base, ready: true, detail: "caught up" };
  if (input.lastProgressAt === null) return { ...base, ready: false, detail: `${input.backlog} waiting, no progress yet` };
  const since = input.now - input.lastProgressAt;
  if (since > input.expectedWithinMs) {
    return { ...base, ready: false, detail: `${input.backlog} waiting, no progress for ${since} ms (expected within ${input.expectedWithinMs} ms)` };
  }
  return { ...base, ready: true, detail: `${input.backlog} waiting, advancing` };
}
