/**
 * The host and the bundled samples (a newcomer review's finding, money): with a real database but
 * no S3_ENDPOINT / REDIS_URL, the embedded ingress parts loaded the bundled sample events into the
 * real fee ledger — and with ETH_RPC_ENDPOINT set, a payment run then paid the sample addresses on
 * that chain. Now (STRATA_SAMPLES=auto) a host with DATABASE_URL loads none; `on` loads them (the
 * same host config otherwise); `on` with ETH_RPC_ENDPOINT is refused before anything starts.
 * Real PostgreSQL, the embedded s3rver.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../config/load-config.ts";
import { ConfigError } from "../../config/fields.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { startHost } from "../../supervisors/host.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { createTestDatabase } from "../support/databases.ts";

function collectingLogger() {
  const lines: { msg: string; level: number }[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

async function journaled(db: { query: (sql: string) => Promise<{ rows: { n: string }[] }> }): Promise<{ worker: number; vault: number }> {
  const w = await db.query("SELECT count(*)::text AS n FROM worker_event_ids");
  const v = await db.query("SELECT count(*)::text AS n FROM atom_created_events");
  return { worker: Number(w.rows[0].n), vault: Number(v.rows[0].n) };
}

for (const samples of ["auto", "on"] as const) {
  test(`host samples - a real database without S3_ENDPOINT / REDIS_URL, STRATA_SAMPLES=${samples}: ${samples === "auto" ? "no sample event reaches it" : "the samples are loaded"}`, async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), "strata-host-samples-"));
    const { log, lines } = collectingLogger();
    const config = loadConfig({ STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0", DATABASE_URL: database.url, STRATA_SAMPLES: samples, S3_SENSOR_INTERVAL_SECONDS: "1" }, { sections: KIND_SECTIONS });
    const host = await startHost(config, { log });
    try {
      const msgs = lines.map((l) => l.msg);
      const wp = msgs.find((m) => m.startsWith("worker-partition: embedded, no S3_ENDPOINT"));
      const vt = msgs.find((m) => m.startsWith("vault-term: embedded, no REDIS_URL"));
      if (samples === "auto") {
        assert.ok(wp?.includes("no bundled samples: DATABASE_URL is set (STRATA_SAMPLES=on loads them)"), wp);
        assert.ok(vt?.includes("no bundled samples: DATABASE_URL is set"), vt);
      } else {
        assert.ok(wp?.includes("15 bundled sample files uploaded"), wp);
        assert.ok(vt?.includes("importing sample events"), vt);
      }
      // The sensor polls every second: wait for the samples (on), or for three polls' worth (auto).
      let seen = await journaled(host.db);
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
        seen = await journaled(host.db);
        if (samples === "on" && seen.worker > 0 && seen.vault > 0) break;
        await new Promise((r) => setTimeout(r, 200));
        if (samples === "auto" && Date.now() > deadline - 17_000) break;
      }
      if (samples === "auto") assert.equal(seen, { worker: 0, vault: 0 });
      else assert.ok(seen.worker > 0 && seen.vault > 0, JSON.stringify(seen));
    } finally {
      await host.stop();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
}

test("host samples - STRATA_SAMPLES=on with ETH_RPC_ENDPOINT is refused, naming the key, before anything is paid", async () => {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "strata-host-samples-"));
  try {
    const { log } = collectingLogger();
    const config = loadConfig(
      { STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0", DATABASE_URL: database.url, STRATA_SAMPLES: "on", ETH_RPC_ENDPOINT: "http://127.0.0.1:9", STRATA_KINDS: "worker-partition" },
      { sections: KIND_SECTIONS },
    );
    const error = await startHost(config, { log }).then(
      async (host) => (await host.stop(), null),
      (err: unknown) => err,
    );
    assert.instance(error, ConfigError);
    assert.match((error as Error).message, /^STRATA_SAMPLES: on is refused with ETH_RPC_ENDPOINT set/);
    assert.equal(await readdir(dataDir).catch(() => []), [], "no embedded s3rver or chain data created");
  } finally {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
