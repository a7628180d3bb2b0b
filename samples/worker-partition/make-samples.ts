/**
 * Writes the bundled worker-partition sample events in the S3 layout
 * `{region}/{node_type}/{region}-{node_type}-{start}_{end}.json` (the producer's format: a
 * pretty-printed JSON array of envelopes with sorted keys), deterministic (seeded), plus
 * `expected.json`: per partition the event count and each worker's earnings at 0.25 commission,
 * computed here by plain arithmetic, independent of the pipeline.
 * Run: `npx tsx samples/worker-partition/make-samples.ts [outDir]` (default: this folder).
 * AI jobs: each job-received is followed by its job-processed, some only in the next file
 * (cross-batch correlation); responseTime in ns as go-livepeer sends it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const OUT = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));
const PARTITIONS = [
  ["ai", "us-central"],
  ["transcode", "us-central"],
  ["transcode", "us-west"],
  ["transcode", "eu-central"],
  ["transcode", "oceania"],
] as const;
const WORKERS = [
  "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
  "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
  "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
];
const FILES = 3;
const JOBS_PER_FILE = 30;

let seed = 42;
function rand(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed % n;
}
function uuid(): string {
  const h = () => rand(0x10000).toString(16).padStart(4, "0");
  return `${h()}${h()}-${h()}-4${h().slice(1)}-8${h().slice(1)}-${h()}${h()}${h()}`;
}
function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}
const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const keyStamp = (ms: number) => stamp(ms).replace(/[-:]/g, "");

const expected: Record<string, { events: number; earnings: Record<string, string> }> = {};
for (const [nodeType, region] of PARTITIONS) {
  const pid = `${nodeType}|${region}`;
  const earnings = new Map<string, bigint>();
  let events = 0;
  let carry: Record<string, unknown>[] = [];
  let t = Date.parse("2025-02-27T12:00:00Z");
  for (let f = 0; f < FILES; f++) {
    const batch: Record<string, unknown>[] = [...carry];
    carry = [];
    const env = (type: string, payload: Record<string, unknown>) =>
      sortKeys({ DT: stamp((t += 1000 + rand(2000))), EventType: type, ID: uuid(), NodeType: nodeType, Payload: sortKeys(payload), Region: region, Version: 1 });
    if (f === 0) {
      batch.push(env("orchestrator-reset", {}));
      WORKERS.forEach((w, i) => batch.push(env("worker-connected", { connection: `203.0.113.${10 + i}:8935`, ethAddress: w })));
    }
    for (let j = 0; j < JOBS_PER_FILE; j++) {
      const worker = WORKERS[rand(WORKERS.length)];
      if (nodeType === "transcode") {
        const pixels = 1280 * 720 * (1 + rand(3));
        const price = 1000 + rand(500);
        const responseTime = 300 + rand(1700);
        const duration = 2000;
        const fees = BigInt(pixels) * BigInt(price);
        batch.push(env("job-processed", { computeUnits: pixels, duration, ethAddress: worker, fees: Number(fees), pricePerComputeUnit: price, realTimeRatio: Math.trunc(duration / responseTime), responseTime }));
        earnings.set(worker, (earnings.get(worker) ?? 0n) + fees - (fees * 2500n) / 10000n);
      } else {
        const requestID = uuid().slice(0, 18);
        const [pipeline, modelID, units] = rand(2) === 0 ? ["text-to-image", "ByteDance/SDXL-Lightning", 1024 * 1024] : ["llm", "meta-llama/Meta-Llama-3.1-8B-Instruct", 512];
        const price = 750;
        const fees = BigInt(units) * BigInt(price);
        batch.push(env("job-received", { ethAddress: worker, modelID, pipeline, requestID }));
        const processed = env("job-processed", { computeUnits: units, fees: Number(fees), modelID, pipeline, pricePerComputeUnit: price, requestID, responseTime: (500 + rand(4000)) * 1_000_000 });
        if (j % 7 === 6 && f < FILES - 1) carry.push(processed);
        else batch.push(processed);
        earnings.set(worker, (earnings.get(worker) ?? 0n) + fees - (fees * 2500n) / 10000n);
      }
    }
    if (f === FILES - 1) batch.push(env("worker-disconnected", { connection: "203.0.113.13:8935", ethAddress: WORKERS[3] }));
    const first = Date.parse(batch[0].DT as string);
    const last = Date.parse(batch[batch.length - 1].DT as string);
    const file = join(OUT, region, nodeType, `${region}-${nodeType}-${keyStamp(first)}_${keyStamp(last)}.json`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(batch, null, 2) + "\n");
    events += batch.length;
  }
  expected[pid] = { events, earnings: Object.fromEntries([...earnings].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => [k, v.toString()])) };
}
await writeFile(join(OUT, "expected.json"), JSON.stringify(expected, null, 2) + "\n");
console.log(`wrote ${PARTITIONS.length * FILES} files to ${OUT}`);
