/**
 * A private anvil dev chain per test: the host's embedded anvil (supervisors/embedded/anvil.ts:
 * a free port, retried when taken, ready when it answers eth_chainId) with its state in a temp
 * folder, stopped (and waited for) and removed after. Funds the standard dev accounts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startEmbeddedAnvil } from "../../supervisors/embedded/anvil.ts";

/** Anvil's first two dev accounts (public test keys, funded with 10,000 ETH). */
export const DEV_ACCOUNTS = [
  { address: "0xf39Fd6e51aad88F6F4ce6aB8827279cfFFb92266", privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80" },
  { address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", privateKey: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d" },
] as const;

export interface Anvil {
  url: string;
  port: number;
  chainId: number;
  stop(): Promise<void>;
}

export async function startAnvil(opts: { chainId?: number } = {}): Promise<Anvil> {
  const directory = await mkdtemp(join(tmpdir(), "strata-test-anvil-"));
  const anvil = await startEmbeddedAnvil({ directory, log: pino({ level: "silent" }), chainId: opts.chainId }).catch(async (err) => {
    await rm(directory, { recursive: true, force: true });
    throw err;
  });
  return {
    url: anvil.url,
    port: anvil.port,
    chainId: anvil.chainId,
    async stop() {
      await anvil.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
