/**
 * The core config section: the keys every Strata host reads (DESIGN.md, Modes).
 * An unset service URL selects the embedded part (PGlite, in-process transport, local s3rver,
 * anvil). The operator and network kinds (ClickHouse/chdb) are named here but not built yet:
 * a host asked to run them says so and runs the others.
 */
import { field } from "./fields.ts";
import { defineSection } from "./section.ts";

export const ALL_KINDS = ["operator", "network", "worker-partition", "vault-term"] as const;
/** The kinds this build implements: the default of STRATA_KINDS. */
export const BUILT_KINDS = ["worker-partition", "vault-term"] as const;
/** STRATA_SAMPLES (supervisors/kinds/bundled-samples.ts). */
export const SAMPLES_MODES = ["auto", "on", "off"] as const;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const coreConfig = defineSection("core", {
  dataDir: field.string("STRATA_DATA_DIR", { default: "./data", description: "Folder for embedded data (PGlite, s3rver, anvil)." }),
  databaseUrl: field.url("DATABASE_URL", ["postgres:", "postgresql:"], { description: "PostgreSQL server; unset = embedded PGlite under STRATA_DATA_DIR." }),
  natsUrl: field.url("NATS_URL", ["nats:", "tls:", "ws:", "wss:"], { description: "NATS server; unset = in-process transport." }),
  redisUrl: field.url("REDIS_URL", ["redis:", "rediss:"], { description: "Redis with the rindexer streams (vault-term ingress); unset = embedded sample events." }),
  s3Endpoint: field.url("S3_ENDPOINT", ["http:", "https:"], { description: "S3-compatible endpoint (worker-partition ingress); unset = local s3rver." }),
  clickhouseUrl: field.url("CLICKHOUSE_URL", ["http:", "https:"], { description: "ClickHouse HTTP endpoint for the network kind (not built yet)." }),
  // HTTP(S) only: the RPC client speaks JSON-RPC over fetch; a ws:// endpoint could never pay.
  ethRpcEndpoint: field.url("ETH_RPC_ENDPOINT", ["http:", "https:"], {
    description: "Ethereum RPC for payments (HTTP JSON-RPC); unset = local anvil dev chain with the embedded database, payments off with a DATABASE_URL.",
  }),
  samples: field.oneOf("STRATA_SAMPLES", SAMPLES_MODES, {
    default: "auto",
    description:
      "Bundled sample events for the embedded ingress parts: auto = only with the embedded database and the dev chain; on = always (refused with ETH_RPC_ENDPOINT: payments would pay them); off = never.",
  }),
  partitions: field.positiveInt("STRATA_PARTITIONS", { default: 16, description: "Number of partitions P entity ids hash into (same on every host)." }),
  kinds: field.list("STRATA_KINDS", { default: BUILT_KINDS, values: ALL_KINDS, description: "Entity kinds this host runs." }),
  adminHost: field.string("ADMIN_HOST", { default: "127.0.0.1", description: "Admin HTTP bind address; a non-loopback address needs ADMIN_TOKEN." }),
  adminPort: field.port("ADMIN_PORT", { default: 8080, description: "Admin HTTP port (0 = any free port)." }),
  adminToken: field.string("ADMIN_TOKEN", { secret: true, description: "Bearer token for mutating admin routes." }),
  logLevel: field.oneOf("LOG_LEVEL", LOG_LEVELS, { default: "info", description: "pino log level." }),
});
