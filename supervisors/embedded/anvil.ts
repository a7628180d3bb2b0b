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

/** Anvil's first dev account: a PUBLIC test key, funded only on dev chains. */
export const ANVIL_DEV_PAYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const ANVIL_CHAIN_ID = 31337;

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

async function chainIdAt(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) });
    const body = (await res.json()) as { result?: string };
    return typeof body.result === "string" ? body.result : null;
  } catch {
    return null;
  }
}

export async function startEmbeddedAnvil(opts: { directory: string; log: Logger; chainId?: number; readyTimeoutMs?: number }): Promise<EmbeddedAnvil> {
  const binary = anvilBinary();
  try {
    await access(binary);
  } catch {
    throw new Error(`the anvil binary is missing at ${binary} (npm package @foundry-rs/anvil; run npm ci)`);
  }
  await mkdir(opts.directory, { recursive: true });
  const chainId = opts.chainId ?? ANVIL_CHAIN_ID;
  const port = await freePort();
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--state", join(opts.directory, "state.json")];
  const child = spawnEmbedded("anvil", binary, args, { log: opts.log, tiedToParent: true });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  while ((await chainIdAt(url)) === null) {
    if (child.exited || Date.now() > deadline) {
      await child.stop(500);
      throw new Error(`the embedded anvil dev chain did not start on ${url}: ${child.output().slice(-1000) || "no answer"}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  opts.log.warn(
    { url, chainId, directory: opts.directory },
    `eth: DEV CHAIN — embedded anvil at ${url} (chain id ${chainId}) with anvil's PUBLIC dev keys; nothing paid here is real money`,
  );
  return { url, port, chainId, devPayerKey: ANVIL_DEV_PAYER_KEY, stop: () => child.stop() };
}
