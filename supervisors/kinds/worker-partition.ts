/**
 * The worker-partition kind on a host (actors/worker-partition/wire.ts, actors/ingress/s3-sensor.ts):
 *  - registers the `worker-partition` actor kind (one actor per active `node_type|region`);
 *  - services mode (S3_ENDPOINT): the S3 sensor polls S3_BUCKET every S3_SENSOR_INTERVAL_SECONDS;
 *  - embedded mode (no S3_ENDPOINT): the host's embedded s3rver is started, the bundled sample
 *    files (`samples/worker-partition/{region}/{node_type}/*.json`) are uploaded into S3_BUCKET
 *    when STRATA_SAMPLES allows (bundled-samples.ts: by default only with the embedded database
 *    and dev chain), and the same sensor runs against it;
 *  - `/health` lists `s3` (ListBuckets); `/ready` lists `ingress:worker-partition-s3`;
 *  - payments (supervisors/kinds/payments.ts) run beside it; after each run that ended, the
 *    partition actor rewrites worker_summary (`refresh-summary`: the paid amounts changed) and
 *    worker_summary.json / worker_performance.json are exported again (seed A2.8), as after a batch;
 *    the same after a person resolves an ambiguous or reverted payment (`POST
 *    /payments/:paymentId/resolve`: resolved paid credits the ledger outside any run).
 * Ingest never pays: the sensor only journals and lets the partition actors catch up.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { workerPartitionSettings } from "../../actors/worker-partition/config.ts";
import type { WorkerPartitionConfig } from "../../actors/worker-partition/config.ts";
import { registerWorkerPartition, createWorkerPartitionSensor } from "../../actors/worker-partition/wire.ts";
import { WORKER_PARTITION_KIND } from "../../actors/worker-partition/journal.ts";
import { PARTITIONS } from "../../actors/worker-partition/partitions.ts";
import { createS3Client } from "../../actors/ingress/s3-client.ts";
import { cursorSource } from "../../actors/ingress/s3-sensor.ts";
import { s3SensorReadiness } from "../../actors/ingress/s3-sensor-readiness.ts";
import { ensureBucket, SAMPLES_DIR, uploadSampleEvents } from "../../actors/ingress/s3-upload-samples.ts";
import { exportPartitionMetrics } from "../../actors/ingress/s3-metrics-export.ts";
import type { PaymentRunReport } from "../../actors/worker-partition/payments/payment-run.ts";
import { paymentsConfig } from "../../actors/worker-partition/payments/config.ts";
import { maskServiceUrl } from "../../config/redact.ts";
import type { ReadinessCheck } from "../../admin/source.ts";
import { s3Probe } from "../dependency-health.ts";
import type { DependencyProbe } from "../dependency-health.ts";
import type { HostContext, KindModule, RunningKind } from "../kind-module.ts";
import { pathExists } from "./path-exists.ts";
import { bundledSamples, refuseSamplesOnRealChain } from "./bundled-samples.ts";
import { startPayments } from "./payments.ts";
import { KeyConfigError } from "../../actors/worker-partition/payments/keys.ts";
import { paymentsRoutes } from "../../admin/payments-routes.ts";
import type { RunningPayments } from "./payments.ts";


export const workerPartitionModule: KindModule = {
  kind: "worker-partition",
  version: "0.1.0",
  description: "OpenPool worker partitions: S3 event files → journal → fees, connections, performance; WAL-backed payments",

  async register(host: HostContext): Promise<RunningKind> {
    const { config, db, system, deadLetters, clock } = host;
    refuseSamplesOnRealChain(config.samples, config.ethRpcEndpoint);
    const log = host.log.child({ kind: "worker-partition" });
    let settings: WorkerPartitionConfig = workerPartitionSettings(config);
    let summary: string;
    let uploaded = 0;
    if (config.s3Endpoint) {
      summary = `worker-partition: S3 sensor on ${maskServiceUrl(config.s3Endpoint)} bucket ${settings.s3.bucket} every ${settings.sensorIntervalMs / 1000} s`;
    } else {
      const s3 = await host.embedded.s3();
      settings = { ...settings, s3: { ...settings.s3, endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } };
      summary = `worker-partition: embedded, no S3_ENDPOINT: S3 sensor on the embedded s3rver ${s3.endpoint} bucket ${settings.s3.bucket}`;
    }
    const client: S3Client = createS3Client(settings.s3);
    if (!config.s3Endpoint) {
      await ensureBucket(client, settings.s3.bucket);
      await ensureBucket(client, settings.s3.metricsBucket);
      if (settings.s3.archiveBucket) await ensureBucket(client, settings.s3.archiveBucket);
      // Sample fees must never reach a real ledger or a real chain (bundled-samples.ts).
      const samples = bundledSamples(config.samples, config);
      if (!samples.load) {
        summary += `, ${samples.why}`;
      } else if (await pathExists(SAMPLES_DIR)) {
        uploaded = (await uploadSampleEvents(client, settings.s3.bucket)).length;
        summary += `, ${uploaded} bundled sample files uploaded`;
      } else {
        summary += ", no bundled samples (samples/worker-partition/ missing)";
      }
    }

    const tail = registerWorkerPartition(system, settings, { paymentThresholdWei: config.section(paymentsConfig).paymentThresholdWei });
    const sensor = createWorkerPartitionSensor({ system, tail, db, deadLetters, clock, log, s3: client }, settings);
    const sensorStartedAt = clock.now();
    sensor.start();

    const probes: DependencyProbe[] = [
      s3Probe(settings.s3 as { endpoint: string; region: string; accessKeyId?: string; secretAccessKey?: string }, config.s3Endpoint ? `s3 ${maskServiceUrl(config.s3Endpoint)}` : `embedded s3rver ${settings.s3.endpoint}`),
    ];

    // A run credited workers, or a person resolved a payment: without this, worker_summary and its
    // export kept the old paid / pending amounts until the partition's next event file (a quiet
    // partition: for ever). A timeout only delays it: a batch in the actor's mailbox ends with a
    // summary of its own.
    const refreshAfterPayment = async (partitionId: string): Promise<void> => {
      await system.ask(WORKER_PARTITION_KIND, partitionId, "refresh-summary", {}, { timeoutMs: 60_000 });
      await exportPartitionMetrics(db, client, settings.s3.metricsBucket, partitionId, clock.now());
    };
    let payments: RunningPayments | null = null;
    try {
      payments = await startPayments(host, PARTITIONS.map((p) => p.id), { s3: client, bucket: settings.s3.metricsBucket }, {
        onRunEnded: (report: PaymentRunReport) => refreshAfterPayment(report.partitionId),
      });
    } catch (err) {
      // A payer key that cannot be read is a configuration error: stop, naming the key (the
      // error never holds its value). Anything else (the dev chain did not start): payments are
      // a deliberate, separate path, and a host whose payments cannot start still ingests.
      if (err instanceof KeyConfigError) {
        await sensor.stop();
        client.destroy();
        throw err;
      }
      log.error({ err }, "payments: not started");
    }
    if (payments) probes.push(...payments.probes);

    const ready = (): ReadinessCheck[] => {
      const check = s3SensorReadiness({
        name: "ingress:worker-partition-s3",
        failures: sensor.failures,
        lastPollAt: sensor.lastPollAt,
        startedAt: sensorStartedAt,
        intervalMs: settings.sensorIntervalMs,
        ingestedPartitions: sensor.lastBatch.size,
        now: clock.now(),
      });
      return [check, ...(payments ? payments.ready() : [])];
    };

    return {
      actorKinds: [WORKER_PARTITION_KIND],
      // Payments admin routes; without running payments the trigger answers 503. A resolution
      // (payments running here or not) refreshes its partition's summary and export.
      routes: paymentsRoutes({
        db,
        trigger: payments ? (p) => payments!.trigger(p) : undefined,
        onResolved: (entry) => refreshAfterPayment(entry.partitionId),
        log: log.child({ part: "payments" }),
      }),
      summary: payments ? `${summary}; ${payments.summary}` : summary,
      probes,
      ready,
      // Files claimed but not yet confirmed (a batch in flight or failed, to be retried).
      async lag() {
        const sources = PARTITIONS.map((p) => cursorSource(settings.s3.bucket, p));
        const res = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM strata_source_cursor WHERE state = 'pending' AND source = ANY($1::text[])", [sources]);
        return Number(res.rows[0]?.n ?? 0);
      },
      async stopIngress() {
        await sensor.stop();
        await payments?.stop();
      },
      async stop() {
        client.destroy();
        for (const p of probes) await p.close?.();
      },
    };
  },
};
