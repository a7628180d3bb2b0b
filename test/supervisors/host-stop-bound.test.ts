/**
 * The host's stop() with a handler that never returns: the actor system's stop lets a running
 * handler finish its message (so its state is committed before the database closes), so without
 * a bound such a handler held the host's stop forever. The host waits at most drainTimeoutMs for
 * it, logs a warning and goes on. A real host (PostgreSQL test database, in-process transport)
 * running one test kind module.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../config/load-config.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { startHost } from "../../supervisors/host.ts";
import type { KindModule } from "../../supervisors/kind-module.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { createTestDatabase } from "../support/databases.ts";

interface LogLine {
  msg: string;
  level: number;
  [k: string]: unknown;
}

/** Waits (I/O turns) until `pred` holds; fails naming `what` after 10 s. */
async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test("host stop - a handler that never returns: stop goes on after drainTimeoutMs with a warning", async () => {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "strata-host-stop-"));
  const lines: LogLine[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  let started = false;
  // A kind module of a kind not built here (STRATA_KINDS accepts only known names).
  const hanging: KindModule = {
    kind: "operator",
    version: "0.0.0",
    description: "test: a handler that never returns",
    async register(ctx) {
      ctx.system.register<Record<string, never>>({
        kind: "hang",
        initial: () => ({}),
        load: async () => new Map(),
        save: async () => {},
        handle: () => {
          started = true;
          return new Promise<never>(() => {});
        },
      });
      return { actorKinds: ["hang"], summary: "hang: test kind", stopIngress: async () => {} };
    },
  };
  try {
    const config = loadConfig({ STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0", DATABASE_URL: database.url, STRATA_KINDS: "operator" }, { sections: KIND_SECTIONS });
    const host = await startHost(config, { log, modules: [hanging], drainTimeoutMs: 300 });
    host.system.tell("hang", "h", "work", {});
    await until(() => started, "the handler to start");

    const t0 = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      host.stop().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), 20_000);
      }),
    ]);
    clearTimeout(timer);
    assert.ok(stopped, "host.stop() still waiting after 20 s");
    assert.ok(Date.now() - t0 < 10_000, `stop took ${Date.now() - t0} ms`);
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    assert.ok(warnings.some((m) => m.startsWith("stop: actors not idle in time")), warnings.join("\n"));
    assert.ok(warnings.some((m) => m.startsWith("stop: actor system not stopped in time")), warnings.join("\n"));
    assert.ok(lines.some((l) => l.msg === "strata host stopped"), "the rest of stop ran");
  } finally {
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
