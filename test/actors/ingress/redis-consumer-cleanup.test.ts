// Redis stream reader against real Redis: stop() removes its own consumer from the group of each
// stream it reads when the consumer has nothing pending (default consumer names carry the pid, so
// before, every restart left one more consumer behind), and keeps a consumer that still holds an
// unacknowledged entry (XGROUP DELCONSUMER would drop the entry where no one could claim it): the
// entry stays pending and the same consumer reads it again at its next start.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { testEnv, uniqueName } from "../../support/env.ts";
import { RedisStreamReader, type RedisStreamReaderOptions } from "../../../actors/ingress/redis-stream-reader.ts";

const redis = new Redis(testEnv.redisUrl);
const keys: string[] = [];
const readers: RedisStreamReader[] = [];

async function stream(n: number): Promise<string> {
  const name = uniqueName("strata_test_consumers");
  keys.push(name);
  for (let i = 0; i < n; i++) await redis.xadd(name, "*", "data", JSON.stringify({ n: i }));
  return name;
}

function reader(opts: Partial<RedisStreamReaderOptions> & Pick<RedisStreamReaderOptions, "streams" | "consumer">): RedisStreamReader {
  const r = new RedisStreamReader({ redisUrl: testEnv.redisUrl, group: "g", batchSize: 10, batchTimeoutMs: 50, handle: async () => {}, ...opts });
  readers.push(r);
  return r;
}

/** XINFO CONSUMERS of the group: consumer name → its pending count. */
async function consumers(s: string, group = "g"): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of (await redis.xinfo("CONSUMERS", s, group)) as unknown[][]) {
    const info = new Map<string, unknown>();
    for (let i = 0; i + 1 < c.length; i += 2) info.set(String(c[i]), c[i + 1]);
    out[String(info.get("name"))] = Number(info.get("pending"));
  }
  return out;
}

const pendingIds = async (s: string, consumer: string) => ((await redis.xpending(s, "g", "-", "+", 100, consumer)) as [string, ...unknown[]][]).map((p) => p[0]);

test("stop - a reader with nothing pending leaves no consumer behind, in each stream it reads", async () => {
  const a = await stream(3);
  const b = await stream(2);
  const r = reader({ streams: [a, b], consumer: "consumer-host-111" });
  assert.is(await r.drain(), 5);
  assert.equal(await consumers(a), { "consumer-host-111": 0 }, "the consumer exists while the reader runs");
  assert.equal(await consumers(b), { "consumer-host-111": 0 });
  await r.stop();
  assert.equal(await consumers(a), {}, "removed from the first stream's group");
  assert.equal(await consumers(b), {}, "removed from the second stream's group");
});

test("stop - restarts with pid-based names do not pile up consumers; other consumers are left alone", async () => {
  const s = await stream(4);
  const other = reader({ streams: [s], consumer: "consumer-other-1", batchSize: 1 });
  assert.is((await other.readBatch({ block: false })).length, 1); // holds one entry, unacknowledged
  for (const pid of [201, 202, 203]) {
    const r = reader({ streams: [s], consumer: `consumer-host-${pid}` });
    await r.drain();
    await r.stop();
  }
  assert.equal(await consumers(s), { "consumer-other-1": 1 }, "only the consumer still reading is left");
});

test("stop - a reader with an entry pending keeps its consumer and the entry, read again at its next start", async () => {
  const s = await stream(3);
  const crashed = reader({ streams: [s], consumer: "consumer-host-301", batchSize: 2 });
  const batch = await crashed.readBatch({ block: false }); // delivered, never acknowledged
  assert.is(batch.length, 2);
  await crashed.stop();
  assert.equal(await consumers(s), { "consumer-host-301": 2 }, "the consumer holding entries stays");
  assert.equal(await pendingIds(s, "consumer-host-301"), batch.map((e) => e.id), "its entries are still pending, owned by it");
  const seen: string[] = [];
  const again = reader({ streams: [s], consumer: "consumer-host-301", handle: async (b) => void seen.push(...b.map((e) => e.id)) });
  assert.is(await again.drain(), 3);
  assert.equal(seen.slice(0, 2), batch.map((e) => e.id), "its own pending entries first");
  await again.stop();
  assert.equal(await consumers(s), {}, "gone once it has nothing pending");
});

test("stop - a reader that never reached Redis stops without touching the group", async () => {
  const s = await stream(1);
  await redis.xgroup("CREATE", s, "g", "0");
  const idle = reader({ streams: [s], consumer: "consumer-host-401" });
  await idle.stop();
  assert.equal(await consumers(s), {});
  assert.is(Number(((await redis.xinfo("GROUPS", s)) as unknown[]).length), 1, "the group is kept");
});

test.after(async () => {
  for (const r of readers) await r.stop().catch(() => {});
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

test.run();
