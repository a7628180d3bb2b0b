/**
 * Dependency probes (supervisors/dependency-health.ts) against real services: up when the service
 * answers, down with the reason when nothing listens, and never a thrown error or an unhandled
 * connection error event.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkAll, dbProbe, ethProbe, redisProbe, s3Probe, transportProbe } from "../../supervisors/dependency-health.ts";
import { freePort } from "../../supervisors/embedded/free-port.ts";
import { createMemoryTransport } from "../../supervisors/transport/memory-transport.ts";
import { connectNatsTransport } from "../../supervisors/transport/nats-transport.ts";
import { createTestDatabase } from "../support/databases.ts";
import { testEnv } from "../support/env.ts";

test("dependency-health - postgres, nats, in-process transport and redis answer: ok with a latency", async () => {
  const database = await createTestDatabase();
  const nats = await connectNatsTransport(testEnv.natsUrl, { name: "dependency-health-test" });
  const memory = createMemoryTransport();
  const redis = redisProbe(testEnv.redisUrl, "redis under test");
  try {
    const results = await checkAll([dbProbe(database.db, "pg under test"), transportProbe(nats, "nats", "nats under test"), transportProbe(memory, "transport", "in-process"), redis]);
    assert.equal(results.map((r) => [r.name, r.ok, r.detail]), [
      ["postgres", true, "pg under test"],
      ["nats", true, "nats under test"],
      ["transport", true, "in-process"],
      ["redis", true, "redis under test"],
    ]);
    for (const r of results) assert.type(r.latencyMs, "number");
  } finally {
    await redis.close?.();
    await memory.close();
    await nats.close();
    await database.drop();
  }
});

test("dependency-health - nothing listening: redis, s3 and eth-rpc are down with the reason, twice in a row", async () => {
  const port = await freePort();
  const dead = `127.0.0.1:${port}`;
  const probes = [
    redisProbe(`redis://${dead}`, "redis"),
    s3Probe({ endpoint: `http://${dead}`, region: "us-east-1", accessKeyId: "x", secretAccessKey: "y" }, "s3"),
    ethProbe(`http://${dead}`, "eth"),
  ];
  try {
    for (let round = 0; round < 2; round++) {
      const results = await checkAll(probes);
      assert.equal(results.map((r) => [r.name, r.ok]), [["redis", false], ["s3", false], ["eth-rpc", false]]);
      assert.match(results[0].detail!, "ECONNREFUSED");
      assert.match(results[1].detail!, "ECONNREFUSED");
      assert.match(results[2].detail!, /^eth: /);
    }
  } finally {
    for (const p of probes) await p.close?.();
  }
});

test.run();
