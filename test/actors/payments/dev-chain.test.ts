/** Embedded mode's dev chain: started from the npm package, answers with its chain id, says loudly it is a dev chain. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { Wallet } from "ethers";
import { DEV_CHAIN_PAYER_KEY, anvilBinaryPath, startDevChain } from "../../../actors/worker-partition/payments/dev-chain.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import { ANVIL_BINARY, freePort } from "../../support/anvil.ts";

test("dev chain - anvil from the npm package, funded dev payer, a loud warning", async () => {
  assert.is(anvilBinaryPath(), ANVIL_BINARY);
  const lines: string[] = [];
  const log = pino({}, { write: (s: string) => void lines.push(s) });
  const chain = await startDevChain({ log, port: await freePort() });
  try {
    const rpc = createRpcClient(chain.url);
    assert.is(await rpc.chainId(), "31337");
    assert.ok((await rpc.balance(new Wallet(DEV_CHAIN_PAYER_KEY).address)) > 10n ** 21n);
    const warning = JSON.parse(lines.find((l) => l.includes("DEV CHAIN"))!);
    assert.is(warning.level, 40);
    assert.match(warning.msg, /nothing paid here is real money/);
  } finally {
    await chain.stop();
  }
});

test.run();
