/**
 * Where embedded mode keeps its data under STRATA_DATA_DIR. `strata migrate` and `strata start`
 * must agree on these, so they are named once here.
 */
import path from "node:path";

export interface EmbeddedPaths {
  /** PGlite data directory (embedded PostgreSQL). */
  pglite: string;
  /** s3rver's folder (local S3-compatible store). */
  s3: string;
  /** chdb data directory (in-process ClickHouse). */
  clickhouse: string;
  /** anvil dev chain state. */
  anvil: string;
}

export function embeddedPaths(dataDir: string): EmbeddedPaths {
  return {
    pglite: path.join(dataDir, "pglite"),
    s3: path.join(dataDir, "s3"),
    clickhouse: path.join(dataDir, "chdb"),
    anvil: path.join(dataDir, "anvil"),
  };
}
