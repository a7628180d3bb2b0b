/**
 * The small database interface every store uses. Implemented by a pg.Pool (PostgreSQL server)
 * and by PGlite (embedded). SQL must be accepted by PostgreSQL 15 (the servers) and 18 (PGlite).
 * Parameters are `$1…`; bigints are passed as strings and numeric columns come back as strings.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

export interface Db extends Queryable {
  readonly dialect: "postgres" | "pglite";
  /** Runs fn in one transaction: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
