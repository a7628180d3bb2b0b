/**
 * actors/worker-partition/partition-params.ts (pure): which commission and TTL apply to each
 * journal seq — live, the configuration; in a replay, the recorded history for the events live had
 * applied and the configuration after them — and how a chunk of events is cut into runs of one
 * parameter set; partition-state.ts useParams records a row only when the parameters change.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { configuredPlan, recordedPlan, runsByParams } from "../../../actors/worker-partition/partition-params.ts";
import { initialPartitionState, useParams } from "../../../actors/worker-partition/partition-state.ts";

const A = { commissionBps: 2500, correlationTtlMs: 86_400_000 };
const B = { commissionBps: 1000, correlationTtlMs: 86_400_000 };
const C = { commissionBps: 2500, correlationTtlMs: 30_000 };
const CONFIG = { commissionBps: 5000, correlationTtlMs: 60_000 };
const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i }));

test("partition params - live: every event takes the configuration, one run per chunk", () => {
  const plan = configuredPlan(CONFIG);
  const runs = runsByParams(plan, seqs(1, 10));
  assert.is(runs.length, 1);
  assert.equal(runs[0][0], CONFIG);
  assert.is(runs[0][1].length, 10);
});

test("partition params - replay: the history's spans for the events live applied, the configuration after them", () => {
  // Live applied 1..100: 1..40 with A, 41..70 with B, 71..100 with C.
  const plan = recordedPlan([{ fromOffset: 40, ...B }, { fromOffset: 0, ...A }, { fromOffset: 70, ...C }], 100, CONFIG);
  assert.equal(plan.at(1), A);
  assert.equal(plan.at(40), A);
  assert.equal(plan.at(41), B);
  assert.equal(plan.at(71), C);
  assert.equal(plan.at(100), C);
  assert.equal(plan.at(101), CONFIG, "events live had not applied take the configuration, as live would");
  const runs = runsByParams(plan, seqs(31, 120));
  assert.equal(
    runs.map(([p, r]) => [p.commissionBps, p.correlationTtlMs, r[0].seq, r[r.length - 1].seq]),
    [
      [2500, 86_400_000, 31, 40],
      [1000, 86_400_000, 41, 70],
      [2500, 30_000, 71, 100],
      [5000, 60_000, 101, 120],
    ],
  );
});

test("partition params - replay: events before the first recorded row (applied before the history existed) take the configuration", () => {
  const plan = recordedPlan([{ fromOffset: 50, ...B }], 80, CONFIG);
  assert.equal(plan.at(1), CONFIG);
  assert.equal(plan.at(50), CONFIG);
  assert.equal(plan.at(51), B);
  assert.equal(runsByParams(plan, seqs(45, 55)).map(([p, r]) => [p.commissionBps, r.length]), [[5000, 6], [1000, 5]]);
});

test("partition params - useParams records a row at the current offset only when the parameters change", () => {
  const s = initialPartitionState("transcode|us-west", A);
  useParams(s, A);
  assert.equal(s.changes.params, [{ fromOffset: 0, ...A }], "the first parameters of a partition are recorded");
  s.offset = 10;
  useParams(s, A);
  assert.is(s.changes.params.length, 1, "the same parameters again: nothing to record");
  useParams(s, C);
  assert.equal(s.changes.params[1], { fromOffset: 10, ...C });
  assert.is(s.commissionBps, 2500);
  assert.is(s.correlation.ttlMs, 30_000);
});

test.run();
