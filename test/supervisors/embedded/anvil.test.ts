/** The host's embedded anvil: a port taken between picking and binding is not fatal; it answers as a funded dev chain and says so loudly. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { Wallet } from "ethers";
import { createServer } from "node:net";
import type { Server } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startEmbeddedAnvil } from "../../../supervisors/embedded/anvil.ts";
import { freePort } from "../../../supervisors/embedded/free-port.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";

function listenAnywhere(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === "object" && addr ? addr.port : 0 });
    });
  });
}

test("embedded anvil - a port taken before anvil binds it: another port is tried, the chain starts", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "strata-anvil-"));
  const taken = await listenAnywhere();
  const lines: string[] = [];
  const log = pino({}, { write: (s: string) => void lines.push(s) });
  const offered: number[] = [];
  // The first port offered is one another process already holds, as when the host's admin
  // server (or a test's) binds the port the kernel just handed out.
  const pickPort = async () => {
    const port = offered.length === 0 ? taken.port : await freePort();
    offered.push(port);
    return port;
  };
  try {
    const anvil = await startEmbeddedAnvil({ directory: dir, log, pickPort });
    try {
      assert.is(offered.length, 2);
      assert.is(anvil.port, offered[1]);
      assert.is.not(anvil.port, taken.port);
      const rpc = createRpcClient(anvil.url);
      assert.is(await rpc.chainId(), "31337");
      assert.ok(lines.some((l) => l.includes(`port ${taken.port} was taken`)), "the retry is logged");
      const warning = JSON.parse(lines.find((l) => l.includes("DEV CHAIN"))!) as { level: number; msg: string };
      assert.is(warning.level, 40, "the dev chain is announced as a warning");
      assert.match(warning.msg, /nothing paid here is real money/);
      const payer = new Wallet(anvil.devPayerKey).address;
      assert.ok((await rpc.balance(payer)) > 10n ** 21n, "the dev payer is funded");
    } finally {
      await anvil.stop();
    }
  } finally {
    taken.server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("embedded anvil - a failure that is not a taken port is reported at once with anvil's output", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "strata-anvil-"));
  const log = pino({ level: "silent" });
  let attempts = 0;
  await writeFile(path.join(dir, "state.json"), "{not json");
  try {
    const err = await startEmbeddedAnvil({ directory: dir, log, pickPort: async () => (attempts++, await freePort()) }).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, "a corrupt state file is refused by anvil");
    assert.match(err!.message, /the embedded anvil dev chain did not start/);
    assert.match(err!.message, /failed to parse json file/);
    assert.is(attempts, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
