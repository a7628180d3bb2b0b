/**
 * Embedded mode's chain: a local anvil dev chain started from the npm package (@foundry-rs/anvil),
 * with anvil's public dev keys. It says loudly that it is a dev chain: nothing paid there is real.
 * With a data folder, the chain's state is kept in `<dataDir>/anvil-state.json` across restarts,
 * so open payments in the WAL are reconciled against the same chain after a restart.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join, dirname } from "node:path";
import process from "node:process";
import type { Logger } from "pino";

/** Anvil's first dev account: a PUBLIC test key, funded only on dev chains. */
export const DEV_CHAIN_PAYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export interface DevChain {
  url: string;
  chainId: number;
  payerKey: string;
  stop(): Promise<void>;
}

/** Path of the anvil binary shipped by the npm package for this platform. */
export function anvilBinaryPath(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const require = createRequire(import.meta.url);
  const manifest = require.resolve(`${pkg}/package.json`);
  return join(dirname(manifest), "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) });
    return res.ok && "result" in ((await res.json()) as object);
  } catch {
    return false;
  }
}

export async function startDevChain(opts: { log: Logger; port: number; chainId?: number; dataDir?: string; readyTimeoutMs?: number }): Promise<DevChain> {
  const chainId = opts.chainId ?? 31337;
  const args = ["--host", "127.0.0.1", "--port", String(opts.port), "--chain-id", String(chainId)];
  if (opts.dataDir) args.push("--state", join(opts.dataDir, "anvil-state.json"));
  const child = spawn(anvilBinaryPath(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  while (!(await answers(url))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the anvil dev chain did not start on ${url}: ${stderr.slice(0, 500) || "no answer"}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  opts.log.warn({ url, chainId }, "DEV CHAIN: payments go to a local anvil dev chain with anvil's public dev keys; nothing paid here is real money");
  return {
    url,
    chainId,
    payerKey: DEV_CHAIN_PAYER_KEY,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
