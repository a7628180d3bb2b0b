/**
 * The performance recompute reads one partition's attributed jobs in event-ID order through an
 * index that matches that query (migration 0201): no scan of the other partitions' jobs and no
 * sort. Regression: with 0200's index only, the plan scanned the primary key over every
 * partition and filtered.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { lazyDatabase, testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { readPerfJobs } from "../../../actors/worker-partition/store.ts";

const SMALL = "transcode|oceania";
const BIG = "transcode|us-central";

for (const engine of testEngines) {
  const t = suite(`worker_processed_jobs plan (${engine.name})`);
  const fx = lazyDatabase(engine, (db) => migrate(db).then(() => {}));
  t.after(() => fx.drop());

  t("perf jobs - a partition's attributed jobs are read through (partition_id, attributed, event_id), without a sort", async () => {
    const db = await fx.get();
    const insert = (partition: string, n: number) =>
      db.query(
        `INSERT INTO worker_processed_jobs (event_id, partition_id, eth_address, node_type, dt, compute_units, price_per_compute_unit, fees, response_time_ms, response_time_raw, real_time_ratio, attributed)
         SELECT $1 || '-' || lpad(g::text, 6, '0'), $1, '0xabc', 'transcode', now(), 10, 1, 5, 100, 100, 1.5, g % 10 <> 0 FROM generate_series(1, $2::int) AS g`,
        [partition, n],
      );
    await insert(BIG, 20_000);
    await insert(SMALL, 200);
    await db.query("ANALYZE worker_processed_jobs");
    const plan = await db.query<{ "QUERY PLAN": unknown }>(
      "EXPLAIN (FORMAT JSON) SELECT eth_address, real_time_ratio, response_time_ms, compute_units, fees::text FROM worker_processed_jobs WHERE partition_id = $1 AND attributed ORDER BY event_id",
      [SMALL],
    );
    const text = JSON.stringify(plan.rows[0]["QUERY PLAN"]);
    assert.match(text, /worker_processed_jobs_partition_jobs/, text);
    assert.not.match(text, /"Node Type":"Sort"/, text);
    const jobs = await readPerfJobs(db, SMALL);
    assert.is(jobs.length, 180, "the partition's attributed jobs, and only them");
  });

  t.run();
}
