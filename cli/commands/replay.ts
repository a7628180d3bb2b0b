/**
 * `strata replay --kind vault-term|worker-partition [--entity ID] [--dry-run]`: rebuild every
 * derived table of a kind from its journal (DESIGN rule 5, replay equals live) and report, per
 * derived table, the rows and a checksum before and after, and which tables differ.
 *
 *   vault-term        replayVaultTerm: truncate the derived tables, re-apply the event tables,
 *                     recompute every triple's analytics (all terms; --entity is refused).
 *   worker-partition  per partition (all active ones, or --entity `node_type|region`): reset
 *                     its derived state and actor offset (resetPartitionState), then ask the
 *                     partition actor to catch up from the journal.
 *   --dry-run         the same rebuild inside ONE transaction that is rolled back: the report
 *                     shows what a replay would change, the database is left as it was.
 *   --from / --to     refused: not supported yet.
 *
 * The checksum of a table is md5 over its rows' text in a stable order, leaving out wall-clock
 * columns (a `now()` default, `processed_at`, `last_attempt_at`) and, for the analytics work
 * queue, everything but the term id: those differ between two correct runs.
 * Run it with the host stopped: a resident actor of the same entity would race the rebuild.
 */
import pino from "pino";
import { loadConfig } from "../../config/load-config.ts";
import type { Db, Queryable, QueryResult } from "../../db/db.ts";
import { DeadLetterStore } from "../../db/dead-letter-store.ts";
import { HOST_APPLICATION_NAME } from "../../db/open-db.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { systemClock } from "../../supervisors/clock.ts";
import { replayVaultTerm, DERIVED_TABLES as VAULT_TERM_TABLES } from "../../actors/vault-term/replay.ts";
import { DERIVED_TABLES as WORKER_TABLES, loadParamsPlans, resetPartitionState } from "../../actors/worker-partition/store.ts";
import { ACTIVE_PARTITIONS, requirePartition } from "../../actors/worker-partition/partitions.ts";
import { WORKER_PARTITION_KIND } from "../../actors/worker-partition/journal.ts";
import { registerWorkerPartition } from "../../actors/worker-partition/wire.ts";
import { workerPartitionSettings } from "../../actors/worker-partition/config.ts";
import { paymentsConfig } from "../../actors/worker-partition/payments/config.ts";
import type { StrataConfig } from "../../config/load-config.ts";
import { configFlagOptions, configFlags, UsageError } from "./command.ts";
import type { Command } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";
import { isLocalKind, LOCAL_KINDS, openConfiguredDb } from "./local-runtime.ts";
import type { LocalKind } from "./local-runtime.ts";

export interface TableState {
  rows: number;
  checksum: string;
}

export interface TableDiff {
  table: string;
  before: TableState;
  after: TableState;
  differs: boolean;
}

export interface ReplayReport {
  kind: LocalKind;
  entity: string | null;
  dryRun: boolean;
  tables: TableDiff[];
  /** Names of the tables whose rows or checksum changed. */
  differing: string[];
}

/** Columns left out of a checksum: wall-clock values that differ between two correct runs. */
const WALL_CLOCK_COLUMNS = new Set(["processed_at", "last_attempt_at"]);
/** Work queues: only which keys are queued is state; ids, versions and attempts are not. */
const KEY_ONLY: Record<string, string[]> = { term_update_queue: ["term_id"] };

