/**
 * Predeclared config sections for the domain kinds, with the key names and defaults of the
 * systems they replace (seeds 002/004, /work/shared/domain/*.md). A kind may re-export its
 * section from here or declare its own with the same name in its folder and pass it to
 * loadConfig (a passed section replaces the predeclared one of the same name).
 */
import { field } from "./fields.ts";
import { defineSection } from "./section.ts";
import type { SectionSpec } from "./section.ts";

/** vault-term: Redis streams written by rindexer → PostgreSQL (seed 004, domain C5). */
export const vaultTermConfig = defineSection("vault-term", {
  redisStreams: field.list("REDIS_STREAMS", { default: ["rindexer_producer"], description: "Redis stream names to read." }),
  consumerGroup: field.string("CONSUMER_GROUP", { default: "postgres-sync", description: "Redis consumer group." }),
  consumerName: field.string("CONSUMER_NAME", { description: "Redis consumer name; unset = `consumer-<host id>`." }),
  consumerGroupSuffix: field.string("CONSUMER_GROUP_SUFFIX", { description: "Suffix for the analytics consumer group." }),
  batchSize: field.positiveInt("BATCH_SIZE", { default: 100, description: "Stream entries read per batch." }),
  batchTimeoutMs: field.positiveInt("BATCH_TIMEOUT_MS", { default: 5000, description: "Longest wait for a batch to fill, ms." }),
  workers: field.positiveInt("WORKERS", { default: 4, description: "Parallel writers (lanes)." }),
  processingTimeoutMs: field.positiveInt("PROCESSING_TIMEOUT_MS", { default: 30_000, description: "Event processing timeout, ms." }),
  maxRetries: field.int("MAX_RETRIES", { min: 0, max: 1000, default: 3, description: "Retries of a failed operation before dead-lettering." }),
  circuitBreakerThreshold: field.positiveInt("CIRCUIT_BREAKER_THRESHOLD", { default: 5, description: "Failures before the circuit opens." }),
  circuitBreakerTimeoutMs: field.positiveInt("CIRCUIT_BREAKER_TIMEOUT_MS", { default: 60_000, description: "How long the circuit stays open, ms." }),
  analyticsStreamName: field.string("ANALYTICS_STREAM_NAME", { default: "term_updates", description: "Stream of term updates for analytics." }),
});

/** worker-partition: S3 event files from go-livepeer orchestrators (seed 002, domain A, decision 12). */
export const workerPartitionConfig = defineSection("worker-partition", {
  s3Bucket: field.string("S3_BUCKET", { default: "open-pool-events", description: "Source bucket of orchestrator event files." }),
  s3MetricsBucket: field.string("S3_METRICS_BUCKET", { default: "open-pool-metrics", description: "Bucket for analytics exports." }),
  s3ArchiveBucket: field.string("S3_ARCHIVE_BUCKET", { description: "Bucket processed files are archived to; unset = no archive." }),
  s3ArchivePrefix: field.string("S3_ARCHIVE_PREFIX", { default: "archive/", description: "Key prefix of archived files." }),
  s3Region: field.string("S3_REGION", { default: "us-east-1", description: "Region string sent to the S3 endpoint." }),
  awsAccessKeyId: field.string("AWS_ACCESS_KEY_ID", { description: "S3 access key id." }),
  awsSecretAccessKey: field.string("AWS_SECRET_ACCESS_KEY", { secret: true, description: "S3 secret key." }),
  poolCommissionBps: field.basisPoints("POOL_COMMISSION_RATE", { default: 2500, description: "Pool commission as a decimal (0.25), kept exactly as basis points." }),
  maxFilesPerBatch: field.positiveInt("MAX_FILES_PER_BATCH", { default: 250, description: "Most S3 files per sensor batch." }),
  s3SensorIntervalSeconds: field.positiveInt("S3_SENSOR_INTERVAL_SECONDS", { default: 300, description: "S3 sensor polling interval, s." }),
});

/** payments of worker-partition: WAL-backed ETH payments (seed 002/003, domain A2.6). */
export const paymentsConfig = defineSection("payments", {
  ethPrivateKey: field.string("ETH_PRIVATE_KEY", { secret: true, description: "Payer private key, or path to a JSON keystore." }),
  ethKeystorePassword: field.string("ETH_KEYSTORE_PASSWORD", { secret: true, description: "Keystore password, or path to a password file." }),
  chainId: field.positiveInt("CHAIN_ID", { default: 42161, description: "Chain id (Arbitrum One 42161; anvil 31337)." }),
  paymentThresholdWei: field.uint256("PAYMENT_THRESHOLD_WEI", { default: 10_000_000_000_000_000n, description: "Least unpaid earnings that trigger a payment, wei." }),
  maxGasPriceWei: field.uint256("MAX_GAS_PRICE_WEI", { default: 5_000_000_000_000n, description: "Gas price ceiling, wei." }),
  gasLimit: field.uint256("GAS_LIMIT", { default: 1_000_000n, description: "Gas limit of a payment transaction." }),
  paymentSensorIntervalSeconds: field.positiveInt("PAYMENT_SENSOR_INTERVAL_SECONDS", { default: 14_400, description: "Payment sensor interval, s." }),
});

/** operator: the EigenLayer events database is this kind's journal (domain operator.md). */
export const operatorConfig = defineSection("operator", {
  eventsDbUrl: field.url("EVENTS_DB_URL", ["postgres:", "postgresql:"], { description: "Read-only EigenLayer events database; unset = DATABASE_URL / embedded." }),
});

export const DOMAIN_SECTIONS: readonly SectionSpec[] = [vaultTermConfig, workerPartitionConfig, paymentsConfig, operatorConfig];
