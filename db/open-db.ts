/**
 * Opens the Db the configuration asks for: a pg.Pool when a database URL is given (services
 * mode), otherwise PGlite persisted under dataDir (embedded mode), in memory for `:memory:`.
 * The caller (config/, cli/) decides the values; this module reads no environment.
 */
import { mkdir } from "node:fs/promises";
import { openPgDb } from "./pg-db.ts";
import { openPgliteDb } from "./pglite-db.ts";
import type { Db } from "./db.ts";

export interface OpenDbOptions {
  /** `postgres://…`: use the PostgreSQL server through a pg.Pool. */
  databaseUrl?: string;
  /** Embedded PGlite data folder (created when missing), or `:memory:`. Used when databaseUrl is absent. */
  dataDir?: string;
  /** Connections in the pool (PostgreSQL only); default 8. */
  poolSize?: number;
  /** PostgreSQL `application_name` of the connections (default "strata"); a host uses HOST_APPLICATION_NAME. */
  applicationName?: string;
  /** PostgreSQL: keep idle connections open (a host, so it stays visible while it runs). */
  keepIdleConnections?: boolean;
}

/**
 * The `application_name` of a running host's connections: `strata replay` refuses while one is
 * connected to its database (a resident actor would race the rebuild).
 */
export const HOST_APPLICATION_NAME = "strata-host";

export const MEMORY_DATA_DIR = ":memory:";

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  if (opts.databaseUrl) return openPgDb(opts.databaseUrl, { max: opts.poolSize, applicationName: opts.applicationName, keepIdleConnections: opts.keepIdleConnections });
  if (!opts.dataDir) throw new TypeError("openDb: give databaseUrl (PostgreSQL) or dataDir (embedded PGlite, or ':memory:')");
  if (opts.dataDir === MEMORY_DATA_DIR) return openPgliteDb();
  await mkdir(opts.dataDir, { recursive: true });
  return openPgliteDb(opts.dataDir);
}
