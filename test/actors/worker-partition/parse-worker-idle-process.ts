/**
 * A process that uses a parse worker thread and then has nothing left to do, for the regression
 * test in parse-worker.test.ts: it must end by itself (the worker keeps the process alive only
 * while it holds files). argv[2] = "loading" (ends while the worker is still loading) or "loaded"
 * (ends after a file was prepared on the loaded worker). Prints `PREPARED <n>` before ending.
 */
import process from "node:process";
import { ParseWorkerThread } from "../../../actors/worker-partition/parse-worker-thread.ts";

const parser = new ParseWorkerThread();
const text = JSON.stringify([
  { DT: "2025-02-27T12:00:05Z", EventType: "worker-connected", ID: "e1", NodeType: "transcode", Payload: { connection: "10.0.0.1:8935", ethAddress: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" }, Region: "us-central", Version: 1 },
]);
parser.start();
if (process.argv[2] === "loaded") {
  await parser.whenReady();
  const file = await parser.prepare(text, "transcode|us-central", "idle-process");
  process.stdout.write(`PREPARED ${file.pieces.length} on the worker: ${parser.counts.worker}\n`);
} else {
  const file = await parser.prepare(text, "transcode|us-central", "idle-process");
  process.stdout.write(`PREPARED ${file.pieces.length} in this thread: ${parser.counts.inThread}\n`);
}
