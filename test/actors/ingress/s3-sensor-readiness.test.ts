/** `/ready` of the S3 sensor: advancing (a poll finished recently), not merely alive; failing polls named. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { s3SensorReadiness } from "../../../actors/ingress/s3-sensor-readiness.ts";

const base = { name: "ingress:worker-partition-s3", failures: new Map<string, number>(), startedAt: 1_000_000, intervalMs: 60_000, ingestedPartitions: 0, stallAllowanceMs: 600_000 };

test("s3 sensor readiness - ready while the first poll runs, within the interval and the allowance", () => {
  const r = s3SensorReadiness({ ...base, lastPollAt: null, now: base.startedAt + 600_000 });
  assert.ok(r.ready);
  assert.match(r.detail!, "first poll in progress");
});

test("s3 sensor readiness - not ready when the first poll never finishes", () => {
  const r = s3SensorReadiness({ ...base, lastPollAt: null, now: base.startedAt + 660_001 });
  assert.not.ok(r.ready);
  assert.match(r.detail!, "no poll has finished since the sensor started 660001 ms ago (expected within 660000 ms)");
});

test("s3 sensor readiness - a stalled sensor (last poll too long ago) is not ready, a recent one is", () => {
  const last = base.startedAt + 5_000;
  assert.ok(s3SensorReadiness({ ...base, lastPollAt: last, ingestedPartitions: 2, now: last + 660_000 }).ready);
  const stalled = s3SensorReadiness({ ...base, lastPollAt: last, now: last + 660_001 });
  assert.not.ok(stalled.ready);
  assert.is(stalled.lastProgressAt, last);
  assert.match(stalled.detail!, "no poll has finished 660001 ms ago");
});

test("s3 sensor readiness - failing polls make it not ready, naming the partitions", () => {
  const failures = new Map([["ai|us-central", 3], ["transcode|oceania", 0]]);
  const r = s3SensorReadiness({ ...base, failures, lastPollAt: base.startedAt + 1, now: base.startedAt + 2 });
  assert.not.ok(r.ready);
  assert.is(r.detail, "S3 polls failing for ai|us-central (3×)");
  assert.is(r.backlog, 1);
});

test.run();