async function checksumColumns(q: Queryable, table: string): Promise<string[]> {
  if (KEY_ONLY[table]) return KEY_ONLY[table];
  const res = await q.query<{ column_name: string; column_default: string | null }>(
    `SELECT column_name, column_default FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  if (res.rows.length === 0) throw new Error(`derived table ${table} does not exist (migrations applied?)`);
  return res.rows
    .filter((c) => !WALL_CLOCK_COLUMNS.has(c.column_name) && !/now\(\)|current_timestamp/i.test(c.column_default ?? ""))
    .map((c) => c.column_name);
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Rows and checksum of one derived table (optionally one partition's rows). */
export async function tableState(q: Queryable, table: string, scope?: { column: string; value: string }): Promise<TableState> {
  const cols = await checksumColumns(q, table);
  const row = `ROW(${cols.map(ident).join(", ")})::text`;
  const where = scope ? `WHERE ${ident(scope.column)} = $1` : "";
  const res = await q.query<{ n: string; sum: string }>(
    `SELECT count(*)::text AS n, md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) AS sum FROM (SELECT ${row} AS r FROM ${ident(table)} ${where}) t`,
    scope ? [scope.value] : [],
  );
  return { rows: Number(res.rows[0].n), checksum: res.rows[0].sum };
}

async function snapshot(q: Queryable, tables: readonly string[], scope?: { column: string; value: string }): Promise<Map<string, TableState>> {
  const out = new Map<string, TableState>();
  for (const t of tables) out.set(t, await tableState(q, t, scope));
  return out;
}

/**
 * A Db bound to one open transaction, for the dry run: queries go to it, and `transaction()`
 * becomes a savepoint (one at a time), so code that opens its own transactions runs unchanged
 * inside the outer one, which the caller rolls back.
 */
export function transactionBoundDb(tx: Queryable, dialect: Db["dialect"]): Db {
  let chain: Promise<unknown> = Promise.resolve();
  let n = 0;
  return {
    dialect,
    query: <R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => tx.query<R>(sql, params),
    transaction<T>(fn: (inner: Queryable) => Promise<T>): Promise<T> {
      const run = async (): Promise<T> => {
        const sp = `strata_dry_run_${++n}`;
        await tx.query(`SAVEPOINT ${sp}`);
        try {
          const result = await fn(tx);
          await tx.query(`RELEASE SAVEPOINT ${sp}`);
          return result;
        } catch (err) {
          await tx.query(`ROLLBACK TO SAVEPOINT ${sp}`);
          throw err;
        }
      };
      const p = chain.then(run, run);
      chain = p.catch(() => {});
      return p;
    },
    close: async () => {},
  };
}

class DryRunRollback extends Error {}

type Progress = (done: number, total: number, label: string) => void;

function progressBar(write: (line: string) => void): Progress {
  return (done, total, label) => {
    const width = 24;
    const filled = total === 0 ? width : Math.round((done / total) * width);
    write(`replay [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${label}`);
  };
}

/** The rebuild itself, on any Db (the real one, or a transaction-bound one for a dry run). */
async function rebuild(db: Db, config: StrataConfig, kind: LocalKind, entity: string | null, progress: Progress): Promise<void> {
  if (kind === "vault-term") {
    progress(0, 1, "vault-term: re-applying the event tables");
    const s = await replayVaultTerm(db);
    progress(1, 1, `vault-term: ${s.events} events, ${s.terms} terms, ${s.triples} triples`);
    return;
  }
  const partitions = entity ? [entity] : [...ACTIVE_PARTITIONS];
  const log = pino({ level: "silent" });
  const deadLetters = new DeadLetterStore(db, { log });
  const system = new ActorSystem({ db, clock: systemClock, log, deadLetters, partitions: config.partitions });
  const settings = workerPartitionSettings(config);
  // The events live applied are re-applied with the commission and TTL recorded for them, not
  // with this command's configuration (which would re-price every past job under the payments).
  const paramsPlans = await loadParamsPlans(db, partitions, settings);
  registerWorkerPartition(system, settings, { paymentThresholdWei: config.section(paymentsConfig).paymentThresholdWei, paramsPlans });
  await system.start();
  try {
    for (let i = 0; i < partitions.length; i++) {
      progress(i, partitions.length, `worker-partition ${partitions[i]}`);
      await db.transaction((tx) => resetPartitionState(tx, partitions[i]));
      await system.ask(WORKER_PARTITION_KIND, partitions[i], "catch-up", {}, { timeoutMs: 30 * 60_000 });
    }
    await system.whenIdle();
    progress(partitions.length, partitions.length, "worker-partition: done");
  } finally {
    await system.stop();
  }
}

export interface ReplayOptions {
  kind: LocalKind;
  entity?: string | null;
  dryRun?: boolean;
  progress?: Progress;
}

/** Rebuilds and reports; with dryRun the database is left unchanged. */
export async function replayKind(db: Db, config: StrataConfig, opts: ReplayOptions): Promise<ReplayReport> {
  const entity = opts.entity ?? null;
  const progress = opts.progress ?? (() => {});
  let tables: readonly string[];
  let scope: { column: string; value: string } | undefined;
  if (opts.kind === "vault-term") {
    if (entity) throw new UsageError("--entity is not supported for vault-term: its replay rebuilds every term (aggregates and analytics span terms)");
    tables = VAULT_TERM_TABLES;
  } else {
    if (entity) requirePartition(entity);
    tables = WORKER_TABLES;
    scope = entity ? { column: "partition_id", value: entity } : undefined;
  }
  const report = (before: Map<string, TableState>, after: Map<string, TableState>): ReplayReport => {
    const diffs = tables.map((t) => {
      const b = before.get(t)!;
      const a = after.get(t)!;
      return { table: t, before: b, after: a, differs: b.rows !== a.rows || b.checksum !== a.checksum };
    });
    return { kind: opts.kind, entity, dryRun: opts.dryRun ?? false, tables: diffs, differing: diffs.filter((d) => d.differs).map((d) => d.table) };
  };
  if (!opts.dryRun) {
    await refuseBesideLiveHost(db);
    const before = await snapshot(db, tables, scope);
    await rebuild(db, config, opts.kind, entity, progress);
    return report(before, await snapshot(db, tables, scope));
  }
  let out: ReplayReport | null = null;
  try {
    await db.transaction(async (tx) => {
      const before = await snapshot(tx, tables, scope);
      await rebuild(transactionBoundDb(tx, db.dialect), config, opts.kind, entity, progress);
      out = report(before, await snapshot(tx, tables, scope));
      throw new DryRunRollback("dry run: rolled back");
    });
  } catch (err) {
    if (!(err instanceof DryRunRollback)) throw err;
  }
  return out!;
}

/**
 * A replay beside a running host would race its resident actors: a worker-partition actor saving
 * its write set (only the rows it changed) between the reset and the rebuild leaves the partition
 * missing fee rows, and the rebuild then starts from that partial state. On PostgreSQL a host's
 * connections carry HOST_APPLICATION_NAME, so one connected to this database is found and named.
 * (PGlite: the data folder's lock already keeps a second process out.) A dry run only reports.
 */
async function refuseBesideLiveHost(db: Db): Promise<void> {
  if (db.dialect !== "postgres") return;
  const r = await db.query<{ n: string; hosts: string | null }>(
    `SELECT count(*)::text AS n, string_agg(DISTINCT coalesce(host(client_addr), 'local'), ', ') AS hosts
       FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`,
    [HOST_APPLICATION_NAME],
  );
  const n = Number(r.rows[0].n);
  if (n > 0) {
    throw new Error(
      `a running Strata host is connected to this database (${n} connection${n === 1 ? "" : "s"} named ${HOST_APPLICATION_NAME}, from ${r.rows[0].hosts}): stop it first — its resident actors would race the rebuild (--dry-run only reports and may run beside it)`,
    );
  }
}

export function formatReplayReport(r: ReplayReport): string[] {
  const head = ["table", "rows before", "rows after", "checksum before", "checksum after", ""];
  const rows = r.tables.map((t) => [t.table, String(t.before.rows), String(t.after.rows), t.before.checksum.slice(0, 12), t.after.checksum.slice(0, 12), t.differs ? "DIFFERS" : "same"]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const what = `${r.kind}${r.entity ? ` ${r.entity}` : ""}`;
  return [
    `replay ${what}${r.dryRun ? " (dry run, rolled back)" : ""}:`,
    line(head),
    ...rows.map(line),
    r.differing.length === 0
      ? "no differences: the derived tables equal a rebuild from the journal"
      : `${r.differing.length} table(s) ${r.dryRun ? "would change" : "changed"}: ${r.differing.join(", ")}`,
  ];
}

export const replayCommand: Command = {
  name: "replay",
  summary: "rebuild a kind's derived tables from its journal and report which differed (--dry-run: roll back)",
  usage: "strata replay --kind vault-term|worker-partition [--entity ID] [--dry-run] [--json] [config flags]",
  options: {
    ...configFlagOptions,
    kind: { type: "string" },
    entity: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    "dry-run": { type: "boolean" },
    json: { type: "boolean" },
  },
  async run(args, io) {
    const kind = args.values.kind;
    if (typeof kind !== "string") throw new UsageError(`--kind is required (${LOCAL_KINDS.join(", ")})`);
    if (!isLocalKind(kind)) throw new UsageError(`unknown or unsupported kind ${JSON.stringify(kind)} (this build replays: ${LOCAL_KINDS.join(", ")})`);
    if (args.values.from !== undefined || args.values.to !== undefined) throw new UsageError("--from/--to are not supported yet: replay rebuilds from the whole journal");
    const entity = typeof args.values.entity === "string" ? args.values.entity : null;
    if (kind === "vault-term" && entity) throw new UsageError("--entity is not supported for vault-term: its replay rebuilds every term (aggregates and analytics span terms)");
    if (kind === "worker-partition" && entity) requirePartition(entity);
    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    const { db } = await openConfiguredDb(config, 4, { existing: true });
    let report: ReplayReport;
    try {
      report = await replayKind(db, config, { kind, entity, dryRun: args.values["dry-run"] === true, progress: progressBar(io.err) });
    } finally {
      await db.close();
    }
    if (args.values.json) io.out(JSON.stringify(report));
    else for (const l of formatReplayReport(report)) io.out(l);
    return 0;
  },
};
