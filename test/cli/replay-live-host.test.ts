/**
 * `strata replay` refuses to run beside a running host on the same PostgreSQL database (a
 * reviewer's finding): the host's resident actors would race the rebuild — a worker-partition
 * actor saving its write set (only the rows it changed) between the reset and the rebuild leaves
 * the partition without fee rows, and the rebuild starts from that partial state. The host's
 * connections are named `strata-host` and kept open while it runs; a dry run only reports and may
 * run beside it. Real PostgreSQL, a real host (embedded s3rver, no payments with DATABASE_URL).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../../config/load-config.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { replayKind } from "../../cli/commands/replay.ts";
import { startHost } from "../../supervisors/host.ts";
import { createTestDatabase } from "../support/databases.ts";

test("replay - refused while a host is connected to the database (even idle), allowed as a dry run, and once the host stopped", async () => {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), "strata-replay-host-"));
  const env = { STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0", DATABASE_URL: database.url, STRATA_KINDS: "worker-partition" };
  const config = loadConfig(env, { sections: KIND_SECTIONS });
  let host: Awaited<ReturnType<typeof startHost>> | null = await startHost(config, { log: pino({ level: "silent" }) });
  try {
    // Longer than pg's default idle timeout (10 s): the host's connections must still be there.
    await new Promise((r) => setTimeout(r, 11_000));
    const refused = await replayKind(database.db, config, { kind: "worker-partition", entity: "ai|us-central" }).then(
      () => null,
      (err: Error) => err,
    );
    assert.ok(refused, "the replay must refuse");
    assert.match(refused!.message, /^a running Strata host is connected to this database \(\d+ connections? named strata-host, from [^)]+\): stop it first/);
    const dry = await replayKind(database.db, config, { kind: "worker-partition", entity: "ai|us-central", dryRun: true });
    assert.equal(dry.differing, []);
    await host.stop();
    host = null;
    const real = await replayKind(database.db, config, { kind: "worker-partition", entity: "ai|us-central" });
    assert.equal(real.differing, []);
  } finally {
    await host?.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
