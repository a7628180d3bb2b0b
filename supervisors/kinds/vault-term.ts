/**
 * The vault-term kind on a host (actors/vault-term/mod.ts `startVaultTerm`):
 *  - registers the `vault-term` actor kind (one actor per term, the single writer of its rows)
 *    and the `vault-term-analytics` actor kind (one actor per term partition);
 *  - services mode (REDIS_URL): the Redis stream reader on REDIS_STREAMS / CONSUMER_GROUP,
 *    probed with PING in `/health`;
 *  - embedded mode (no REDIS_URL): the bundled sample file `samples/vault-term/events.jsonl`
 *    (when STRATA_SAMPLES allows: bundled-samples.ts), or VAULT_TERM_SAMPLE_FILE (always when
 *    set), through the Redis reader's journal-and-send path, in the
 *    background after start (re-importing on a later start changes nothing: the journal dedupes);
 *  - the periodic analytics sweep of `startVaultTerm`.
 */
import { BUNDLED_SAMPLE, importVaultTermFile, startVaultTerm, VAULT_TERM_ACTOR_KINDS, vaultTermConfig } from "../../actors/vault-term/mod.ts";
import type { ImportSummary } from "../../actors/vault-term/mod.ts";
import { maskServiceUrl } from "../../config/redact.ts";
import { progressCheck } from "../../admin/readiness.ts";
import type { ReadinessCheck } from "../../admin/source.ts";
import { redisProbe } from "../dependency-health.ts";
import type { DependencyProbe } from "../dependency-health.ts";
import type { HostContext, KindModule, RunningKind } from "../kind-module.ts";
import { pathExists } from "./path-exists.ts";
import { bundledSamples } from "./bundled-samples.ts";


export const vaultTermModule: KindModule = {
  kind: "vault-term",
  version: "0.1.0",
  description: "Intuition vault terms: rindexer Redis streams → journal → term aggregates and triple analytics",

  async register(host: HostContext): Promise<RunningKind> {
    const { config, db, system, deadLetters, clock } = host;
    const log = host.log.child({ kind: "vault-term" });
    const settings = config.section(vaultTermConfig);
    const component = await startVaultTerm({
      db,
      deadLetters,
      system,
      config: settings,
      redisUrl: config.redisUrl,
      registry: host.metrics.registry,
      partitions: config.partitions,
      clock,
      log,
      importSample: false,
    });
    const probes: DependencyProbe[] = [];
    const started = clock.now();
    let summary: string;
    let sample: { file: string; done: boolean; result: ImportSummary | null; error: string | null; promise: Promise<void> } | null = null;

    if (config.redisUrl) {
      const url = maskServiceUrl(config.redisUrl);
      probes.push(redisProbe(config.redisUrl, `redis ${url}`));
      summary = `vault-term: reading Redis streams ${settings.redisStreams.join(",")} at ${url} (group ${settings.consumerGroup})`;
    } else {
      const file = settings.sampleFile ?? BUNDLED_SAMPLE;
      // The bundled sample only where it cannot reach a real database (bundled-samples.ts); a
      // VAULT_TERM_SAMPLE_FILE named explicitly is the user's own file.
      const samples = settings.sampleFile ? { load: true, why: "VAULT_TERM_SAMPLE_FILE" } : bundledSamples(config.samples, config);
      if (!samples.load) {
        summary = `vault-term: embedded, no REDIS_URL: ${samples.why}: no ingress`;
      } else if (await pathExists(file)) {
        const s = { file, done: false, result: null as ImportSummary | null, error: null as string | null, promise: Promise.resolve() };
        s.promise = importVaultTermFile(file, { db, deadLetters, system }).then(
          (result) => {
            s.result = result;
            s.done = true;
            log.info({ ...result, file }, "vault-term: embedded sample events imported");
          },
          (err: unknown) => {
            s.error = err instanceof Error ? err.message : String(err);
            s.done = true;
            log.error({ err, file }, "vault-term: embedded sample import failed");
          },
        );
        sample = s;
        summary = `vault-term: embedded, no REDIS_URL: importing sample events from ${file}`;
      } else {
        summary = `vault-term: embedded, no REDIS_URL and no sample file at ${file}: no ingress`;
      }
    }

    const ready = async (): Promise<ReadinessCheck[]> => {
      const now = clock.now();
      if (component.readers.length > 0) return component.ingressReadiness(now);
      if (sample) {
        return [
          progressCheck({
            name: "ingress:vault-term-sample",
            lastProgressAt: sample.done ? now : started,
            backlog: sample.done ? 0 : 1,
            expectedWithinMs: 10 * 60_000,
            now,
            down: sample.error ? `sample import failed: ${sample.error}` : undefined,
          }),
        ];
      }
      return [];
    };

    return {
      actorKinds: [...VAULT_TERM_ACTOR_KINDS],
      summary,
      probes,
      ready,
      async lag() {
        const res = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM term_update_queue WHERE processed_at IS NULL");
        return Number(res.rows[0]?.n ?? 0);
      },
      async stopIngress() {
        // The reader stops before the system: no batch is left half acknowledged.
        await component.stop();
        if (sample) await sample.promise;
      },
      async stop() {
        for (const p of probes) await p.close?.();
      },
    };
  },
};
