/** worker-partition pure reducers: fees, correlation, connections, performance, summary. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseWorkerEvent, type WorkerEvent } from "../../../actors/worker-partition/events.ts";
import { applyEvents, initialPartitionState, type PartitionState } from "../../../actors/worker-partition/partition-state.ts";
import { computePerformance, computeUnitsPerSecond, type PerfJob } from "../../../actors/worker-partition/performance.ts";
import { buildSummary } from "../../../actors/worker-partition/summary.ts";
import { exactSum, median, spread } from "../../../actors/worker-partition/stats.ts";
import { W1, W2, W3, W4, aiProcessed, aiReceived, connected, disconnected, reset, transcodeJob } from "./events-fixture.ts";

const HOUR = 3_600_000;
const TC = "transcode|us-central";
const AI = "ai|us-central";
const fresh = (p = TC, ttlMs = 24 * HOUR): PartitionState => initialPartitionState(p, { commissionBps: 2500, correlationTtlMs: ttlMs });
const parse = (p: string, raws: Record<string, unknown>[]): WorkerEvent[] => raws.map((r) => parseWorkerEvent(r, p));
const at = (hh: number, mm = 0, ss = 0) => `2025-02-27T${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}:${String(ss).padStart(2, "0")}Z`;

test("fees - reference cases 1-4: commission in basis points, zero fees skipped", () => {
  const s = applyEvents(fresh(), parse(TC, [transcodeJob(W1, 1_000_000), transcodeJob(W2, 10), transcodeJob(W3, 3), transcodeJob(W4, 0)]));
  assert.equal(s.fees.get(W1), { totalFees: 1_000_000n, poolCommission: 250_000n, workerEarnings: 750_000n, jobCount: 1 });
  assert.equal(s.fees.get(W2), { totalFees: 10n, poolCommission: 2n, workerEarnings: 8n, jobCount: 1 });
  assert.equal(s.fees.get(W3), { totalFees: 3n, poolCommission: 0n, workerEarnings: 3n, jobCount: 1 });
  assert.is(s.fees.get(W4), undefined, "a zero fee credits nothing");
  assert.is(s.changes.jobs.length, 4, "every job is still recorded for performance");
});

test("fees - reference case 7 (decision 1): events older than the latest are counted, not dropped", () => {
  const s = fresh();
  applyEvents(s, parse(TC, [transcodeJob(W1, 100, { dt: at(12) })]));
  applyEvents(s, parse(TC, [transcodeJob(W1, 10, { dt: at(11, 30) }), transcodeJob(W1, 1, { dt: at(11, 30, 1) })]));
  assert.is(s.fees.get(W1)?.totalFees, 111n);
});

test("fees - the zero address is reported as unattributed, never credited", () => {
  const s = applyEvents(fresh(), parse(TC, [transcodeJob("0x0000000000000000000000000000000000000000", 40)]));
  assert.is(s.fees.size, 0);
  assert.equal(s.unattributed, { jobs: 1, fees: 40n });
});

test("defect 6 - AI job-processed before its job-received in a later batch is attributed", () => {
  const s = fresh(AI);
  applyEvents(s, parse(AI, [aiProcessed("r1", 786432000, { dt: at(12, 0, 7) })]));
  assert.is(s.fees.size, 0);
  assert.is(s.correlation.waiting.size, 1, "waits for its pair");
  applyEvents(s, parse(AI, [aiReceived(W2, "r1", { dt: at(12, 0, 6) })]));
  assert.is(s.fees.get(W2)?.totalFees, 786432000n);
  assert.is(s.fees.get(W2)?.workerEarnings, 589824000n);
  assert.is(s.correlation.waiting.size, 0);
  assert.is(s.correlation.received.size, 0);
  assert.is(s.unattributed.jobs, 0);
});

test("correlation - within one batch order does not matter; a received entry is used once", () => {
  const s = applyEvents(fresh(AI), parse(AI, [aiReceived(W1, "a"), aiProcessed("a", 100), aiProcessed("b", 7), aiReceived(W2, "b")]));
  assert.is(s.fees.get(W1)?.totalFees, 100n);
  assert.is(s.fees.get(W2)?.totalFees, 7n);
  assert.is(s.correlation.received.size, 0);
});

test("correlation - TTL in event time: an unmatched processed job becomes unattributed fees, received entries expire", () => {
  const s = fresh(AI, 24 * HOUR);
  applyEvents(s, parse(AI, [aiProcessed("late", 500, { dt: "2025-02-27T00:00:00Z" }), aiReceived(W1, "never", { dt: "2025-02-27T00:00:00Z" })]));
  applyEvents(s, parse(AI, [aiReceived(W3, "x", { dt: "2025-02-27T23:59:59Z" })]));
  assert.is(s.correlation.waiting.size, 1, "not yet expired at 24h - 1s");
  applyEvents(s, parse(AI, [aiReceived(W3, "y", { dt: "2025-02-28T00:00:01Z" })]));
  assert.is(s.correlation.waiting.size, 0);
  assert.equal(s.unattributed, { jobs: 1, fees: 500n });
  assert.is(s.correlation.received.has("never"), false);
  assert.is(s.expiredReceived, 1);
  // the pair arriving after expiry does not credit anyone: the fee stays reported as unattributed
  applyEvents(s, parse(AI, [aiReceived(W1, "late", { dt: "2025-02-28T00:00:02Z" })]));
  assert.is(s.fees.size, 0);
  const summary = buildSummary(s);
  assert.is(summary.aggregates.unattributed_fees, "500");
});

test("replay equals live - the result does not depend on how the journal is cut into batches", () => {
  const raws = [
    connected(W1, "1.1.1.1:1", { dt: at(10), nodeType: "ai" }),
    aiProcessed("p1", 1000, { dt: at(10, 1) }),
    aiReceived(W1, "p2", { dt: at(10, 2) }),
    aiReceived(W2, "p1", { dt: at(10, 3) }),
    aiProcessed("p3", 30, { dt: at(10, 4) }),
    disconnected(W1, "1.1.1.1:1", { dt: at(10, 5), nodeType: "ai" }),
    aiProcessed("p2", 77, { dt: at(11) }),
    aiReceived(W3, "p9", { dt: "2025-02-28T11:00:00Z" }),
    aiReceived(W3, "p3", { dt: "2025-02-28T11:00:01Z" }),
  ];
  const events = parse(AI, raws);
  const whole = applyEvents(fresh(AI), events);
  const oneByOne = fresh(AI);
  for (const ev of events) applyEvents(oneByOne, [ev]);
  const inTwo = fresh(AI);
  applyEvents(inTwo, events.slice(0, 4));
  applyEvents(inTwo, events.slice(4));
  for (const other of [oneByOne, inTwo]) {
    assert.equal(buildSummary(other), buildSummary(whole));
    assert.equal([...other.changes.jobs].sort((a, b) => a.eventId.localeCompare(b.eventId)), [...whole.changes.jobs].sort((a, b) => a.eventId.localeCompare(b.eventId)));
  }
  assert.equal(whole.unattributed, { jobs: 1, fees: 30n });
  assert.is(whole.fees.get(W2)?.totalFees, 1000n);
  assert.is(whole.fees.get(W1)?.totalFees, 77n);
});

// Batches are cut differently live (ingest pieces, restarts) and in replay (journal chunks, and
// runs of one commission/TTL): an expired entry must get the same outcome whether the sweep at the
// end of a batch saw it first or the next event for its requestID did.
test("replay equals live - an expired entry met again by its requestID gets the outcome the sweep would give, at every cut", () => {
  const raws = [
    aiProcessed("r1", 40, { dt: at(10) }), // waits, then expires: ttl (not superseded by r1's second processed)
    aiReceived(W1, "r2", { dt: at(10, 1) }), // remembered, then expires: counted once (not overwritten silently)
    aiReceived(W2, "x", { dt: "2025-02-28T11:00:00Z" }), // the watermark passes the TTL
    aiProcessed("r1", 50, { dt: "2025-02-28T11:00:01Z" }),
    aiReceived(W3, "r2", { dt: "2025-02-28T11:00:02Z" }),
    aiProcessed("r2", 60, { dt: "2025-02-28T11:00:03Z" }),
  ];
  const events = parse(AI, raws);
  const sortedJobs = (st: PartitionState) => [...st.changes.jobs].sort((a, b) => a.eventId.localeCompare(b.eventId));
  const whole = applyEvents(fresh(AI), events);
  const outcomes = (st: PartitionState) => st.changes.jobs.map((j) => [j.fees, j.reason, j.ethAddress]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  // r1's first job expired before its second came (ttl, not superseded); r2's first received entry
  // expired before the second replaced it (counted); r2's job goes to the second.
  assert.equal(outcomes(whole), [["40", "ttl", null], ["60", null, W3]]);
  assert.is(whole.expiredReceived, 1);
  for (let cut = 1; cut < events.length; cut++) {
    const split = fresh(AI);
    applyEvents(split, events.slice(0, cut));
    applyEvents(split, events.slice(cut));
    assert.equal(sortedJobs(split), sortedJobs(whole), `cut after event ${cut}`);
    assert.equal(buildSummary(split), buildSummary(whole), `cut after event ${cut}`);
    assert.is(split.expiredReceived, whole.expiredReceived, `cut after event ${cut}`);
  }
});

test("connections - reference case 12: connected, reset, connected again leaves only the new connection", () => {
  const s = applyEvents(fresh(), parse(TC, [connected(W1, "c1", { dt: at(1) }), reset({ dt: at(2) }), connected(W1, "c2", { dt: at(3) })]));
  assert.equal(s.connections.get(W1), { connections: ["c2"], active: true, lastSeenMs: Date.parse(at(3)) });
});

test("defect 9 - a disconnected worker stays visible with last_seen from event time", () => {
  const s = applyEvents(fresh(), parse(TC, [connected(W1, "c1", { dt: at(1) }), connected(W1, "c2", { dt: at(2) }), disconnected(W1, "c1", { dt: at(3) })]));
  assert.equal(s.connections.get(W1), { connections: ["c2"], active: true, lastSeenMs: Date.parse(at(3)) });
  applyEvents(s, parse(TC, [disconnected(W1, "c2", { dt: at(4) })]));
  assert.equal(s.connections.get(W1), { connections: [], active: false, lastSeenMs: Date.parse(at(4)) });
  const row = buildSummary(s).workers.find((w) => w.eth_address === W1);
  assert.is(row?.is_active, false);
  assert.is(row?.last_seen, "2025-02-27T04:00:00.000Z");
  // a late file with an older connect does not resurrect the worker
  applyEvents(s, parse(TC, [connected(W1, "c3", { dt: at(3, 30) })]));
  assert.is(s.connections.get(W1)?.active, false);
});

test("defect 20 - summary counts include workers without new events", () => {
  const s = applyEvents(fresh(), parse(TC, [connected(W1, "c1"), connected(W2, "c2"), connected(W2, "c3"), transcodeJob(W1, 1000)]));
  s.changes.connections.clear();
  applyEvents(s, parse(TC, [connected(W3, "c4", { dt: at(13) }), transcodeJob(W4, 8, { dt: at(13) })]));
  const { aggregates } = buildSummary(s);
  assert.is(aggregates.total_workers, 4);
  assert.is(aggregates.active_workers, 3);
  assert.is(aggregates.total_connections, 4);
  assert.is(aggregates.total_fees, "1008");
  assert.is(aggregates.total_worker_earnings, String(750 + 6));
  assert.is(aggregates.active_worker_percentage, 75);
  assert.is(aggregates.pool_commission_rate, "0.25");
});

test("summary - payment fields come from the paid amounts passed in, never negative", () => {
  const s = applyEvents(fresh(), parse(TC, [transcodeJob(W1, "16000000000000000"), transcodeJob(W2, 4000)]));
  const summary = buildSummary(s, { paidWei: new Map([[W2, 10_000n]]), paymentThresholdWei: 10n ** 16n });
  const w1 = summary.workers.find((w) => w.eth_address === W1)!;
  assert.is(w1.worker_earnings, "12000000000000000");
  assert.is(w1.pending_eth, "0.012");
  assert.is(w1.payment_due, true);
  const w2 = summary.workers.find((w) => w.eth_address === W2)!;
  assert.is(w2.pending_fees, "0");
  assert.is(summary.aggregates.workers_eligible_for_payment, 1);
});

test("performance - reference case 8 (decision 3): transcode ranked best first on the median real-time ratio", () => {
  const jobs: PerfJob[] = [
    [W1, 1],
    [W2, 3],
    [W3, 2],
    [W4, 5],
  ].map(([a, r]) => ({ ethAddress: a as string, nodeType: "transcode", modelID: null, pipeline: null, realTimeRatio: r as number, responseTimeMs: 1000, computeUnits: 10, fees: "1" }));
  const report = computePerformance(jobs);
  assert.equal(report.transcode_performance.map((r) => [r.eth_address, r.rank]), [[W4, 1], [W2, 2], [W3, 3], [W1, 4]]);
  const pct = report.transcode_performance.map((r) => r.percentile);
  assert.is(pct[0], 0);
  assert.ok(Math.abs(pct[1] - 1 / 3) < 1e-12);
  assert.ok(Math.abs(pct[2] - 2 / 3) < 1e-12);
  assert.is(pct[3], 1);
});

test("performance - reference case 9: cups 2,592,000 and the exact median over all jobs", () => {
  assert.is(computeUnitsPerSecond(2073600, 800), 2_592_000);
  assert.is(computeUnitsPerSecond(5, 0), 0);
  assert.is(median([5, 1, 4, 2]), 3);
  assert.is(median([9, 1, 4]), 4);
  const s = applyEvents(fresh(), parse(TC, [transcodeJob(W1, 1, { responseTime: 800, duration: 2000 }), transcodeJob(W1, 1, { responseTime: 1000, duration: 2000 }), transcodeJob(W1, 1, { responseTime: 4000, duration: 2000 })]));
  const report = computePerformance(s.changes.jobs.map((j) => ({ ...j, ethAddress: j.ethAddress! })));
  const row = report.transcode_performance[0];
  assert.equal(row.real_time_ratio, { median: 2, mean: (2.5 + 2 + 0.5) / 3, min: 0.5, max: 2.5 });
  assert.is(row.response_time_ms.median, 1000);
  assert.is(row.job_count, 3);
  assert.is(row.total_fees, "3");
});

test("defect 7 - performance from an empty state is an empty report, not a crash", () => {
  assert.equal(computePerformance([]), { transcode_performance: [], ai_performance: [], ai_model_pipeline_rankings: {} });
});

test("performance - AI ranked per model and pipeline on response time in ms, lowest first", () => {
  const s = applyEvents(
    fresh(AI),
    parse(AI, [
      aiReceived(W1, "a"),
      aiProcessed("a", 10, { responseTimeNs: 3_000_000_000 }),
      aiReceived(W2, "b"),
      aiProcessed("b", 10, { responseTimeNs: 1_000_000_000 }),
      aiReceived(W1, "c"),
      aiProcessed("c", 10, { responseTimeNs: 500_000_000, modelID: "m2", pipeline: "llm" }),
    ]),
  );
  const report = computePerformance(s.changes.jobs.filter((j) => j.attributed).map((j) => ({ ...j, ethAddress: j.ethAddress! })));
  assert.equal(Object.keys(report.ai_model_pipeline_rankings), ["ByteDance/SDXL-Lightning | text-to-image", "m2 | llm"]);
  const sdxl = report.ai_model_pipeline_rankings["ByteDance/SDXL-Lightning | text-to-image"];
  assert.equal(sdxl.map((r) => [r.eth_address, r.rank, r.percentile, r.response_time_ms.median]), [[W2, 1, 0, 1000], [W1, 2, 1, 3000]]);
  assert.is(sdxl[0].compute_units_per_second.median, 1048576);
  assert.is(report.ai_performance.length, 3);
});

test("performance - means do not depend on the order the jobs are read in (job chunks are cut differently live and in replay)", () => {
  // A float sum in order gives 0.6000000000000001 one way and 0.6 the other.
  assert.is.not(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1);
  assert.is(exactSum([0.1, 0.2, 0.3]), 0.6);
  assert.is(exactSum([0.3, 0.2, 0.1]), 0.6);
  assert.is(exactSum([1e16, 1, -1e16]), 1);
  assert.is(exactSum([]), 0);
  const values = Array.from({ length: 1000 }, (_, i) => 1 / (i + 3) + (i % 7) * 0.1);
  const reversed = [...values].reverse();
  assert.equal(spread(values), spread(reversed));
  const jobs: PerfJob[] = values.map((v, i) => ({ ethAddress: i % 2 ? W1 : W2, nodeType: "transcode", modelID: null, pipeline: null, realTimeRatio: v, responseTimeMs: 100 + v, computeUnits: 1000 + i, fees: String(i) }));
  assert.equal(computePerformance(jobs), computePerformance([...jobs].reverse()));
});

test.run();
