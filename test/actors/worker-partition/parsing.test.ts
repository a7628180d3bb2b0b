/** worker-partition parsing: partitions, event schemas, normalisation, commission config. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ACTIVE_PARTITIONS, PARTITIONS, requirePartition } from "../../../actors/worker-partition/partitions.ts";
import { parseWorkerEvent } from "../../../actors/worker-partition/events.ts";
import { parseEventFile } from "../../../actors/worker-partition/event-file.ts";
import { commissionRateToBps, bpsToRate, splitFees } from "../../../actors/worker-partition/commission.ts";
import { parseWorkerPartitionConfig } from "../../../actors/worker-partition/config.ts";
import { ConfigError } from "../../../config/fields.ts";
import { loadConfig } from "../../../config/load-config.ts";
import { workerPartitionSection, workerPartitionSettings } from "../../../actors/worker-partition/config.ts";
import { hasLongNumberToken, quoteLongIntegers } from "../../../actors/worker-partition/json-text.ts";
import { InputError } from "../../../protocols/errors.ts";
import { journalBucket } from "../../../actors/worker-partition/journal.ts";
import { W1, W2, aiProcessed, aiReceived, connected, envelope, transcodeJob } from "./events-fixture.ts";

function throwsInput(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable("expected an InputError");
}

test("defect 10 - the 5 active partitions are defined once and others are rejected", () => {
  assert.equal([...ACTIVE_PARTITIONS], ["ai|us-central", "transcode|us-central", "transcode|us-west", "transcode|eu-central", "transcode|oceania"]);
  assert.equal(PARTITIONS.map((p) => p.s3Prefix), ["us-central/ai/", "us-central/transcode/", "us-west/transcode/", "eu-central/transcode/", "oceania/transcode/"]);
  assert.equal(requirePartition("transcode|oceania").fileNamePrefix, "oceania-transcode-");
  throwsInput(() => requirePartition("ai|us-west"), /ai\|us-west.*not active/);
  throwsInput(() => parseWorkerEvent(connected(W1, "1.2.3.4:5", { nodeType: "ai", region: "oceania" })), /ai\|oceania is not an active partition/);
});

test("journal - a partition's seq space is fixed, whatever the runtime's partition count", () => {
  assert.equal(ACTIVE_PARTITIONS.map(journalBucket), [0, 1, 2, 3, 4]);
  assert.throws(() => journalBucket("ai|oceania"), /not an active partition/);
});

test("parsing - an event of another partition than its file is rejected naming both", () => {
  throwsInput(() => parseWorkerEvent(transcodeJob(W1, 10, { region: "us-west" }), "transcode|us-central"), /belongs to partition transcode\|us-west, not transcode\|us-central/);
});

test("parsing - the domain's example transcode event (reference case 9: ratio 2000/800 = 2.5)", () => {
  const ev = parseWorkerEvent(transcodeJob(W1.toLowerCase(), 2488320000), "transcode|us-central");
  if (ev.type !== "job-processed" || ev.nodeType !== "transcode") throw new Error("wrong type");
  assert.is(ev.ethAddress, W1, "address normalised to EIP-55");
  assert.is(ev.fees, "2488320000");
  assert.is(ev.realTimeRatio, 2.5);
  assert.is(ev.producerRealTimeRatio, 2);
  assert.is(ev.responseTimeMs, 800);
  assert.is(ev.dtMs, Date.parse("2025-02-27T12:00:05Z"));
});

test("parsing - AI responseTime nanoseconds become milliseconds, raw value kept", () => {
  const ev = parseWorkerEvent(aiProcessed("abc123", 786432000, { responseTimeNs: 2_500_000_000 }), "ai|us-central");
  if (ev.type !== "job-processed" || ev.nodeType !== "ai") throw new Error("wrong type");
  assert.is(ev.responseTimeMs, 2500);
  assert.is(ev.responseTimeRaw, 2_500_000_000);
  assert.is(ev.ethAddress, null);
  assert.is(ev.requestID, "abc123");
  const rec = parseWorkerEvent(aiReceived(W2, "abc123"), "ai|us-central");
  assert.is(rec.type, "job-received");
});

test("parsing - a missing field is an InputError naming the field path", () => {
  const raw = transcodeJob(W1, 10);
  delete (raw.Payload as Record<string, unknown>).fees;
  throwsInput(() => parseWorkerEvent(raw), /Payload: fees: required/);
  const noId = transcodeJob(W1, 10);
  delete noId.ID;
  throwsInput(() => parseWorkerEvent(noId), /ID: required/);
  throwsInput(() => parseWorkerEvent(envelope("job-received", { ethAddress: W1, pipeline: "x", modelID: "m" }, { nodeType: "ai" })), /requestID: required/);
  throwsInput(() => parseWorkerEvent({ ...connected(W1, "a:1"), DT: "yesterday" }), /DT: expected an RFC 3339 time/);
});

test("parsing - a negative fee is an InputError naming the field", () => {
  throwsInput(() => parseWorkerEvent(transcodeJob(W1, -5)), /fees: must not be negative, got -5/);
  throwsInput(() => parseWorkerEvent(transcodeJob(W1, 1.5)), /fees: expected an integer/);
  throwsInput(() => parseWorkerEvent(transcodeJob("0x1234", 1)), /ethAddress: expected a 0x address/);
  throwsInput(() => parseWorkerEvent(envelope("mystery", {})), /unknown EventType "mystery"/);
});

test("parsing - a fee above 2^53 wei stays exact through the file parser", () => {
  const big = "123456789012345678901";
  const text = JSON.stringify([transcodeJob(W1, 1)]).replace('"fees":1', `"fees":${big}`);
  const { events, rejected } = parseEventFile(text, "transcode|us-central", "s3:b/k");
  assert.is(rejected.length, 0);
  assert.is((events[0] as { fees: string }).fees, big);
  assert.is(quoteLongIntegers('{"a":"12345678901234567","b":12345678901234567,"c":1.2345678901234567}'), '{"a":"12345678901234567","b":"12345678901234567","c":1.2345678901234567}');
});

test("parsing - a file is parsed plainly for the fast path; records that leave it (schemas, dead letters) keep long integers exact", () => {
  const big = "123456789012345678901";
  const text = JSON.stringify([transcodeJob(W1, 5), transcodeJob(W1, 1), transcodeJob(W2, 7)])
    .replace('"fees":1,', `"fees":${big},`)
    .replace('"fees":7,', `"fees":-${big},`);
  const { events, rejected } = parseEventFile(text, "transcode|us-central", "s3:b/k");
  assert.equal(events.map((e) => (e as { fees: string }).fees), ["5", big]);
  assert.equal(rejected.map((r) => [r.index, (r.payload as { Payload: { fees: unknown } }).Payload.fees]), [[2, `-${big}`]]);
  assert.match(rejected[0].error, /must not be negative/);
});

test("parsing - long digit runs inside strings do not count as long numbers; long number tokens do", () => {
  const zeros = "0x" + "0".repeat(39) + "1";
  // Addresses and ids full of digits, pretty-printed: nothing to quote.
  assert.is(hasLongNumberToken(JSON.stringify([{ a: zeros, id: "00000001-0000-4000-8000-000000000001", n: 123456789012345 }], null, 2)), false);
  assert.is(hasLongNumberToken('{"x":"a-12345678901234567","f":1.12345678901234567,"e":1e-1234567890123456}'), false);
  // A number token of 16 digits or more: first in the text, after [ , : (whitespace and a sign allowed).
  for (const text of ["1234567890123456", "[1234567890123456]", '{"a": 1,\n  "b":\t-1234567890123456}', "[1, 12345678901234567]", '{"a":' + zeros.slice(2) + "}"]) {
    assert.is(hasLongNumberToken(text), true, text);
  }
  // Both in one file: the address with its zero run does not hide the big fee, which stays exact.
  const big = "123456789012345678901";
  const text = JSON.stringify([transcodeJob(zeros, 1)], null, 2).replace('"fees": 1', `"fees": ${big}`);
  const { events } = parseEventFile(text, "transcode|us-central", "s3:b/k");
  assert.is((events[0] as { fees: string }).fees, big);
});

test("parsing - a file that is not JSON is rejected whole; one bad record does not stop the rest", () => {
  throwsInput(() => parseEventFile("{not json", "transcode|us-central", "s3:b/bad.json"), /s3:b\/bad.json: not valid JSON/);
  throwsInput(() => parseEventFile('{"a":1}', "transcode|us-central", "s3:b/obj.json"), /expected a JSON array/);
  const bad = transcodeJob(W1, -1);
  const text = JSON.stringify([transcodeJob(W1, 10), bad, connected(W2, "1.1.1.1:1")], null, 2);
  const { events, rejected } = parseEventFile(text, "transcode|us-central", "s3:b/k");
  assert.is(events.length, 2);
  assert.is(rejected.length, 1);
  assert.is(rejected[0].index, 1);
  assert.match(rejected[0].error, /fees: must not be negative/);
});

test("parsing - a record the journal cannot store (U+0000, lone surrogate) is rejected alone with the reason", () => {
  const withNul = { ...transcodeJob(W1, 5), ID: "job\u0000nul" };
  const withSurrogate = { ...transcodeJob(W2, 6), ID: "job\ud800" };
  const good = transcodeJob(W1, 7);
  const text = JSON.stringify([withNul, good, withSurrogate]);
  assert.ok(text.includes("\\u0000") && text.includes("\\ud800"), "the file carries them as JSON escapes");
  const { events, rejected } = parseEventFile(text, "transcode|us-central", "s3:b/k");
  assert.equal(events.map((e) => e.id), [good.ID]);
  assert.equal(rejected.map((r) => [r.index, r.errorCode]), [[0, "not_storable"], [2, "not_storable"]]);
  assert.match(rejected[0].error, /s3:b\/k record 0: cannot be journaled: ID .*U\+0000/);
  assert.match(rejected[1].error, /surrogate/);
});

test("commission - POOL_COMMISSION_RATE converts exactly to basis points", () => {
  assert.is(commissionRateToBps("0.25"), 2500);
  assert.is(commissionRateToBps("0.1234"), 1234);
  assert.is(commissionRateToBps("1"), 10000);
  assert.is(commissionRateToBps("0.10000"), 1000);
  assert.is(bpsToRate(2500), "0.25");
  throwsInput(() => commissionRateToBps("0.12345"), /POOL_COMMISSION_RATE: 0.12345 has more than 4 decimal places/);
  throwsInput(() => commissionRateToBps("1.5"), /above 1/);
  throwsInput(() => commissionRateToBps("-0.1"), /expected a decimal rate/);
  assert.throws(() => parseWorkerPartitionConfig({ MAX_FILES_PER_BATCH: "lots" }), (e: unknown) => e instanceof ConfigError && /MAX_FILES_PER_BATCH: expected a positive integer/.test(e.message));
  assert.throws(() => parseWorkerPartitionConfig({ POOL_COMMISSION_RATE: "0.12345" }), (e: unknown) => e instanceof ConfigError && /POOL_COMMISSION_RATE: expected a decimal from 0 to 1 with at most 4 decimal places/.test(e.message));
  const cfg = parseWorkerPartitionConfig({});
  assert.is(cfg.commissionBps, 2500);
  assert.is(cfg.maxFilesPerBatch, 250);
  assert.is(cfg.sensorIntervalMs, 300_000);
  assert.is(cfg.s3.bucket, "open-pool-events");
  assert.is(cfg.s3.metricsBucket, "open-pool-metrics");
  assert.is(cfg.s3.archivePrefix, "archive/");
  assert.is(cfg.correlationTtlMs, 86_400_000);
  const loaded = workerPartitionSettings(loadConfig({ POOL_COMMISSION_RATE: "0.1", S3_ENDPOINT: "http://127.0.0.1:9000", AI_CORRELATION_TTL_SECONDS: "60" }, { sections: [workerPartitionSection] }));
  assert.equal([loaded.commissionBps, loaded.s3.endpoint, loaded.correlationTtlMs], [1000, "http://127.0.0.1:9000", 60_000]);
});

test("commission - reference cases 1-3 in integer maths", () => {
  assert.equal(splitFees(1_000_000n, 2500), { poolCommission: 250_000n, workerEarnings: 750_000n });
  assert.equal(splitFees(10n, 2500), { poolCommission: 2n, workerEarnings: 8n });
  assert.equal(splitFees(3n, 2500), { poolCommission: 0n, workerEarnings: 3n });
  // beyond 2^53 the float formula of the earlier system is wrong; bigint is exact
  assert.equal(splitFees(9_007_199_254_740_993n, 2500), { poolCommission: 2_251_799_813_685_248n, workerEarnings: 6_755_399_441_055_745n });
});

test.run();
