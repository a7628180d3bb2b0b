/**
 * GET /actors/:kind/:id for an id the kind refuses (worker-partition: a partition that is not
 * active, or no partition at all) is a 404 naming the reason, not a 500 with a level-50 log line.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Writable } from "node:stream";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { createMetrics } from "../../supervisors/observability/metrics.ts";
import { actorSystemAdminSource, startAdminServer } from "../../admin/mod.ts";
import { createWorkerPartitionKind } from "../../actors/worker-partition/kind.ts";
import { createTestDatabase } from "../support/databases.ts";

test("admin - GET /actors/worker-partition/<inactive or bogus id> is 404 with the reason, logged below error", async () => {
  const fresh = await createTestDatabase();
  const lines: { level: number; msg?: string }[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger({ level: "debug", destination });
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
  const system = new ActorSystem({ db: fresh.db, clock, log });
  system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 60_000 }));
  await system.start();
  const source = actorSystemAdminSource({ system, clock, metrics: createMetrics({ defaultMetrics: false }), health: () => [] });
  const server = await startAdminServer({ host: "127.0.0.1", port: 0, source, log });
  try {
    for (const id of ["bogus", "ai|eu-central"]) {
      const res = await fetch(`${server.url}/actors/worker-partition/${encodeURIComponent(id)}`);
      const body = (await res.json()) as { error: string };
      assert.is(res.status, 404, JSON.stringify(body));
      assert.match(body.error, `no actor worker-partition/${id}: partition "${id}" is not active`);
    }
    assert.equal(
      lines.filter((l) => l.level >= 50),
      [],
    );
  } finally {
    await server.close();
    await system.stop();
    await fresh.drop();
  }
});

test.run();
