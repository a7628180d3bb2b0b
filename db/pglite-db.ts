/** Db over PGlite (embedded PostgreSQL in WASM), in memory or persisted in a data directory. */
import { PGlite } from "@electric-sql/pglite";
import type { Db, Queryable, QueryResult } from "./db.ts";
import { lockDataDir } from "./data-dir-lock.ts";

type PgliteQueryable = Pick<PGlite, "query" | "exec">;

export interface PgliteOpenOptions {
  /** Start from a `dumpDataDir()` tarball instead of running initdb (0.5 s instead of ~3.6 s). */
  loadDataDir?: Blob;
}

const utf8 = new TextDecoder();

/** db.ts: a Uint8Array parameter is UTF-8 text; PGlite serialises parameters by their type, so it is given the string. */
function utf8TextParam(value: unknown): unknown {
  return value instanceof Uint8Array ? utf8.decode(value) : value;
}

/**
 * Opens PGlite in memory (no dataDir) or persisted under dataDir, which one process at a time
 * may hold (data-dir-lock.ts: another is refused, naming the holder).
 * Like pg, a query without parameters uses the simple protocol and may hold several statements
 * (migrations); with parameters it is one prepared statement. rowCount is the number of rows
 * returned or affected, as pg reports it.
 */
export async function openPgliteDb(dataDir?: string, opts: PgliteOpenOptions = {}): Promise<Db> {
  // INT8 (oid 20) as a string, as pg returns it: bigints never pass through number.
  const options = { parsers: { 20: (value: string) => value }, ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}) };
  const lock = dataDir ? lockDataDir(dataDir) : null;
  let lite: PGlite;
  try {
    lite = dataDir ? new PGlite(dataDir, options) : new PGlite(options);
    await lite.waitReady;
  } catch (err) {
    lock?.release();
    throw err;
  }
  // PGlite has one backend: transactions must not interleave with other queries.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };
  const run = async <R>(q: PgliteQueryable, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    if (params === undefined || params.length === 0) {
      const results = await q.exec(sql);
      const last = results[results.length - 1];
      const rows = (last?.rows ?? []) as R[];
      return { rows, rowCount: Math.max(last?.affectedRows ?? 0, rows.length) };
    }
    const res = await q.query<R>(sql, params.map(utf8TextParam));
    return { rows: res.rows, rowCount: Math.max(res.affectedRows ?? 0, res.rows.length) };
  };
  return {
    dialect: "pglite",
    query: (sql, params) => serial(() => run(lite, sql, params)),
    transaction: (fn) =>
      serial(() =>
        lite.transaction(async (t) => {
          const tx: Queryable = { query: (sql, params) => run(t, sql, params) };
          return fn(tx);
        }),
      ),
    close: async () => {
      try {
        await lite.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** A tarball of an empty, initialised PGlite data directory (for fast test fixtures). */
export async function dumpEmptyPgliteDataDir(): Promise<Blob> {
  const lite = new PGlite();
  await lite.waitReady;
  try {
    return await lite.dumpDataDir("gzip");
  } finally {
    await lite.close();
  }
}
