/** Db over PGlite (embedded PostgreSQL in WASM), in memory or persisted in a data directory. */
import { PGlite } from "@electric-sql/pglite";
import type { Db, Queryable, QueryResult } from "./db.ts";

export async function openPgliteDb(dataDir?: string): Promise<Db> {
  // INT8 (oid 20) as a string, as pg returns it: bigints never pass through number.
  const options = { parsers: { 20: (value: string) => value } };
  const lite = dataDir ? new PGlite(dataDir, options) : new PGlite(options);
  await lite.waitReady;
  // PGlite has one backend: transactions must not interleave with other queries.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };
  const run = async <R>(q: Pick<PGlite, "query">, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const res = await q.query<R>(sql, params as unknown[] | undefined);
    return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
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
    close: () => lite.close(),
  };
}
