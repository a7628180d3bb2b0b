/**
 * Benchmark (not a test): EVENTS rindexer events over ~TERMS terms written to a Redis stream, then
 * consumed by READERS readers of one consumer group: each batch is journaled over LANES concurrent
 * transactions split by term partition (event rows + journaled counts, XACK after commit), its
 * fresh events sent to the vault-term actors (one per term, resident state, group commit over
 * LANES commit lanes), which queue and tell the triple-analytics partition actors, until every
 * table is consistent (stream drained, every term applied up to the journal, analytics queue empty).
 * `path=direct` measures the earlier path instead (journal + apply in one transaction, advisory locks).
 * Beside it, the raw ceiling measured in the same run: the same event rows inserted into the
 * event tables of a fresh database in multi-row batches with ON CONFLICT DO NOTHING over the same
 * number of connections as the readers' journal transactions (READERS × LANES), no other logic.
 * And the floor of the required writes (`required_writes_floor`): those event rows plus every row
 * of the domain's derived tables as the run left them, each written once with the same method
 * and connections — its ratio to the raw ceiling is the best ratio any implementation that keeps
 * those tables can reach here (it parses nothing, reads nothing, keeps no progress).
 * Also the CPU per event of the run (this process and the database backends serving it) beside
 * the raw insert's (`vault_term.cpu.ratio`: steadier than the wall-time ratio on a shared machine).
 * With `CPU_PROFILE=<file.cpuprofile>`, a V8 CPU profile of the ingest alone is written there.
 * Run: `npx tsx test/bench/vault-term.bench.ts [events=200000] [terms=20000] [lanes=4] [batch=2000] [readers=2] [analytics=on|off] [path=actors|direct] [actorLanes=min(4,lanes)]`
 */
import process from "node:process";
import { Redis } from "ioredis";
import pino from "pino";
import { createTestDatabase } from "../support/databases.ts";
import { testEnv, uniqueName } from "../support/env.ts";
import { migrate } from "../../db/migrate.ts";
import { DeadLetterStore } from "../../db/dead-letter-store.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { generateEvents } from "../../samples/vault-term/generate-events.ts";
import { createVaultTermRedisReader } from "../../actors/vault-term/redis-ingest.ts";
import { notifyAnalytics } from "../../actors/vault-term/service.ts";
import { tripleAnalyticsKind } from "../../actors/vault-term/triple-analytics-kind.ts";
import { vaultTermKind } from "../../actors/vault-term/term-actor-kind.ts";
import { laggingTerms } from "../../actors/vault-term/term-progress.ts";
import { parseRindexerMessage } from "../../actors/vault-term/rindexer-entry.ts";
import { appendEvents } from "../../actors/vault-term/event-journal.ts";
import type { VaultEvent } from "../../actors/vault-term/events.ts";
import type { Db } from "../../db/db.ts";
import { cpuSpent, cpuTimes, startCpuProfile } from "./cpu-times.ts";

const EVENTS = Number(process.argv[2] ?? 200_000);
const TERMS = Number(process.argv[3] ?? 20_000);
const LANES = Number(process.argv[4] ?? 4);
// Defaults are the product's: CONCURRENT_BATCHES readers (2), WORKERS lanes (4), min(4, WORKERS) actor lanes.
const READERS = Number(process.argv[6] ?? 2);
/** `off` measures ingest alone (the analytics queue is cleared at the end instead of processed). */
const ANALYTICS = (process.argv[7] ?? "on") !== "off";
const BATCH = Number(process.argv[5] ?? 2000);
const DIRECT = (process.argv[8] ?? "actors") === "direct";
const ACTOR_LANES = Number(process.argv[9] ?? Math.min(4, LANES));
const say = (line: string) => process.stderr.write(line + "\n");
/** The domain's derived tables, in an order that respects their keys. */
const DERIVED_TABLES = ["term", "atom", "triple", "vault", "position", "triple_vault", "triple_term", "predicate_object", "subject_predicate"];

const atoms = Math.round(TERMS * 0.4);
const triples = Math.round(TERMS * 0.3);
const started = performance.now();
const messages = generateEvents({ seed: 42, atoms, triples, accounts: Math.max(50, Math.round(TERMS / 10)), events: EVENTS - atoms - triples });
say(`generated ${messages.length} events over ${atoms + 2 * triples} terms in ${((performance.now() - started) / 1000).toFixed(1)} s`);

