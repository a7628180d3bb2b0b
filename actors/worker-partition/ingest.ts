/**
 * Ingest of OpenPool event files for one partition, shared by the S3 sensor and `strata import`:
 * parse and validate every file, append the valid events to the journal and record the bad
 * input as dead letters, then let the partition actor catch up and wait until its state has
 * committed. A file that is not JSON is one dead letter; a bad record is one dead letter; the
 * rest of the file and of the batch commits (DESIGN rule 6).
 * Ingest never pays (seed 003 #1): it touches the journal, dead letters and the actor only.
 *
 * Pipelined: files arrive in order (an array, or an async iterable that fetches ahead), and are
 * journaled in transactions of about COMMIT_EVENTS events, each holding whole files (a file's
 * events and its dead letters commit together). While one transaction runs, the next files are
 * parsed; after each commit `notify` (when given) pokes the actor, which applies that part while
 * the rest is appended. The caller confirms its source cursor only after `catchUp` resolves, so
 * a batch that fails half way is retried whole, and the journal's dedupe by event ID makes the
 * retry count every event once (dead letters of a retried batch are recorded again).
 */
import type { Db } from "../../db/db.ts";
import type { DeadLetter, DeadLetterSink } from "../../supervisors/actor-kind.ts";
import { InputError, errorMessage } from "../../protocols/errors.ts";
import { recordNewDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import { parseEventFile } from "./event-file.ts";
import type { WorkerEvent } from "./events.ts";
import { WORKER_PARTITION_KIND, journalPreparedCounted, prepareWorkerEvents, type PreparedEvents } from "./journal.ts";
import { requirePartition } from "./partitions.ts";
import type { JournalTail } from "./journal-tail.ts";

/**
 * Events per append (bounded parameter size). As large as a transaction's worth: each append
 * costs a few statements whatever its size, on the connection the next transaction waits for.
 */
const APPEND_CHUNK = 20_000;
/** Events per journal transaction (rounded up to whole files). */
const COMMIT_EVENTS = 20_000;

export interface EventFile {
  /** Where it came from, e.g. `s3:open-pool-events/us-central/ai/us-central-ai-….json`. */
  source: string;
  text: string;
  /** Set when the file could not be read for good (e.g. deleted): it is dead-lettered with this error. */
  unreadable?: { error: string; errorCode: string };
}

export interface IngestDeps {
  db: Db;
  deadLetters: DeadLetterSink;
  /** Makes the partition actor apply its journal; resolves once that state has committed. */
  catchUp(partitionId: string): Promise<unknown>;
  /**
   * Optional poke after each committed journal transaction of a batch (fire and forget, e.g. a
   * `journaled` tell): the actor applies what is committed while the rest is appended.
   */
  notify?(partitionId: string): void;
  /** The partition actors' in-memory journal tail (journal-tail.ts), filled after each commit; optional. */
  tail?: JournalTail;
}

export interface IngestReport {
  partition: string;
  files: number;
  events: number;
  newEvents: number;
  duplicates: number;
  deadLetters: number;
}

/** Validates one file into events and dead letters (appended to the given arrays). */
function parseFile(partitionId: string, file: EventFile, events: WorkerEvent[], letters: DeadLetter[]): void {
  if (file.unreadable) {
    letters.push({ kind: WORKER_PARTITION_KIND, entityId: partitionId, source: file.source, payload: null, ...file.unreadable });
    return;
  }
  try {
    const parsed = parseEventFile(file.text, partitionId, file.source);
    for (const ev of parsed.events) events.push(ev);
    for (const r of parsed.rejected) {
      letters.push({ kind: WORKER_PARTITION_KIND, entityId: partitionId, source: `${file.source}#${r.index}`, payload: r.payload, error: r.error, errorCode: r.errorCode });
    }
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    letters.push({
      kind: WORKER_PARTITION_KIND,
      entityId: partitionId,
      source: file.source,
      payload: { head: file.text.slice(0, 2000), length: file.text.length },
      error: errorMessage(err),
      errorCode: err.code,
    });
  }
}

export async function ingestEventFiles(deps: IngestDeps, partitionId: string, files: Iterable<EventFile> | AsyncIterable<EventFile>): Promise<IngestReport> {
  const partition = requirePartition(partitionId);
  const totals = { files: 0, events: 0, newEvents: 0, duplicates: 0, deadLetters: 0 };

  /** The chunks of one transaction, checked and serialised (prepareWorkerEvents). */
  type Prepared = { events: WorkerEvent[]; append: PreparedEvents }[];
  const prepare = (events: WorkerEvent[]): Prepared => {
    const chunks: Prepared = [];
    for (let i = 0; i < events.length; i += APPEND_CHUNK) {
      const chunk = events.slice(i, i + APPEND_CHUNK);
      chunks.push({ events: chunk, append: prepareWorkerEvents(chunk) });
    }
    return chunks;
  };

  const commit = async (prepared: Prepared, letters: DeadLetter[]): Promise<void> => {
    if (prepared.length === 0 && letters.length === 0) return;
    const appended = await transactionWithDeadLetters(deps.db, deps.deadLetters, async (tx) => {
      let inserted = 0;
      let duplicates = 0;
      // Seq runs of chunks whose every event was inserted (then seq i holds the chunk's event i).
      const runs: { firstSeq: number; events: WorkerEvent[] }[] = [];
      for (const chunk of prepared) {
        const r = await journalPreparedCounted(tx, chunk.append);
        inserted += r.inserted;
        duplicates += r.duplicates;
        if (r.duplicates === 0 && r.partitions.length === 1) runs.push({ firstSeq: r.partitions[0].firstSeq, events: chunk.events });
      }
      // A batch retried after part of it committed parses the same bad records again.
      await recordNewDeadLetters(deps.deadLetters, tx, letters);
      return { inserted, duplicates, runs };
    });
    // Only committed events go to the tail, with the seqs the journal gave them.
    for (const run of appended.runs) deps.tail?.add(partition.id, run.firstSeq, run.events);
    totals.newEvents += appended.inserted;
    totals.duplicates += appended.duplicates;
    if (appended.inserted > 0) deps.notify?.(partition.id);
  };

  // One transaction in flight at a time (journal order = file order); parsing goes on meanwhile.
  let inFlight: Promise<void> = Promise.resolve();
  let events: WorkerEvent[] = [];
  let letters: DeadLetter[] = [];
  const flush = async (): Promise<void> => {
    const [evs, ls] = [events, letters];
    events = [];
    letters = [];
    // Checks and JSON serialisation now, while the previous transaction runs, not inside this
    // one (its connection would wait on them); a failure fails this transaction in order.
    let prepared: Prepared | { error: unknown };
    try {
      prepared = prepare(evs);
    } catch (error) {
      prepared = { error };
    }
    const previous = inFlight;
    inFlight = previous.then(() => {
      if ("error" in prepared) throw prepared.error;
      return commit(prepared, ls);
    });
    inFlight.catch(() => {}); // observed below or by the next flush; never an unhandled rejection
    await previous;
  };
  for await (const file of files) {
    totals.files += 1;
    const before = letters.length;
    const eventsBefore = events.length;
    parseFile(partition.id, file, events, letters);
    totals.deadLetters += letters.length - before;
    totals.events += events.length - eventsBefore;
    if (events.length >= COMMIT_EVENTS) await flush();
  }
  await flush();
  await inFlight;
  await deps.catchUp(partition.id);
  return { partition: partition.id, ...totals };
}
