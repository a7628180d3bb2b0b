/**
 * `strata import worker-partition` imported again — the same folder, then from another working
 * directory through a relative path, then through a path with `..` — keeps ONE dead letter per
 * bad file and per bad record, on both engines: the path is made absolute before it names a
 * dead-letter source (`import:<absolute file>`, `#<index>` for a record), and a file outside an
 * active partition is recorded like the batch's own dead letters (recordNewDeadLetters). Before,
 * that file got one more row per import (DeadLetterStore.record), and a relative path gave other
 * sources than an absolute one.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import pino from "pino";
import { W1, transcodeJob } from "./events-fixture.ts";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { systemClock } from "../../../supervisors/clock.ts";
import { createWorkerPartitionKind } from "../../../actors/worker-partition/kind.ts";
import { WORKER_PARTITION_KIND } from "../../../actors/worker-partition/journal.ts";
import { importWorkerPartitionPath, type ImportReport } from "../../../actors/worker-partition/import-files.ts";

for (const engine of testEngines) {
  test(`import - a file outside an active partition and a bad record keep one dead letter each, however often and from wherever imported [${engine.name}]`, async () => {
    const { db, drop } = await engine.create();
    const log = pino({ level: "silent" });
    const deadLetters = new DeadLetterStore(db, { log });
    const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
    // realpath: the temp folder may sit behind a symlink (macOS /var → /private/var).
    const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), "strata-wp-reimport-")));
    const cwd = process.cwd();
    try {
      await migrate(db);
      system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
      await system.start();
      const inactive = path.join(dir, "us-west", "ai", "us-west-ai-20250227T120000Z_20250227T120059Z.json");
      const active = path.join(dir, "us-central", "transcode", "us-central-transcode-20250227T120000Z_20250227T120059Z.json");
      await mkdir(path.dirname(inactive), { recursive: true });
      await mkdir(path.dirname(active), { recursive: true });
      await writeFile(inactive, JSON.stringify([transcodeJob(W1, 100)]));
      await writeFile(active, JSON.stringify([transcodeJob(W1, 100), transcodeJob(W1, -5)]));
      const deps = { db, deadLetters, catchUp: (pid: string) => system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 }) };

      const reports: ImportReport[] = [];
      reports.push(await importWorkerPartitionPath(deps, dir));
      reports.push(await importWorkerPartitionPath(deps, dir));
      const sources = async () => (await listDeadLetters(db, { kind: WORKER_PARTITION_KIND })).map((d) => d.source).sort();
      assert.equal(await sources(), [`import:${active}#1`, `import:${inactive}`], "the same folder imported twice");
      process.chdir(path.dirname(dir));
      try {
        reports.push(await importWorkerPartitionPath(deps, path.basename(dir)));
        reports.push(await importWorkerPartitionPath(deps, path.join("..", path.basename(path.dirname(dir)), path.basename(dir), "us-west", "..")));
      } finally {
        process.chdir(cwd);
      }
      assert.equal(await sources(), [`import:${active}#1`, `import:${inactive}`], "imported again from another working directory");
      assert.is(reports[0].totals.newEvents, 1, JSON.stringify(reports[0]));
      for (const r of reports) {
        assert.equal(r.rejectedFiles, [inactive], "the rejected file is named by its absolute path");
        assert.is(r.totals.deadLetters, 2, "each import still reports the bad file and the bad record");
      }
      assert.equal(reports.slice(1).map((r) => r.totals.newEvents), [0, 0, 0]);

      const letters = await listDeadLetters(db, { kind: WORKER_PARTITION_KIND });
      const wrong = letters.find((d) => d.source === `import:${inactive}`)!;
      assert.is(wrong.errorCode, "wrong_partition");
      assert.equal(wrong.payload, { file: path.join("us-west", "ai", path.basename(inactive)) });
    } finally {
      process.chdir(cwd);
      await system.stop();
      await rm(dir, { recursive: true, force: true });
      await drop();
    }
  });
}

test.run();
