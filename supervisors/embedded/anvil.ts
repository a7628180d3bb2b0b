/**
 * Embedded Ethereum dev chain: anvil from the npm package (@foundry-rs/anvil), on a free
 * loopback port, chain id 31337, its state kept in `<STRATA_DATA_DIR>/anvil/state.json` across
 * restarts (so open payments are reconciled against the same chain). It is a DEV CHAIN funded
 * with anvil's public test keys: nothing paid there is real, and the host says so loudly.
 * It runs under a Node guard (child.ts `tiedToParent`), so it dies with a host that is killed.
 */
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { Logger } from "pino";
import { spawnEmbedded } from "./child.ts";
import { freePort } from "./free-port.ts";
import { createRpcClient } from "../../actors/worker-partition/payments/rpc-client.ts";

/** Anvil's first dev account: a PUBLIC test key, funded only on dev chains. */
export const ANVIL_DEV_PAYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const ANVIL_CHAIN_ID = 31337;

const ADDRESS_IN_USE = /address already in use/i;
const MAX_PORT_ATTEMPTS = 5;

export interface EmbeddedAnvil {
  readonly url: string;
  readonly port: number;
  readonly chainId: number;
  /** A public dev key funded on this chain (anvil account 0). */
  readonly devPayerKey: string;
  stop(): Promise<void>;
}

export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return fileURLToPath(new URL(`../../node_modules/@foundry-rs/anvil-${process.platform}-${arch}/bin/anvil`, import.meta.url));
}

/** The chain id the node at `url` answers (decimal), or null while it does not answer. */
async function chainIdAt(url: string): Promise<string | null> {
  return createRpcClient(url, { timeoutMs: 2000 }).chainId().catch(() => null);
}

export interface EmbeddedAnvilOptions {
  directory: string;
  log: Logger;
  chainId?: number;
  readyTimeoutMs?: number;
  /** Where a port to try comes from (default: a free port from the kernel). */
  pickPort?: () => Promise<number>;
}

export async function startEmbeddedAnvil(opts: EmbeddedAnvilOptions): Promise<EmbeddedAnvil> {
  const binary = anvilBinary();
  try {
    await access(binary);
  } catch {
    throw new Error(`the anvil binary is missing at ${binary} (npm package @foundry-rs/anvil; run npm ci)`);
  }
  await mkdir(opts.directory, { recursive: true });
  const chainId = opts.chainId ?? ANVIL_CHAIN_ID;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  // freePort releases the port before anvil binds it, so another process can take it in between
  // (the host's own admin server, a test's server): anvil then exits with "Address already in
  // use", and another free port is tried.
  for (let attempt = 1; ; attempt++) {
    const port = await (opts.pickPort ?? freePort)();
    const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--state", join(opts.directory, "state.json")];
    const child = spawnEmbedded("anvil", binary, args, { log: opts.log, tiedToParent: true });
    const url = `http://127.0.0.1:${port}`;
    // Our anvil, not another process on a reused port: it says where it listens, then answers.
    const listening = () => child.output().includes(`Listening on 127.0.0.1:${port}`);
    let answered = false;
    while (!(answered = listening() && (await chainIdAt(url)) === String(chainId)) && !child.exited && Date.now() <= deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
    if (answered && !child.exited) {
      opts.log.warn(
        { url, chainId, directory: opts.directory },
        `eth: DEV CHAIN — embedded anvil at ${url} (chain id ${chainId}) with anvil's PUBLIC dev keys; nothing paid here is real money`,
      );
      return { url, port, chainId, devPayerKey: ANVIL_DEV_PAYER_KEY, stop: () => child.stop() };
    }
    await child.stop(500);
    const output = child.output();
    if (ADDRESS_IN_USE.test(output) && attempt < MAX_PORT_ATTEMPTS && Date.now() <= deadline) {
      opts.log.info({ port, attempt }, `eth: port ${port} was taken before the embedded anvil bound it; trying another`);
      continue;
    }
    throw new Error(`the embedded anvil dev chain did not start on ${url}: ${output.slice(-1000) || "no answer"}`);
  }
}
