/**
 * `strata replay --kind worker-partition` after a configuration change (a reviewer's finding,
 * money): live, a change of POOL_COMMISSION_RATE or AI_CORRELATION_TTL_SECONDS applies to the
 * events applied after it; a replay must re-apply every event with what it was applied with
 * (worker_partition_params), not with the replaying process's configuration. Before, a replay
 * re-priced every past job: a lower rate raised `earned_wei` above what had been paid, so the next
 * payment run paid every worker again for the difference. PostgreSQL and PGlite.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { testEngines } from "../support/databases.ts";
import { migrate } from "../../db/migrate.ts";
import type { Db } from "../../db/db.ts";
import { loadConfig } from "../../config/load-config.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { replayKind, tableState } from "../../cli/commands/replay.ts";
import { DeadLetterStore } from "../../db/dead-letter-store.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { registerWorkerPartition, workerPartitionIngestDeps } from "../../actors/worker-partition/wire.ts";
import { parseWorkerPartitionConfig } from "../../actors/worker-partition/config.ts";
import { importWorkerPartitionPath } from "../../actors/worker-partition/import-files.ts";
import { DERIVED_TABLES } from "../../actors/worker-partition/store.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const TRANSCODE = "transcode|us-west";
const AI = "ai|us-central";
const files = (dir: string) => [
  `${dir}/us-west/transcode/us-west-transcode-20250227T120002Z_20250227T120107Z.json`,
  `${dir}/us-west/transcode/us-west-transcode-20250227T120109Z_20250227T120209Z.json`,
  `${dir}/us-west/transcode/us-west-transcode-20250227T120212Z_20250227T120315Z.json`,
];

/** One host's life: its own actor system with `env`'s settings, importing `paths` in order, then stopped (as a restart with new settings). */
async function runHost(db: Db, env: Record<string, string>, paths: string[]): Promise<void> {
  const deadLetters = new DeadLetterStore(db);
  const system = new ActorSystem({ db, deadLetters });
  const tail = registerWorkerPartition(system, parseWorkerPartitionConfig(env));
  await system.start();
  try {
    const deps = workerPartitionIngestDeps(system, tail, db, deadLetters);
    for (const p of paths) await importWorkerPartitionPath(deps, p);
    await system.whenIdle();
  } finally {
    await system.stop();
  }
}

async function states(db: Db, partition: string) {
  const scope = { column: "partition_id", value: partition };
  return Object.fromEntries(await Promise.all(DERIVED_TABLES.map(async (t) => [t, await tableState(db, t, scope)] as const)));
}

const config = (env: Record<string, string>) => loadConfig(env, { sections: KIND_SECTIONS });

for (const engine of testEngines) {
  test(`replay after a commission change (${engine.name}) - every job keeps the rate it was applied with; the fee ledger does not move`, async () => {
    const fx = await engine.create();
    try {
      await migrate(fx.db);
      const samples = path.join(repoRoot, "samples/worker-partition");
      const [first, second, third] = files(samples);
      // Host 1 at 25 %, host 2 (restarted with 10 %) imports the rest.
      await runHost(fx.db, { POOL_COMMISSION_RATE: "0.25" }, [first]);
      const afterFirst = await fx.db.query<{ o: string }>("SELECT journal_offset::text AS o FROM worker_partition_state WHERE partition_id = $1", [TRANSCODE]);
      await runHost(fx.db, { POOL_COMMISSION_RATE: "0.10" }, [second, third]);
      const history = await fx.db.query<{ f: string; c: number }>("SELECT from_offset::text AS f, commission_bps AS c FROM worker_partition_params WHERE partition_id = $1 ORDER BY from_offset", [TRANSCODE]);
      assert.equal(history.rows.map((r) => [r.f, r.c]), [["0", 2500], [afterFirst.rows[0].o, 1000]], "the change is recorded from the offset host 2 started at");
      const live = await states(fx.db, TRANSCODE);
      const ledger = await fx.db.query<{ a: string; w: string }>("SELECT eth_address AS a, earned_wei::text AS w FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY 1", [TRANSCODE]);

      // Replayed by a process configured with yet another rate: nothing changes.
      const report = await replayKind(fx.db, config({ DATABASE_URL: "postgres://unused", POOL_COMMISSION_RATE: "0.5" }), { kind: "worker-partition", entity: TRANSCODE });
      assert.equal(report.differing, [], JSON.stringify(report.tables.filter((t) => t.differs)));
      assert.equal(await states(fx.db, TRANSCODE), live);
      const replayed = await fx.db.query<{ a: string; w: string }>("SELECT eth_address AS a, earned_wei::text AS w FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY 1", [TRANSCODE]);
      assert.equal(replayed.rows, ledger.rows);
      const historyAfter = await fx.db.query<{ f: string; c: number }>("SELECT from_offset::text AS f, commission_bps AS c FROM worker_partition_params WHERE partition_id = $1 ORDER BY from_offset", [TRANSCODE]);
      assert.equal(historyAfter.rows, history.rows, "a replay keeps the history as it was");
    } finally {
      await fx.drop();
    }
  });

  test(`replay with another AI correlation TTL (${engine.name}) - the jobs keep the attribution they were applied with`, async () => {
    const fx = await engine.create();
    try {
      await migrate(fx.db);
      await runHost(fx.db, {}, [path.join(repoRoot, "samples/worker-partition/us-central/ai")]);
      const live = await states(fx.db, AI);
      const report = await replayKind(fx.db, config({ DATABASE_URL: "postgres://unused", AI_CORRELATION_TTL_SECONDS: "30" }), { kind: "worker-partition", entity: AI });
      assert.equal(report.differing, [], JSON.stringify(report.tables.filter((t) => t.differs)));
      assert.equal(await states(fx.db, AI), live);
    } finally {
      await fx.drop();
    }
  });
}

test.run();