const redis = new Redis(testEnv.redisUrl);
const stream = uniqueName("strata_bench_rindexer");
const live = await createTestDatabase();
const raw = await createTestDatabase();
const log = pino({ level: "silent" });
const percentile = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
try {
  await migrate(live.db);
  await migrate(raw.db);
  for (let i = 0; i < messages.length; i += 1000) {
    const pipe = redis.pipeline();
    for (const m of messages.slice(i, i + 1000)) pipe.xadd(stream, "*", "event_data", JSON.stringify(m));
    await pipe.exec();
  }
  say(`stream ${stream} written`);

  // Strata end to end.
  const deadLetters = new DeadLetterStore(live.db, { log });
  const timing = { reader: 0, actors: 0 };
  const perStatement = new Map<string, number>();
  const timed = (name: keyof typeof timing): typeof live.db => ({
    ...live.db,
    dialect: live.db.dialect,
    query: (sql, params) => live.db.query(sql, params),
    close: () => live.db.close(),
    transaction: async (fn) => {
      const t = performance.now();
      try {
        return await live.db.transaction((tx) =>
          fn({
            query: async (sql: string, params?: unknown[]) => {
              const t0 = performance.now();
              try {
                return await tx.query(sql, params);
              } finally {
                const key = `${name} ${sql.replace(/\s+/g, " ").slice(0, 40)}`;
                perStatement.set(key, (perStatement.get(key) ?? 0) + performance.now() - t0);
              }
            },
          } as typeof tx),
        );
      } finally {
        timing[name] += performance.now() - t;
      }
    },
  });
  const system = new ActorSystem({ db: timed("actors"), log, deadLetters });
  const lags: number[] = [];
  system.register(tripleAnalyticsKind({ onCommitted: (l) => lags.push(...l) }));
  system.register(vaultTermKind({ lanes: ACTOR_LANES, analytics: ANALYTICS }));
  await system.start();
  const group = uniqueName("g");
  const readers = Array.from({ length: READERS }, (_, i) =>
    createVaultTermRedisReader({
      db: timed("reader"), deadLetters, redisUrl: testEnv.redisUrl, streams: [stream], group, consumer: `reader-${i}`, batchSize: BATCH, batchTimeoutMs: 50, log, lanes: LANES,
      system: DIRECT ? undefined : system,
      onCommitted: (s) => (ANALYTICS ? notifyAnalytics(system, s.analyticsTerms) : undefined),
    }),
  );
  const profile = process.env.CPU_PROFILE ? await startCpuProfile() : null;
  const cpu0 = await cpuTimes(live.db);
  const t0 = performance.now();
  await Promise.all(readers.map((r) => r.drain()));
  await system.whenIdle();
  if (profile) await profile.stop(process.env.CPU_PROFILE!);
  const strataCpu = cpuSpent(cpu0, await cpuTimes(live.db));
  if (!ANALYTICS) await live.db.query("DELETE FROM term_update_queue");
  const queued = await live.db.query<{ n: string }>("SELECT count(*)::text AS n FROM term_update_queue");
  const seconds = (performance.now() - t0) / 1000;
  const counted = await live.db.query<{ n: string }>(
    `SELECT ((SELECT count(*) FROM deposited_events) + (SELECT count(*) FROM redeemed_events) + (SELECT count(*) FROM share_price_changed_events)
           + (SELECT count(*) FROM atom_created_events) + (SELECT count(*) FROM triple_created_events))::text AS n`,
  );
  const behind = (await laggingTerms(live.db)).size;
  if (Number(counted.rows[0].n) !== messages.length || queued.rows[0].n !== "0" || behind !== 0) {
    throw new Error(`inconsistent: ${counted.rows[0].n} events, ${queued.rows[0].n} queued, ${behind} terms behind the journal`);
  }
  for (const k of ["vault-term", "vault-term-analytics"]) {
    const st = system.stats(k) as unknown as { commits: number; activations: number; processed: number };
    say(`${k}: ${st.processed} messages, ${st.activations} activations, ${st.commits} commits`);
  }
  for (const [k, ms] of [...perStatement].sort((a, b) => b[1] - a[1])) say(`  ${(ms / 1000).toFixed(2)} s ${k}`);
  say(`transaction time: reader ${(timing.reader / 1000).toFixed(1)} s, actors ${(timing.actors / 1000).toFixed(1)} s`);
  // Backends report their table statistics at most once a second, and an idle one up to ~10 s
  // later: read until two readings a second apart agree (at most 12 s).
  const readWritten = () =>
    live.db.query<{ relname: string; ins: string; upd: string; del: string; hot: string }>(
      `SELECT relname, n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del, n_tup_hot_upd::text AS hot FROM pg_stat_user_tables
        WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY n_tup_ins + n_tup_upd + n_tup_del DESC`,
    );
  const totalOf = (rows: { ins: string; upd: string; del: string }[]) => rows.reduce((n, r) => n + Number(r.ins) + Number(r.upd) + Number(r.del), 0);
  let written = await readWritten();
  for (let waited = 0; waited < 12_000; waited += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const again = await readWritten();
    const same = totalOf(again.rows) === totalOf(written.rows);
    written = again;
    if (same) break;
  }
  const rowWrites = totalOf(written.rows);
  say(`row writes ${rowWrites} (${(rowWrites / messages.length).toFixed(2)} per event): ${written.rows.map((r) => `${r.relname} +${r.ins}/~${r.upd}${r.upd === "0" ? "" : ` (${r.hot} HOT)`}/-${r.del}`).join(", ")}`);
  for (const r of readers) await r.stop();
  await system.stop();
  const endToEnd = messages.length / seconds;
  lags.sort((a, b) => a - b);

  // Raw ceiling: the same rows, multi-row ON CONFLICT DO NOTHING, over as many connections as
  // Strata's readers insert event rows on (READERS × LANES).
  const events: VaultEvent[] = messages.flatMap((m, i) => parseRindexerMessage(String(i), m)).flatMap((p) => (p.ok ? [p.event] : []));
  const batches: VaultEvent[][] = [];
  for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));
  const rawCpu0 = await cpuTimes(raw.db);
  const t1 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: READERS * LANES }, async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        await raw.db.transaction((tx) => appendEvents(tx, batch));
      }
    }),
  );
  const rawSeconds = (performance.now() - t1) / 1000;
  const rawCpu = cpuSpent(rawCpu0, await cpuTimes(raw.db));
  const rawRate = events.length / rawSeconds;

  // Floor of the required writes: the raw ceiling's event rows plus every row of the domain's
  // derived tables as the run left them, each written ONCE (perfect coalescing, no progress
  // counters, no queue, no reads, no logic), with the same method and connections. No
  // implementation that keeps these tables can beat it on this machine; its ratio to the raw
  // ceiling bounds the ratio any implementation can reach.
  const derived = await copyDerivedRows(live.db, raw.db, READERS * LANES);
  const floorRate = events.length / (rawSeconds + derived.seconds);

  process.stdout.write(`vault_term.end_to_end: ${endToEnd.toFixed(0)} events/s\n`);
  process.stdout.write(`vault_term.analytics_lag_p50: ${(percentile(lags, 50) * 1000).toFixed(0)} ms\n`);
  process.stdout.write(`vault_term.analytics_lag_p99: ${(percentile(lags, 99) * 1000).toFixed(0)} ms\n`);
  process.stdout.write(`vault_term.raw_insert_ceiling: ${rawRate.toFixed(0)} events/s\n`);
  process.stdout.write(`vault_term.end_to_end.ratio: ${(endToEnd / rawRate).toFixed(2)} x\n`);
  say(`derived rows written once by the floor: ${derived.rows} (${derived.perTable})`);
  // CPU per event (this process + the database backends serving it): steadier than events/s when
  // the machine is shared, and its ratio says how much more work an event costs than a raw insert.
  const usPerEvent = (c: { node: number; postgres: number | null }) => ((c.node + (c.postgres ?? 0)) * 1000) / messages.length;
  process.stdout.write(`vault_term.cpu_node: ${((strataCpu.node * 1000) / messages.length).toFixed(1)} us/event\n`);
  if (strataCpu.postgres !== null) process.stdout.write(`vault_term.cpu_postgres: ${((strataCpu.postgres * 1000) / messages.length).toFixed(1)} us/event\n`);
  process.stdout.write(`vault_term.raw_insert_cpu: ${usPerEvent(rawCpu).toFixed(1)} us/event\n`);
  process.stdout.write(`vault_term.cpu.ratio: ${(usPerEvent(rawCpu) / usPerEvent(strataCpu)).toFixed(2)} x\n`);
  process.stdout.write(`vault_term.required_writes_floor: ${floorRate.toFixed(0)} events/s\n`);
  process.stdout.write(`vault_term.required_writes_floor.ratio: ${(floorRate / rawRate).toFixed(2)} x\n`);
} finally {
  await redis.del(stream).catch(() => {});
  await redis.quit();
  await live.drop();
  await raw.drop();
}


