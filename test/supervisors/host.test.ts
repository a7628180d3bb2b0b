/**
 * The host (supervisors/host.ts), started in-process from a config built by loadConfig:
 * embedded mode (PGlite in a temp data dir, in-process transport, embedded s3rver and anvil,
 * bundled samples) and services mode (a private nats-server, a fresh PostgreSQL database).
 * Every part is real; stop() must release everything so this file's process exits by itself.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../config/load-config.ts";
import { maskServiceUrl } from "../../config/redact.ts";
import { AdminBindError } from "../../admin/auth.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { startHost } from "../../supervisors/host.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { connectNatsTransport } from "../../supervisors/transport/nats-transport.ts";
import { startNatsServer } from "../support/nats-server.ts";
import { createTestDatabase } from "../support/databases.ts";
import { testEnv, uniqueName } from "../support/env.ts";
import { BUNDLED_SAMPLE } from "../../actors/vault-term/mod.ts";
import { EVENT_TABLES } from "../../actors/vault-term/event-journal.ts";
import { openPgliteDb } from "../../db/pglite-db.ts";
import { Redis } from "ioredis";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

interface LogLine {
  msg: string;
  level: number;
  [k: string]: unknown;
}

function collectingLogger(): { log: ReturnType<typeof createLogger>; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { log, lines };
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function refused(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return false;
  } catch {
    return true;
  }
}

test("host - embedded mode: every dependency healthy, kinds listed, ready answers, stop releases everything", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "strata-host-"));
  const { log, lines } = collectingLogger();
  // All four kinds named: the two not built yet are skipped with a log line.
  const config = loadConfig({ STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0", LOG_LEVEL: "info", STRATA_KINDS: "operator,network,worker-partition,vault-term" }, { sections: KIND_SECTIONS });
  const host = await startHost(config, { log });
  let stopped = false;
  try {
    assert.match(host.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(host.adminPort > 0);

    const health = await getJson(`${host.adminUrl}/health`);
    assert.is(health.status, 200, JSON.stringify(health.body));
    const deps = health.body.dependencies as { name: string; ok: boolean; detail: string }[];
    assert.equal(deps.map((d) => d.name), ["pglite", "transport", "s3", "eth-rpc"]);
    for (const d of deps) assert.ok(d.ok, `${d.name}: ${d.detail}`);
    assert.match(deps[0].detail, join(dataDir, "pglite"));

    const actors = await getJson(`${host.adminUrl}/actors`);
    assert.is(actors.status, 200);
    const kinds = (actors.body.kinds as { kind: string }[]).map((k) => k.kind).sort();
    assert.equal(kinds, ["vault-term", "vault-term-analytics", "worker-partition"]);
    assert.equal(host.kinds.map((k) => k.kind), ["worker-partition", "vault-term"]);
    assert.equal(host.services, ["strata-worker-partition", "strata-vault-term"]);

    const metrics = await fetch(`${host.adminUrl}/metrics`);
    assert.is(metrics.status, 200);
    assert.match(await metrics.text(), /strata_actors_resident\{kind="worker-partition"\}/);

    const ready = await getJson(`${host.adminUrl}/ready`);
    assert.ok(ready.status === 200 || ready.status === 503);
    assert.is(ready.body.ready, ready.status === 200);
    const names = (ready.body.checks as { name: string }[]).map((c) => c.name).sort();
    assert.equal(names, [
      "ingress:payments-schedule",
      "ingress:vault-term-sample",
      "ingress:worker-partition-s3",
      "kind:vault-term",
      "kind:vault-term-analytics",
      "kind:worker-partition",
    ]);

    // One line per part, saying embedded (or which URL); the dev chain loudly.
    const msgs = lines.map((l) => l.msg);
    assert.ok(msgs.includes(`db: embedded pglite in ${join(dataDir, "pglite")}`), msgs.join("\n"));
    assert.ok(msgs.includes("transport: embedded in-process transport"));
    assert.ok(msgs.includes("health: pglite up, transport up, s3 up, eth-rpc up"), msgs.join("\n"));
    assert.ok(msgs.some((m) => m.startsWith("s3: embedded s3rver at http://127.0.0.1:")));
    const devChain = lines.find((l) => l.msg.startsWith("eth: DEV CHAIN"));
    assert.ok(devChain, "the dev chain is announced");
    assert.is(devChain!.level, 40, "as a warning");
    assert.ok(msgs.includes("kind operator: no kind module in this build, skipped"));
    assert.ok(msgs.includes("kind network: no kind module in this build, skipped"));
    assert.ok(msgs.some((m) => m.startsWith("worker-partition: embedded, no S3_ENDPOINT") && m.includes("15 bundled sample files uploaded")));
    assert.ok(msgs.some((m) => m.startsWith("vault-term: embedded, no REDIS_URL: importing sample events")));

    // Payments admin routes are served by the host: a run triggered now pays on the dev chain
    // (or finds nothing due yet), and the list shows every active partition.
    const listed = await getJson(`${host.adminUrl}/payments`);
    assert.is(listed.status, 200, JSON.stringify(listed.body));
    assert.is((listed.body.partitions as unknown[]).length, 5);
    const triggered = await fetch(`${host.adminUrl}/payments/${encodeURIComponent("ai|us-central")}/trigger`, { method: "POST", headers: { "content-type": "application/json" } });
    const report = (await triggered.json()) as { outcome?: string };
    assert.ok(["done", "busy"].includes(String(report.outcome)), JSON.stringify(report));
    assert.is(triggered.status, report.outcome === "done" ? 200 : 409, `trigger answered ${triggered.status}: ${JSON.stringify(report)}`);

    const s3Endpoint = /embedded s3rver (http:\/\/127\.0\.0\.1:\d+)/.exec(deps[2].detail)![1];
    // The run's audit (at least its start and end) is copied to the metrics bucket by the host
    // itself, one object per audit row (seed 003 defect 21: the audit outlives the container).
    const audit = await getJson(`${host.adminUrl}/payments/audit?partition=${encodeURIComponent("ai|us-central")}`);
    const auditRows = (audit.body.partitions as { audit: unknown[] }[])[0].audit.length;
    assert.ok(auditRows >= 2, JSON.stringify(audit.body));
    const s3 = new S3Client({ endpoint: s3Endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } });
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: "open-pool-metrics", Prefix: "payments/ai/us-central/" }));
      assert.is((listed.Contents ?? []).length, auditRows, "every audit row of the run is in S3 when the trigger has answered");
    } finally {
      s3.destroy();
    }
    const anvilUrl = /(http:\/\/127\.0\.0\.1:\d+)/.exec(deps[3].detail)![1];
    await host.stop();
    stopped = true;
    assert.ok(await refused(`${host.adminUrl}/health`), "admin closed");
    assert.ok(await refused(s3Endpoint), "embedded s3rver stopped");
    assert.ok(await refused(anvilUrl), "embedded anvil stopped");
    assert.ok(lines.some((l) => l.msg === "strata host stopped"));
    assert.not.ok(lines.some((l) => l.level >= 50), lines.filter((l) => l.level >= 50).map((l) => l.msg).join("\n"));

    // stop() finished the ingress work it had begun and committed it: every sample event is in
    // the journal and every sample file is confirmed, in the PGlite data dir it leaves behind.
    const db = await openPgliteDb(join(dataDir, "pglite"));
    try {
      const expectedEvents = (await readFile(BUNDLED_SAMPLE, "utf8")).split("\n").filter((l) => l.trim() !== "").length;
      let events = 0;
      for (const table of Object.values(EVENT_TABLES)) events += Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`)).rows[0].n);
      assert.is(events, expectedEvents);
      const files = await db.query<{ state: string; n: string }>("SELECT state, count(*)::text AS n FROM strata_source_cursor GROUP BY state");
      assert.equal(files.rows.map((r) => [r.state, r.n]), [["confirmed", "15"]]);
    } finally {
      await db.close();
    }
  } finally {
    if (!stopped) await host.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("host - services mode: postgres, nats and redis in use, the Redis reader ingests, $SRV.INFO lists strata-vault-term and strata-worker-partition", async () => {
  const nats = await startNatsServer();
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "strata-host-"));
  const stream = uniqueName("strata_host_stream");
  const redis = new Redis(testEnv.redisUrl);
  const { log, lines } = collectingLogger();
  const config = loadConfig(
    {
      STRATA_DATA_DIR: dataDir,
      ADMIN_PORT: "0",
      NATS_URL: nats.url,
      DATABASE_URL: database.url,
      REDIS_URL: testEnv.redisUrl,
      REDIS_STREAMS: stream,
      CONSUMER_GROUP: `${stream}_group`,
      BATCH_TIMEOUT_MS: "50",
      STRATA_KINDS: "vault-term,worker-partition",
      STRATA_PARTITIONS: "8",
    },
    { sections: KIND_SECTIONS },
  );
  const host = await startHost(config, { log });
  const client = await connectNatsTransport(nats.url, { name: "host-test-client" });
  try {
    const health = await getJson(`${host.adminUrl}/health`);
    assert.is(health.status, 200, JSON.stringify(health.body));
    const deps = health.body.dependencies as { name: string; ok: boolean; detail: string }[];
    // No ETH_RPC_ENDPOINT with a real database: payments are off (no dev chain is started, no
    // eth-rpc dependency), said loudly, so a real ledger is never credited with dev-chain transfers.
    assert.equal(deps.map((d) => [d.name, d.ok]), [["postgres", true], ["nats", true], ["redis", true], ["s3", true]]);
    const off = lines.find((l) => l.msg.startsWith("payments: OFF on this host: ETH_RPC_ENDPOINT is not set and DATABASE_URL is"));
    assert.ok(off, "payments off is announced");
    assert.is(off!.level, 40, "as a warning");
    assert.not.ok(lines.some((l) => l.msg.startsWith("eth: DEV CHAIN")), "no dev chain beside a real database");
    assert.ok(lines.some((l) => l.msg === `db: postgres at ${maskServiceUrl(database.url)}`));
    assert.ok(lines.some((l) => l.msg === `transport: nats at ${nats.url}`));
    assert.ok(lines.some((l) => l.msg.startsWith(`vault-term: reading Redis streams ${stream} at ${testEnv.redisUrl}`)));
    const ready = await getJson(`${host.adminUrl}/ready`);
    assert.ok((ready.body.checks as { name: string }[]).some((c) => c.name === "ingress:vault-term-redis"));

    // One rindexer message through the host's Redis reader into the journal (a real pipeline:
    // bounded wait for the reader, which blocks on XREADGROUP).
    const sampleLine = (await readFile(BUNDLED_SAMPLE, "utf8")).split("\n")[0];
    const termId = (JSON.parse(sampleLine) as { event_data: { termId: string } }).event_data.termId;
    await redis.xadd(stream, "*", "event_data", sampleLine);
    let rows = 0;
    for (const deadline = Date.now() + 20_000; rows === 0 && Date.now() < deadline; ) {
      rows = Number((await host.db.query<{ n: string }>("SELECT count(*)::text AS n FROM atom_created_events")).rows[0].n);
      if (rows === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(rows, 1, "the stream entry reached the journal");
    assert.ok(termId.startsWith("0x"));

    const decode = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data));
    for (const [kind, actorKinds] of [["vault-term", ["vault-term", "vault-term-analytics"]], ["worker-partition", ["worker-partition"]]] as const) {
      const info = decode((await client.request(`$SRV.INFO.strata-${kind}`, new Uint8Array(), { timeoutMs: 5000 })).data);
      assert.is(info.type, "io.nats.micro.v1.info_response");
      assert.is(info.name, `strata-${kind}`);
      assert.is(info.metadata["strata.kind"], kind);
      assert.ok((info.endpoints as { name: string }[]).some((e) => e.name === "status"));

      const stats = decode((await client.request(`$SRV.STATS.strata-${kind}`, new Uint8Array(), { timeoutMs: 5000 })).data);
      assert.is(stats.type, "io.nats.micro.v1.stats_response");
      const data = stats.endpoints[0].data;
      assert.equal(data.ownedPartitions, [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(data.actorKinds, actorKinds);
      for (const key of ["activeActors", "mailboxDepth", "deadLetters", "lag"]) assert.type(data[key], "number", key);

      const status = decode((await client.request(`strata.${kind}.status`, new Uint8Array(), { timeoutMs: 5000 })).data);
      assert.is(status.host, host.hostId);
    }
    // The plain `$SRV.INFO` (what `nats micro ls` sends) reaches both services.
    const seen = new Set<string>();
    const inbox = `_INBOX.hosttest.${Date.now()}`;
    let gotBoth!: () => void;
    const both = new Promise<void>((resolve) => (gotBoth = resolve));
    const sub = client.subscribe(inbox, (msg) => {
      seen.add(decode(msg.data).name);
      if (seen.size === 2) gotBoth();
    });
    await client.flush();
    client.publish("$SRV.INFO", new Uint8Array(), { reply: inbox });
    await both;
    sub.unsubscribe();
    assert.equal([...seen].sort(), ["strata-vault-term", "strata-worker-partition"]);
  } finally {
    await client.close();
    await host.stop();
    await redis.del(stream).finally(() => redis.quit());
    await database.drop();
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("host - a payer key that cannot be read stops the start, naming ETH_PRIVATE_KEY and not its value", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "strata-host-"));
  const badKey = "0x1234deadbeef";
  try {
    const { log, lines } = collectingLogger();
    const config = loadConfig({ STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0", STRATA_KINDS: "worker-partition", ETH_PRIVATE_KEY: badKey }, { sections: KIND_SECTIONS });
    const error = await startHost(config, { log }).then(
      async (host) => {
        await host.stop();
        return null;
      },
      (err: Error) => err,
    );
    assert.ok(error, "the host does not start");
    assert.match(error!.message, /ETH_PRIVATE_KEY/);
    assert.not.ok(error!.message.includes(badKey.slice(2)), "the key's value is not in the error");
    assert.not.ok(JSON.stringify(lines).includes(badKey.slice(2)), "nor in the log");
    assert.ok(lines.some((l) => l.msg === "strata host stopped"), "what was started is stopped");
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("host - a non-loopback ADMIN_HOST without ADMIN_TOKEN is refused before anything starts", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "strata-host-"));
  try {
    const { log, lines } = collectingLogger();
    const config = loadConfig({ STRATA_DATA_DIR: dataDir, ADMIN_HOST: "0.0.0.0", ADMIN_PORT: "0" }, { sections: KIND_SECTIONS });
    let error: unknown;
    try {
      await startHost(config, { log });
    } catch (err) {
      error = err;
    }
    assert.instance(error, AdminBindError);
    assert.match((error as Error).message, "0.0.0.0");
    assert.equal(await readdir(dataDir), [], "no database, s3 or chain data created");
    assert.equal(lines, []);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
