/**
 * Configuration of the worker-partition kind and its S3 sensor, as a config section
 * (config/section.ts). The names are the seed's (domain decision 12), the defaults its code
 * defaults; it extends the predeclared `worker-partition` section of config/domain-sections.ts
 * (the same keys, declared once there) with AI_CORRELATION_TTL_SECONDS — pass it to
 * loadConfig({ sections }).
 * Only the config module reads the environment: `workerPartitionSettings(config)` turns the
 * loaded values (and the core S3_ENDPOINT) into typed settings; `parseWorkerPartitionConfig`
 * does the same from a plain map (tests, import). Errors name the key (ConfigError).
 * Payment keys (PAYMENT_THRESHOLD_WEI, MAX_GAS_PRICE_WEI, GAS_LIMIT, CHAIN_ID, ETH_*) belong to
 * the payments section.
 */
import { field } from "../../config/fields.ts";
import { workerPartitionConfig as predeclared } from "../../config/domain-sections.ts";
import { defineSection, loadSection, type SectionValues } from "../../config/section.ts";
import type { StrataConfig } from "../../config/load-config.ts";

export const workerPartitionSection = defineSection("worker-partition", {
  ...predeclared.fields,
  aiCorrelationTtlSeconds: field.positiveInt("AI_CORRELATION_TTL_SECONDS", {
    default: 86_400,
    description: "How long (event time) an unmatched AI job waits for its pair before it is reported unattributed.",
  }),
});

export interface WorkerPartitionConfig {
  s3: {
    endpoint?: string;
    region: string;
    bucket: string;
    metricsBucket: string;
    archiveBucket?: string;
    archivePrefix: string;
    accessKeyId?: string;
    secretAccessKey?: string;
  };
  commissionBps: number;
  maxFilesPerBatch: number;
  sensorIntervalMs: number;
  correlationTtlMs: number;
}

function settings(v: SectionValues<typeof workerPartitionSection>, endpoint: string | undefined): WorkerPartitionConfig {
  return {
    s3: {
      endpoint,
      region: v.s3Region,
      bucket: v.s3Bucket,
      metricsBucket: v.s3MetricsBucket,
      archiveBucket: v.s3ArchiveBucket,
      archivePrefix: v.s3ArchivePrefix,
      accessKeyId: v.awsAccessKeyId,
      secretAccessKey: v.awsSecretAccessKey,
    },
    commissionBps: v.poolCommissionBps,
    maxFilesPerBatch: v.maxFilesPerBatch,
    sensorIntervalMs: v.s3SensorIntervalSeconds * 1000,
    correlationTtlMs: v.aiCorrelationTtlSeconds * 1000,
  };
}

/** Settings from a loaded StrataConfig (S3_ENDPOINT comes from the core section). */
export function workerPartitionSettings(config: StrataConfig): WorkerPartitionConfig {
  return settings(config.section(workerPartitionSection), config.s3Endpoint);
}

/** Settings from raw key → value text (missing keys take their defaults); a ConfigError names a bad key. */
export function parseWorkerPartitionConfig(values: Readonly<Record<string, string | undefined>> = {}): WorkerPartitionConfig {
  const endpoint = values.S3_ENDPOINT?.trim() || undefined;
  return settings(loadSection(workerPartitionSection, { flags: {}, env: values }).values, endpoint);
}
