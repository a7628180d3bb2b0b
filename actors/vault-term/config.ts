/**
 * Config section of the vault-term kind: the predeclared keys of seed 004 (REDIS_STREAMS,
 * CONSUMER_GROUP, CONSUMER_NAME, BATCH_SIZE, BATCH_TIMEOUT_MS, WORKERS, MAX_RETRIES, circuit
 * breaker, …; config/domain-sections.ts) plus the ones this implementation adds. Pass it to
 * loadConfig; it replaces the predeclared section of the same name. Only config/ reads the environment.
 */
import { defineSection, field, vaultTermConfig as predeclared } from "../../config/mod.ts";

export const vaultTermConfig = defineSection("vault-term", {
  ...predeclared.fields,
  claimIdleMs: field.positiveInt("CLAIM_IDLE_MS", { default: 60_000, description: "Pending stream entries idle this long are claimed (XAUTOCLAIM) from a dead consumer, ms." }),
  analyticsBatchSize: field.positiveInt("ANALYTICS_BATCH_SIZE", { default: 1000, description: "Most queued terms one triple-analytics commit processes." }),
  concurrentBatches: field.positiveInt("CONCURRENT_BATCHES", {
    default: 2,
    description: "Batches one host reads and journals at once: that many consumers of the group (CONSUMER_NAME, then CONSUMER_NAME-2, …).",
  }),
  sampleFile: field.string("VAULT_TERM_SAMPLE_FILE", { description: "Embedded mode: JSONL of rindexer messages to import at start; unset = the bundled samples/vault-term/events.jsonl." }),
});
