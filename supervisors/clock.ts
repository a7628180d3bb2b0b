import { setImmediate } from "node:timers";
/**
 * Injected time. Production uses systemClock; tests use SimulatedClock and never sleep.
 * Everything that waits (backoff, passivation, restart windows, schedules, ask timeouts) takes a Clock.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

let nextId = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    // Timers must never keep a process alive on their own (Node: unref; Deno: Deno.unrefTimer).
    const maybe = t as unknown as { unref?: () => void };
    if (typeof maybe.unref === "function") maybe.unref();
    else if (typeof t === "number" && typeof (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer === "function") {
      (globalThis as unknown as { Deno: { unrefTimer(id: number): void } }).Deno.unrefTimer(t);
    }
    return { id: nextId++, ref: t } as TimerHandle;
  },
  clearTimeout(handle) {
    clearTimeout((handle as unknown as { ref: ReturnType<typeof setTimeout> }).ref);
  },
};

/** A clock that only moves when told. `advance` fires due timers in time order. */
export class SimulatedClock implements Clock {
  private current: number;
  private timers = new Map<number, { at: number; seq: number; fn: () => void }>();
  private seq = 0;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), seq: this.seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Number of timers waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** Delays (from now) of the waiting timers, soonest first. */
  pendingDelays(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.current).sort((a, b) => a - b);
  }

  /**
   * Move time forward by ms, firing every timer that falls due (including ones scheduled by
   * fired timers), letting promise callbacks run between firings.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await flushMicrotasks();
      let next: [number, { at: number; seq: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.current = next[1].at;
      next[1].fn();
    }
    this.current = target;
    await flushMicrotasks();
  }
}

/** Let queued promise callbacks run (a few macrotask turns, no wall-clock wait). */
export async function flushMicrotasks(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
