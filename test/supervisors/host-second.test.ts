/**
 * A second host of a kind on one NATS is refused at start (supervisors/single-host-check.ts): in
 * this build every host owns every partition, so two hosts of one kind would both apply the same
 * entities (a reviewer reproduced a lost update). Real hosts, a private nats-server, embedded
 * PGlite each. A host of another kind on the same NATS starts; once the first stops, the second
 * starts too.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../../config/load-config.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { startHost } from "../../supervisors/host.ts";
import { SecondHostError } from "../../supervisors/single-host-check.ts";
import { startNatsServer } from "../support/nats-server.ts";

const log = pino({ level: "silent" });

test("host - a second host of the same kind on one NATS is refused, naming the kind and the other host; another kind starts", async () => {
  const nats = await startNatsServer();
  const dirs = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmpdir(), "strata-second-"))));
  const config = (dir: string, kinds: string) => loadConfig({ STRATA_DATA_DIR: dir, ADMIN_PORT: "0", NATS_URL: nats.url, STRATA_KINDS: kinds }, { sections: KIND_SECTIONS });
  const started: Awaited<ReturnType<typeof startHost>>[] = [];
  try {
    const first = await startHost(config(dirs[0], "vault-term"), { log });
    started.push(first);
    const refused = await startHost(config(dirs[1], "vault-term"), { log }).then(
      async (h) => (started.push(h), null),
      (err: unknown) => err,
    );
    assert.instance(refused, SecondHostError);
    assert.is((refused as SecondHostError).kind, "vault-term");
    assert.is((refused as SecondHostError).otherHost, first.hostId);
    assert.match((refused as Error).message, /^kind vault-term already runs on this NATS \(host [^)]+\): every host owns every partition/);

    // Another kind on the same NATS is not refused.
    started.push(await startHost(config(dirs[2], "worker-partition"), { log }));

    // Once the first host has stopped, the second starts.
    await first.stop();
    started.shift();
    started.push(await startHost(config(dirs[1], "vault-term"), { log }));
  } finally {
    for (const h of started) await h.stop();
    await nats.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
});

test.run();
