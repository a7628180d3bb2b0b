/** Db over a pg.Pool (a PostgreSQL server). */
import pg from "pg";
import type { Db, Queryable, QueryResult } from "./db.ts";
import { withArrayLiterals } from "./pg-array-literal.ts";

// NUMERIC, INT8 come back as strings (never through number); timestamptz as Date.
// A query without parameters may hold several statements (simple protocol, e.g. a migration):
// pg then answers with one result per statement, and the last one is returned.
export function openPgDb(connectionString: string, opts: { max?: number; applicationName?: string; keepIdleConnections?: boolean } = {}): Db {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 8,
    application_name: opts.applicationName ?? "strata",
    // A host keeps its idle connections (pg's default closes them after 10 s), so it stays visible
    // in pg_stat_activity while it runs (replay.ts refuses to run beside it).
    ...(opts.keepIdleConnections ? { idleTimeoutMillis: 0 } : {}),
  });
  // An idle client that errors (server restart) must not crash the process; the next query reconnects.
  pool.on("error", () => {});
  const run = async <R>(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const answer: pg.QueryResult | pg.QueryResult[] = await client.query(sql, withArrayLiterals(params));
    const res = Array.isArray(answer) ? answer[answer.length - 1] : answer;
    return { rows: (res?.rows ?? []) as R[], rowCount: res?.rowCount ?? 0 };
  };
  return {
    dialect: "postgres",
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      const client = await pool.connect();
      // A connection whose ROLLBACK failed is in an unknown state: destroy it, never reuse it.
      let broken = false;
      try {
        await client.query("BEGIN");
        const tx: Queryable = { query: (sql, params) => run(client, sql, params) };
        const result = await fn(tx);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
