/** The in-memory journal tail (journal-tail.ts): hands out only contiguous runs after an offset. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { JournalTail } from "../../../actors/worker-partition/journal-tail.ts";
import type { WorkerEvent } from "../../../actors/worker-partition/events.ts";

const P = "transcode|us-central";
const evs = (from: number, n: number): WorkerEvent[] =>
  Array.from({ length: n }, (_, i) => ({ type: "orchestrator-reset", id: `e${from + i}`, partitionId: P, dtMs: from + i }) as WorkerEvent);
const ids = (out: { seq: number; event: WorkerEvent }[] | null) => out?.map((o) => [o.seq, o.event.id]) ?? null;

test("journal tail - hands out events after the offset, across runs, up to the limit", () => {
  const tail = new JournalTail();
  tail.add(P, 1, evs(1, 3));
  tail.add(P, 4, evs(4, 2));
  assert.equal(ids(tail.take(P, 2, 2)), [[3, "e3"], [4, "e4"]]);
  assert.equal(ids(tail.take(P, 4, 10)), [[5, "e5"]]);
  // Everything at or before the offset is forgotten.
  assert.is(tail.take(P, 5, 10), null);
  assert.is(tail.size(P), 0);
});

test("journal tail - an offset the tail does not reach reads the journal (null)", () => {
  const tail = new JournalTail();
  tail.add(P, 10, evs(10, 3));
  assert.is(tail.take(P, 5, 10), null, "seqs 6–9 are not held");
  assert.is(tail.take("ai|us-central", 0, 10), null);
  assert.equal(ids(tail.take(P, 9, 10)), [[10, "e10"], [11, "e11"], [12, "e12"]]);
});

test("journal tail - a run that does not continue the tail restarts it; the bound drops the oldest", () => {
  const tail = new JournalTail(4);
  tail.add(P, 1, evs(1, 2));
  tail.add(P, 7, evs(7, 2));
  assert.is(tail.size(P), 2);
  assert.is(tail.take(P, 0, 10), null);
  tail.add(P, 9, evs(9, 3));
  assert.is(tail.size(P), 3, "the run 7–8 was dropped to stay within 4 events");
  assert.equal(ids(tail.take(P, 8, 10)), [[9, "e9"], [10, "e10"], [11, "e11"]]);
});

test.run();
