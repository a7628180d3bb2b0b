/**
 * The tail of each partition's journal kept in memory, so that the partition actor applies the
 * events ingest has just journaled without reading their payloads back from Postgres.
 *
 * The journal stays the source of truth: ingest adds a run of events only AFTER its transaction
 * committed, with the seqs the journal gave them (`firstSeq`, gapless), and only when it knows
 * exactly which events those seqs hold (no duplicate skipped in the append). The actor asks for
 * the events after its offset; when the tail does not start right there (another host journaled,
 * a restart, a run dropped to bound memory) it gets null and reads the journal as before. The
 * events are the same validated objects that were journaled (the JSON written to the journal is
 * their exact serialisation), so applying them equals applying the read-back payloads.
 * One tail per actor system (wire.ts); bounded to `maxEvents` per partition, oldest dropped.
 */
import type { JournaledEvent } from "./journal.ts";
import type { WorkerEvent } from "./events.ts";

interface Run {
  firstSeq: number;
  events: readonly WorkerEvent[];
}

export class JournalTail {
  private readonly runs = new Map<string, Run[]>();

  constructor(private readonly maxEvents = 100_000) {}

  /** Records events committed under seqs firstSeq, firstSeq + 1, … (in that order). */
  add(partitionId: string, firstSeq: number, events: readonly WorkerEvent[]): void {
    if (events.length === 0) return;
    let runs = this.runs.get(partitionId) ?? [];
    const last = runs[runs.length - 1];
    // Only a run that continues the tail is kept with it; otherwise the tail restarts here.
    if (last && last.firstSeq + last.events.length !== firstSeq) runs = [];
    runs.push({ firstSeq, events });
    let held = runs.reduce((n, r) => n + r.events.length, 0);
    while (held > this.maxEvents && runs.length > 0) held -= runs.shift()!.events.length;
    this.runs.set(partitionId, runs);
  }

  /**
   * Up to `limit` events with seq > afterSeq, in seq order, when the tail holds seq afterSeq + 1;
   * otherwise null (read the journal). Runs wholly at or before afterSeq are forgotten.
   */
  take(partitionId: string, afterSeq: number, limit: number): JournaledEvent[] | null {
    const runs = this.runs.get(partitionId);
    if (!runs) return null;
    while (runs.length > 0 && runs[0].firstSeq + runs[0].events.length - 1 <= afterSeq) runs.shift();
    if (runs.length === 0) {
      this.runs.delete(partitionId);
      return null;
    }
    if (runs[0].firstSeq > afterSeq + 1) return null;
    const out: JournaledEvent[] = [];
    let seq = afterSeq + 1;
    for (const run of runs) {
      for (let i = seq - run.firstSeq; i < run.events.length && out.length < limit; i++, seq++) out.push({ seq, event: run.events[i] });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Events held for a partition (for stats and tests). */
  size(partitionId: string): number {
    return (this.runs.get(partitionId) ?? []).reduce((n, r) => n + r.events.length, 0);
  }
}
