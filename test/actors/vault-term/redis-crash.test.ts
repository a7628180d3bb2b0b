// vault-term from a real Redis stream into a real PostgreSQL, with reader processes killed by
// SIGKILL mid-batch (inside the lanes' journal transactions, and after the journal commit but
// before XACK and before the term actors' group commit) and restarted
// (same consumer name, then another consumer claiming the dead one's entries with XAUTOCLAIM):
// nothing is lost, nothing is double-counted — the tables equal a direct, uninterrupted ingest.
import { test } from "uvu";
import * as assert from "uvu/assert";
import process from "node:process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { testEnv, uniqueName } from "../../support/env.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { countDeadLetters } from "../../../db/dead-letter-store.ts";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { count, drainAnalytics, dumpDerived, ingest } from "./fixture.ts";

const CHILD = fileURLToPath(new URL("./redis-reader-child.ts", import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

interface Child {
  lines: string[];
  waitFor(line: string): Promise<void>;
  exit: Promise<number | null>;
  kill(): void;
}

function startChild(env: Record<string, string>): Child {
  const args = isDeno ? ["run", "-A", CHILD] : ["--import", "tsx", CHILD];
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: { line: string; resolve: () => void }[] = [];
  let buffer = "";
  let stderr = "";
  proc.stdout!.on("data", (chunk: Uint8Array) => {
    buffer += new TextDecoder().decode(chunk);
    let i: number;
    while ((i = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      lines.push(line);
      for (const w of waiters.filter((w) => w.line === line)) w.resolve();
    }
  });
  proc.stderr!.on("data", (chunk: Uint8Array) => (stderr += new TextDecoder().decode(chunk)));
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    lines,
    exit,
    kill: () => proc.kill("SIGKILL"),
    waitFor: (line) =>
      new Promise<void>((resolve, reject) => {
        if (lines.includes(line)) return resolve();
        waiters.push({ line, resolve });
        exit.then((code) => reject(new Error(`child exited (${code}) before printing ${line}: ${stderr.slice(-2000)}`)));
      }),
  };
}

test("redis crash - readers killed mid-batch and restarted lose nothing and double-count nothing", async () => {
  const live = await createTestDatabase();
  const reference = await createTestDatabase();
  const redis = new Redis(testEnv.redisUrl);
  const stream = uniqueName("strata_test_rindexer");
  const group = uniqueName("g");
  try {
    await migrate(live.db);
    await migrate(reference.db);
    const messages = generateEvents({ seed: 21, atoms: 15, triples: 10, accounts: 10, events: 300 });
    // Some entries carry arrays (one message per element), one is malformed.
    const pipe = redis.pipeline();
    let malformed = false;
    for (let i = 0; i < messages.length; ) {
      const n = i % 7 === 3 ? 3 : 1;
      const chunk = messages.slice(i, i + n);
      const body = n === 1 ? chunk[0] : { ...chunk[0], event_data: chunk.map((m) => m.event_data) };
      // An array entry needs one event name: only group consecutive messages of the same event.
      if (n > 1 && !chunk.every((m) => m.event_name === chunk[0].event_name)) {
        for (const m of chunk) pipe.xadd(stream, "*", "event_data", JSON.stringify(m));
      } else pipe.xadd(stream, "*", "event_data", JSON.stringify(body));
      if (i >= 40 && !malformed) {
        pipe.xadd(stream, "*", "event_data", "{malformed");
        malformed = true;
      }
      i += n;
    }
    await pipe.exec();

    const env = { DATABASE_URL: live.url, REDIS_URL: testEnv.redisUrl, STREAMS: stream, GROUP: group, BATCH_SIZE: "20", LANES: "2" };
    const a = startChild({ ...env, CONSUMER: "c1", HANG: "before-commit:3" });
    await a.waitFor("HANG");
    a.kill();
    await a.exit;
    const b = startChild({ ...env, CONSUMER: "c1", HANG: "after-commit:3" });
    await b.waitFor("HANG");
    b.kill();
    await b.exit;
    const pendingAfterKills = Number(((await redis.xpending(stream, group)) as [number])[0]);
    assert.ok(pendingAfterKills > 0, "the killed reader left unacknowledged entries");
    const c = startChild({ ...env, CONSUMER: "c2", CLAIM_IDLE_MS: "0" });
    assert.is(await c.exit, 0);
    const summary = JSON.parse(c.lines.at(-1)!);
    assert.ok(summary.claimed >= pendingAfterKills, `claimed ${summary.claimed} of ${pendingAfterKills} pending`);
    assert.ok(summary.caughtUp > 0, "terms journaled before the kill but not applied were caught up from the journal");
    assert.is(Number(((await redis.xpending(stream, group)) as [number])[0]), 0);
    await drainAnalytics(live.db);

    await ingest(reference.db, messages);
    const events = (db: typeof live.db) =>
      Promise.all(["atom_created_events", "triple_created_events", "deposited_events", "redeemed_events", "share_price_changed_events"].map((t) => count(db, t)));
    assert.equal(await events(live.db), await events(reference.db));
    assert.is((await events(live.db)).reduce((x, y) => x + y), messages.length);
    assert.equal(await dumpDerived(live.db), await dumpDerived(reference.db));
    assert.is(await countDeadLetters(live.db, "vault-term"), 1);
  } finally {
    await redis.del(stream).catch(() => {});
    await redis.quit();
    await live.drop();
    await reference.drop();
  }
});

test.run();
