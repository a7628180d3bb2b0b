/**
 * Fixture for payment tests: a private anvil chain, a fresh migrated Postgres database, the
 * payer wallet (anvil dev account 0), a log that is kept for assertions, a SimulatedClock.
 */
import pino from "pino";
import { Wallet } from "ethers";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import type { RpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import type { PaymentRunDeps } from "../../../actors/worker-partition/payments/payment-run.ts";
import type { PaymentSettings } from "../../../actors/worker-partition/payments/payment-machine.ts";
import { DEV_ACCOUNTS, startAnvil } from "../../support/anvil.ts";
import type { Anvil } from "../../support/anvil.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { uniqueName } from "../../support/env.ts";

export const ETH = 10n ** 18n;

export interface PaymentFixture {
  anvil: Anvil;
  db: Db;
  /** URL of the test database (for host processes). */
  dbUrl: string;
  rpc: RpcClient;
  clock: SimulatedClock;
  payer: Wallet;
  partition: string;
  logLines: string[];
  settings: PaymentSettings;
  deps(owner?: string, over?: Partial<PaymentSettings>): PaymentRunDeps;
  /** Set a worker's cumulative earnings in the fee ledger (written by worker-partition in production). */
  earn(ethAddress: string, earnedWei: bigint): Promise<void>;
  balance(address: string): Promise<bigint>;
  close(): Promise<void>;
}

export async function paymentFixture(): Promise<PaymentFixture> {
  const anvil = await startAnvil();
  const tdb = await createTestDatabase().catch(async (err) => {
    await anvil.stop();
    throw err;
  });
  await migrate(tdb.db);
  const logLines: string[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void logLines.push(s) });
  const clock = new SimulatedClock(1_700_000_000_000);
  const rpc = createRpcClient(anvil.url);
  const payer = new Wallet(DEV_ACCOUNTS[0].privateKey);
  const partition = `transcode|${uniqueName("region")}`;
  const settings: PaymentSettings = {
    thresholdWei: (10n ** 16n).toString(),
    maxGasPriceWei: "5000000000000",
    gasLimit: "21000",
    chainId: "31337",
    rpcRetryDelaysMs: [1000, 2000, 4000],
    receiptRetryDelaysMs: [2000, 4000, 8000],
  };
  return {
    anvil, db: tdb.db, dbUrl: tdb.url, rpc, clock, payer, partition, logLines, settings,
    deps: (owner = "host-1", over = {}) => ({ db: tdb.db, rpc, wallet: payer, clock, log, settings: { ...settings, ...over }, owner, leaseTtlMs: 60_000 }),
    async earn(ethAddress, earnedWei) {
      await tdb.db.query(
        `INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, $3)
         ON CONFLICT (partition_id, eth_address) DO UPDATE SET earned_wei = EXCLUDED.earned_wei, updated_at = now()`,
        [partition, ethAddress, earnedWei.toString()],
      );
    },
    balance: (address) => rpc.balance(address),
    async close() {
      await tdb.drop();
      await anvil.stop();
    },
  };
}

/**
 * Await a run while advancing the simulated clock whenever the run waits on it (backoff). The
 * chain is a real process: before each simulated wait ends, give it a few real milliseconds to
 * mine (anvil answers eth_sendRawTransaction just before the block is sealed), or a 2/4/8 s
 * receipt backoff would elapse in no real time at all.
 */
export async function settle<T>(p: Promise<T>, clock: SimulatedClock): Promise<T> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  while (!done) {
    await new Promise((r) => setTimeout(r, 5));
    if (clock.pending > 0 && !done) await clock.advance(clock.pendingDelays()[0]);
  }
  return p;
}

export const randomAddress = (): string => Wallet.createRandom().address;
