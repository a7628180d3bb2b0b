/**
 * A payment host process for crash tests (not a test file): runs one payment run of a partition
 * and kills itself with SIGKILL at a chosen point, as a host dying there would.
 * It loads its modules first, then reads one line of JSON from stdin (so a test can start the
 * next host while the current one runs):
 *   { dbUrl, rpcUrl, partition, owner, clockStartMs, killAtStep?, killAfterMs? }
 * killAt: die at the first boundary matching { phase, when, event }; killAtStep: die at the n-th phase boundary (after an intent is performed / after a snapshot is
 * persisted); killAfterMs: die after this many real milliseconds wherever the run is (inside a
 * transaction, between a broadcast and its WAL update, …). Prints the run report as JSON.
 */
import process from "node:process";
import pino from "pino";
import { Wallet } from "ethers";
import { openPgDb } from "../../../db/pg-db.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import { runPayments } from "../../../actors/worker-partition/payments/payment-run.ts";
import { DEV_ACCOUNTS } from "../../support/anvil.ts";
import { settle } from "./support.ts";

interface HostArgs {
  dbUrl: string;
  rpcUrl: string;
  partition: string;
  owner: string;
  clockStartMs: number;
  killAtStep?: number;
  killAfterMs?: number;
  /** Die at the first boundary with this phase, moment and event (e.g. awaitingReceipt / after-perform / RECEIPT). */
  killAt?: { phase: string; when: "after-perform" | "after-persist"; event: string };
}

async function readArgs(): Promise<HostArgs> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return JSON.parse(text.split("\n")[0]) as HostArgs;
}

const args = await readArgs();
if ((args as { exitNow?: boolean }).exitNow) process.exit(0);
const die = (): void => void process.kill(process.pid, "SIGKILL");
const db = openPgDb(args.dbUrl, { max: 2 });
const clock = new SimulatedClock(args.clockStartMs);
if (args.killAfterMs !== undefined) setTimeout(die, args.killAfterMs);
let step = 0;
const report = await settle(
  runPayments(
    {
      db,
      rpc: createRpcClient(args.rpcUrl),
      wallet: new Wallet(DEV_ACCOUNTS[0].privateKey),
      clock,
      log: pino({ level: "silent" }),
      settings: { thresholdWei: "10000000000000000", maxGasPriceWei: "5000000000000", gasLimit: "21000", chainId: "31337", rpcRetryDelaysMs: [1000, 2000, 4000], receiptRetryDelaysMs: [2000, 4000, 8000] },
      owner: args.owner,
      leaseTtlMs: 60_000,
    },
    args.partition,
    {
      trigger: "schedule",
      haltAt: (p) => {
        if (args.killAtStep !== undefined && ++step === args.killAtStep) die();
        const k = args.killAt;
        if (k && k.phase === p.phase && k.when === p.when && k.event === p.event.type) die();
        return false;
      },
    },
  ),
  clock,
);
await db.close();
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
