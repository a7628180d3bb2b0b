/**
 * The worker-partition kind's public surface: partitions, event parsing, the pure reducers, the
 * actor kind, the journal, ingest and import. (The S3 sensor lives in actors/ingress/s3-sensor.ts.)
 */
export * from "./partitions.ts";
export * from "./config.ts";
export * from "./commission.ts";
export * from "./events.ts";
export * from "./event-file.ts";
export * from "./partition-state.ts";
export * from "./performance.ts";
export * from "./summary.ts";
export * from "./journal.ts";
export * from "./kind.ts";
export * from "./ingest.ts";
export * from "./prepared-event-file.ts";
export { ParseWorkerThread } from "./parse-worker-thread.ts";
export * from "./import-files.ts";
export { readPerformanceReport, readSummary, resetPartitionState, DERIVED_TABLES } from "./store.ts";
export * from "./wire.ts";
