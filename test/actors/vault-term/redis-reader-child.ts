/**
 * Child process of redis-crash.test.ts: a vault-term Redis reader over a real database, feeding
 * the vault-term actors (one per term; group commit over 2 lanes) of an actor system. With
 * HANG=before-commit:N it stops inside the N-th batch's journal transaction (writes done, COMMIT
 * not sent); with HANG=after-commit:N it stops after the N-th batch committed and its events were
 * sent to the actors, whose group commits are held open the same way, before XACK. It prints `HANG`
 * and waits to be killed (SIGKILL). Without HANG it catches up the terms left behind the journal,
 * drains the stream, waits for the actors, prints a JSON summary, exits.
 */
import process from "node:process";
import { openPgDb } from "../../../db/pg-db.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { createVaultTermRedisReader } from "../../../actors/vault-term/redis-ingest.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { catchUpVaultTerms, vaultTermKind } from "../../../actors/vault-term/term-actor-kind.ts";
import { tripleAnalyticsKind } from "../../../actors/vault-term/triple-analytics-kind.ts";
import pino from "pino";

const env = process.env;
const real = openPgDb(env.DATABASE_URL!, { max: 4 });
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

const log = pino({ level: "silent" });
// after-commit: the term actors' group commits never complete either (writes done, COMMIT not
// sent), so the kill lands between the journal commits and the actors' commits.
const actorDb: Db =
  hangWhere === "after-commit"
    ? { ...db, dialect: real.dialect, query: (sql, params) => real.query(sql, params), close: () => real.close(), transaction: (fn) => real.transaction(async (tx) => (await fn(tx), forever())) }
    : real;
const system = new ActorSystem({ db: actorDb, log, deadLetters: new DeadLetterStore(real) });
system.register(vaultTermKind({ lanes: 2 }));
system.register(tripleAnalyticsKind());
await system.start();
const caughtUp = hangWhere ? 0 : await catchUpVaultTerms(real, system);
const reader = createVaultTermRedisReader({
  system,
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
await system.whenIdle();
process.stdout.write(JSON.stringify({ processed, claimed: reader.stats.claimed, batches, caughtUp }) + "\n");
await reader.stop();
await system.stop();
await real.close();