/**
 * Copies every row of the derived tables from `from` into the same (empty) tables of `to` in
 * multi-row `INSERT … SELECT FROM unnest(text arrays)` statements of BATCH rows over `connections`
 * connections, values cast from text as Strata's own statements do. Only the inserts are timed.
 */
async function copyDerivedRows(from: Db, to: Db, connections: number): Promise<{ seconds: number; rows: number; perTable: string }> {
  const statements: { sql: string; params: string[][] }[] = [];
  const counts: string[] = [];
  let rows = 0;
  for (const table of DERIVED_TABLES) {
    const cols = await from.query<{ name: string; type: string }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table],
    );
    const names = cols.rows.map((c) => `"${c.name}"`);
    const data = await from.query<Record<string, string | null>>(`SELECT ${names.map((n) => `${n}::text AS ${n}`).join(", ")} FROM ${table}`);
    counts.push(`${table} ${data.rows.length}`);
    rows += data.rows.length;
    const sql = `INSERT INTO ${table} (${names.join(", ")})
      SELECT ${cols.rows.map((c, i) => `c${i}::${c.type}`).join(", ")}
        FROM unnest(${cols.rows.map((_, i) => `$${i + 1}::text[]`).join(", ")}) AS u(${cols.rows.map((_, i) => `c${i}`).join(", ")})`;
    for (let i = 0; i < data.rows.length; i += BATCH) {
      const chunk = data.rows.slice(i, i + BATCH);
      statements.push({ sql, params: cols.rows.map((c) => chunk.map((r) => r[c.name] as string)) });
    }
  }
  const t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < statements.length) {
        const st = statements[next++];
        await to.transaction((tx) => tx.query(st.sql, st.params));
      }
    }),
  );
  return { seconds: (performance.now() - t) / 1000, rows, perTable: counts.join(", ") };
}
