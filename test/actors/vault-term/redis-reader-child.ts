/**
 * Child process of redis-crash.test.ts: a vault-term Redis reader over a real database. With
 * HANG=before-commit:N it stops inside the N-th batch's transaction (writes done, COMMIT not sent);
 * with HANG=after-commit:N it stops after the N-th batch committed, before XACK. It prints `HANG`
 * and waits to be killed (SIGKILL). Without HANG it drains the stream, prints a JSON summary, exits.
 */
import process from "node:process";
import { openPgDb } from "../../../db/pg-db.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { createVaultTermRedisReader } from "../../../actors/vault-term/redis-ingest.ts";

const env = process.env;
const real = openPgDb(env.DATABASE_URL!, { max: 2 });
const [hangWhere, hangAt] = (env.HANG ?? "").split(":");
let batches = 0;
const forever = () => new Promise<never>(() => setInterval(() => {}, 60_000));
const hang = async () => {
  process.stdout.write("HANG\n");
  await forever();
};
const db: Db = {
  dialect: real.dialect,
  query: (sql, params) => real.query(sql, params),
  transaction: (fn) =>
    real.transaction(async (tx) => {
      const result = await fn(tx);
      if (hangWhere === "before-commit" && batches + 1 === Number(hangAt)) await hang();
      return result;
    }),
  close: () => real.close(),
};

const reader = createVaultTermRedisReader({
  db,
  deadLetters: new DeadLetterStore(db),
  redisUrl: env.REDIS_URL!,
  streams: env.STREAMS!.split(","),
  group: env.GROUP!,
  consumer: env.CONSUMER!,
  batchSize: Number(env.BATCH_SIZE ?? 25),
  batchTimeoutMs: 50,
  claimIdleMs: Number(env.CLAIM_IDLE_MS ?? 60_000),
  lanes: Number(env.LANES ?? 1),
  async onCommitted() {
    batches += 1;
    if (hangWhere === "after-commit" && batches === Number(hangAt)) await hang();
  },
});
const processed = await reader.drain();
process.stdout.write(JSON.stringify({ processed, claimed: reader.stats.claimed, batches }) + "\n");
await reader.stop();
await real.close();
