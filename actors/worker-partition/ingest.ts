/**
 * Ingest of OpenPool event files for one partition, shared by the S3 sensor and `strata import`:
 * parse and validate every file, append the valid events to the journal and record the bad
 * input as dead letters, then let the partition actor catch up and wait until its state has
 * committed. A file that is not JSON is one dead letter; a bad record is one dead letter; the
 * rest of the file and of the batch commits (DESIGN rule 6).
 * Ingest never pays (seed 003 #1): it touches the journal, dead letters and the actor only.
 *
 * Pipelined: files arrive in order (an array, or an async iterable that fetches ahead), are
 * prepared — parsed, validated, their events serialised for the journal — a few files ahead by
 * the parser (a worker thread when wired by wire.ts, else in this thread: prepared-event-file.ts),
 * and are journaled in file order in transactions of about COMMIT_EVENTS events, each holding
 * whole files (a file's events and its dead letters commit together). While one transaction
 * runs, the next files are prepared; after each commit `notify` (when given) pokes the actor,
 * which applies that part while the rest is appended. The caller confirms its source cursor
 * only after `catchUp` resolves, so a batch that fails half way is retried whole, and the
 * journal's dedupe by event ID makes the retry count every event once, and its dead letters are
 * kept once too (recordNewDeadLetters skips a (kind, source) already recorded; the report still
 * counts them as dead-lettered).
 */
