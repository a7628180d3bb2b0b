/**
 * The small database interface every store uses. Implemented by a pg.Pool (PostgreSQL server)
 * and by PGlite (embedded). SQL must be accepted by PostgreSQL 15 (the servers) and 18 (PGlite).
 * Parameters are `$1…`; bigints are passed as strings and numeric columns come back as strings.
 * A Uint8Array parameter is UTF-8 text, for a `text` parameter: pg sends it in binary format
 * (which for text is its UTF-8 bytes, checked by the server), PGlite gets the decoded string. A
 * large text made elsewhere as bytes (the parse worker's journal rows) is sent without the
 * driver measuring and encoding it. There is no bytea parameter in this project.
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
