/**
 * Child process of idle-keepalive.test.ts (not a test file itself): an ActorSystem on the system
 * clock whose only pending work is an actor in backoff (an outage: a refused connection). Its
 * restart timer is unref'd (clock.ts), as every runtime timer on the system clock is, so nothing
 * but whenIdle() itself can keep this process alive — as in `strata import`.
 *
 *   backoff  one failure, then the message applies: prints `idle: applied [1]` after whenIdle.
 *   stuck    a handler that never returns: whenIdle() times out, and so does stop() (it waits
 *            for running handlers) — what a host's stop does with its bounds — and the process
 *            must then exit by itself (prints `gave up`).
 */
import process from "node:process";
import { pino } from "pino";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import type { ActorKind } from "../../supervisors/actor-kind.ts";
import type { Db, Queryable } from "../../db/db.ts";

const mode = process.argv[2];
if (mode !== "backoff" && mode !== "stuck") throw new Error(`usage: idle-keepalive-child.ts backoff|stuck (got ${mode})`);

/** Saves nothing: no connection may hold the event loop here. */
const memoryDb: Db = {
  dialect: "postgres",
  query: async () => ({ rows: [], rowCount: 0 }),
  transaction: async <T>(fn: (tx: Queryable) => Promise<T>) => fn(memoryDb),
  close: async () => {},
};

const saved = new Map<string, number[]>();
let failures = 1;

const kind: ActorKind<{ entries: number[] }> = {
  kind: "keepalive",
  initial: () => ({ entries: [] }),
  load: async (_db, ids) => new Map(ids.flatMap((id) => (saved.has(id) ? [[id, { entries: saved.get(id)! }] as const] : []))),
  save: async (_tx, entries) => {
    for (const e of entries) saved.set(e.entityId, e.state.entries);
  },
  handle: (state, msg) => {
    if (msg.type === "hang") return new Promise<never>(() => {}); // holds nothing: no timer, no socket
    if (failures > 0) {
      failures--;
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    }
    return { state: { entries: [...state.entries, (msg.body as { n: number }).n] } };
  },
  options: { restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 400, maxDelayMs: 400, jitter: 0 } },
};

/** What a host's stop does with each step: wait at most `ms`, then go on. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = await Promise.race([
    p.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return done;
}

/**
 * No top-level await: with one, Deno keeps the process alive for the pending module promise
 * (unref'd timers still fire), and Node exits with code 13 and a warning. A plain promise, as an
 * embedding program might run it, shows the bug on both: a silent exit with code 0.
 */
async function main(): Promise<void> {
  const system = new ActorSystem({ db: memoryDb, log: pino({ level: "silent" }), random: () => 0.5 });
  system.register(kind);
  await system.start();

  if (mode === "backoff") {
    system.tell("keepalive", "k", "append", { n: 1 });
    await system.whenIdle();
    console.log(`idle: applied ${JSON.stringify(saved.get("k") ?? null)}`);
    await system.stop();
  } else {
    system.tell("keepalive", "k", "hang", {});
    console.log(`idle: ${await within(system.whenIdle(), 300)}`);
    console.log(`stopped: ${await within(system.stop(), 300)}`);
    console.log("gave up");
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