import type { Db } from "../../db/db.ts";
import { JournaledKeyConflict, type GaplessDedupe } from "../../db/journal-store.ts";
import type { DeadLetter, DeadLetterSink } from "../../supervisors/actor-kind.ts";
import { recordNewDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import type { WorkerEvent } from "./events.ts";
import { WORKER_PARTITION_KIND, journalPreparedCounted, prepareJournalPieces, type JournalPiece, type PreparedEvents } from "./journal.ts";
import { inThreadParser, preparedEvents, type EventFileParser, type FileBody, type PreparedEventFile } from "./prepared-event-file.ts";
import { requirePartition } from "./partitions.ts";
import type { JournalTail } from "./journal-tail.ts";

/**
 * Events per append (bounded parameter size). As large as a transaction's worth: each append
 * costs a few statements whatever its size, on the connection the next transaction waits for.
 */
const APPEND_CHUNK = 20_000;
/** Events per journal transaction (rounded up to whole files). */
const COMMIT_EVENTS = 20_000;
/**
 * Files taken from the input and being prepared (parsed, validated, serialised) ahead of the one
 * ingest adds next: with a parse worker thread, it works on them while this thread sends the
 * previous transaction's statements.
 */
const PREPARE_AHEAD = 8;

export interface EventFile {
  /** Where it came from, e.g. `s3:open-pool-events/us-central/ai/us-central-ai-….json`. */
  source: string;
  /** The file's bytes (decoded as UTF-8 where it is prepared) or text; bytes are handed to the parser, not read after. */
  body: FileBody;
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
  /**
   * Prepares each file (parse, validation, the journal's JSON): in this thread when not given;
   * wire.ts gives a parse worker thread (parse-worker-thread.ts).
   */
  parser?: EventFileParser;
}

export interface IngestReport {
  partition: string;
  files: number;
  events: number;
  newEvents: number;
  duplicates: number;
  deadLetters: number;
}

/** A file taken from the input, and its preparation (under way; none for an unreadable file). */
interface Taken {
  file: EventFile;
  prepared: Promise<PreparedEventFile> | null;
}

export async function ingestEventFiles(deps: IngestDeps, partitionId: string, files: Iterable<EventFile> | AsyncIterable<EventFile>): Promise<IngestReport> {
  const partition = requirePartition(partitionId);
  const totals = { files: 0, events: 0, newEvents: 0, duplicates: 0, deadLetters: 0 };

  /** The chunks of one transaction, ready for the append (prepareJournalPieces). */
  type Prepared = { events: WorkerEvent[]; append: PreparedEvents }[];
  // Chunks of whole pieces (a piece holds at most EVENTS_PER_ROW events), about APPEND_CHUNK events each.
  const prepare = (events: WorkerEvent[], pieces: JournalPiece[]): Prepared => {
    const chunks: Prepared = [];
    for (let from = 0, start = 0; from < pieces.length; ) {
      let to = from;
      let count = 0;
      while (to < pieces.length && (count === 0 || count + pieces[to].count <= APPEND_CHUNK)) count += pieces[to++].count;
      const chunk = events.slice(start, start + count);
      chunks.push({ events: chunk, append: prepareJournalPieces(chunk, pieces.slice(from, to)) });
      start += count;
      from = to;
    }
    return chunks;
  };

  const commit = async (prepared: Prepared, letters: DeadLetter[]): Promise<void> => {
    if (prepared.length === 0 && letters.length === 0) return;
    // Optimistic: new files hold no journaled ID, so the appends run without savepoints. A
    // journaled ID (a file delivered again) aborts the transaction, which runs again probing the
    // IDs first (journal-store.ts, GaplessDedupe).
    const journal = (dedupe: GaplessDedupe) =>
      transactionWithDeadLetters(deps.db, deps.deadLetters, async (tx) => {
        let inserted = 0;
        let duplicates = 0;
        // Seq runs of chunks whose every event was inserted (then seq i holds the chunk's event i).
        const runs: { firstSeq: number; events: WorkerEvent[] }[] = [];
        for (const chunk of prepared) {
          const r = await journalPreparedCounted(tx, chunk.append, dedupe);
          inserted += r.inserted;
          duplicates += r.duplicates;
          if (r.duplicates === 0 && r.partitions.length === 1) runs.push({ firstSeq: r.partitions[0].firstSeq, events: chunk.events });
        }
        // A batch retried after part of it committed parses the same bad records again.
        await recordNewDeadLetters(deps.deadLetters, tx, letters);
        return { inserted, duplicates, runs };
      });
    let appended: Awaited<ReturnType<typeof journal>>;
    try {
      appended = await journal("whole-transaction");
    } catch (err) {
      if (!(err instanceof JournaledKeyConflict)) throw err;
      appended = await journal("probe-first");
    }
    // Only committed events go to the tail, with the seqs the journal gave them.
    for (const run of appended.runs) deps.tail?.add(partition.id, run.firstSeq, run.events);
    totals.newEvents += appended.inserted;
    totals.duplicates += appended.duplicates;
    if (appended.inserted > 0) deps.notify?.(partition.id);
  };

  // One transaction in flight at a time (journal order = file order); preparing goes on meanwhile.
  let inFlight: Promise<void> = Promise.resolve();
  let events: WorkerEvent[] = [];
  let pieces: JournalPiece[] = [];
  let letters: DeadLetter[] = [];
  const flush = async (): Promise<void> => {
    const [evs, ps, ls] = [events, pieces, letters];
    events = [];
    pieces = [];
    letters = [];
    // The chunks now, while the previous transaction runs, not inside this one (its connection
    // would wait on them); a failure fails this transaction in order.
    let prepared: Prepared | { error: unknown };
    try {
      prepared = prepare(evs, ps);
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

  const parser = deps.parser ?? inThreadParser;
  const ahead: Taken[] = [];
  const letter = (source: string, payload: unknown, error: string, errorCode: string) => {
    letters.push({ kind: WORKER_PARTITION_KIND, entityId: partition.id, source, payload, error, errorCode });
    totals.deadLetters += 1;
  };
  // The next file in order: its dead letters and events join the transaction being gathered.
  const add = async ({ file, prepared }: Taken): Promise<void> => {
    totals.files += 1;
    if (prepared === null) {
      letter(file.source, null, file.unreadable!.error, file.unreadable!.errorCode);
    } else {
      const p = await prepared;
      if (p.refused) {
        letter(file.source, { head: p.refused.head, length: p.refused.length }, p.refused.error, p.refused.errorCode);
      } else {
        const evs = preparedEvents(p);
        for (const ev of evs) events.push(ev);
        for (const piece of p.pieces) pieces.push(piece);
        totals.events += evs.length;
        for (const r of p.rejected) letter(`${file.source}#${r.index}`, r.payload, r.error, r.errorCode);
      }
    }
    if (events.length >= COMMIT_EVENTS) await flush();
  };
  try {
    for await (const file of files) {
      const prepared = file.unreadable ? null : parser.prepare(file.body, partition.id, file.source);
      prepared?.catch(() => {}); // observed in order by add, unless an earlier file failed the batch
      ahead.push({ file, prepared });
      if (ahead.length > PREPARE_AHEAD) await add(ahead.shift()!);
    }
    while (ahead.length > 0) await add(ahead.shift()!);
  } catch (err) {
    await inFlight.catch(() => {}); // no transaction left running behind the failure
    throw err;
  }
  await flush();
  await inFlight;
  await deps.catchUp(partition.id);
  return { partition: partition.id, ...totals };
}
