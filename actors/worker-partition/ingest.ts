/**
 * Ingest of OpenPool event files for one partition, shared by the S3 sensor and `strata import`:
 * parse and validate every file, append the valid events to the journal and record the bad
 * input as dead letters in ONE transaction, then let the partition actor catch up and wait
 * until its state has committed. A file that is not JSON is one dead letter; a bad record is one
 * dead letter; the rest of the file and of the batch commits (DESIGN rule 6).
 * Ingest never pays (seed 003 #1): it touches the journal, dead letters and the actor only.
 */
import type { Db } from "../../db/db.ts";
import type { DeadLetter, DeadLetterSink } from "../../supervisors/actor-kind.ts";
import { InputError, errorMessage } from "../../protocols/errors.ts";
import { parseEventFile } from "./event-file.ts";
import type { WorkerEvent } from "./events.ts";
import { WORKER_PARTITION_KIND, journalWorkerEvents } from "./journal.ts";
import { requirePartition } from "./partitions.ts";

const APPEND_CHUNK = 5000;

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
}

export interface IngestReport {
  partition: string;
  files: number;
  events: number;
  newEvents: number;
  duplicates: number;
  deadLetters: number;
}

export async function ingestEventFiles(deps: IngestDeps, partitionId: string, files: readonly EventFile[]): Promise<IngestReport> {
  const partition = requirePartition(partitionId);
  const events: WorkerEvent[] = [];
  const letters: DeadLetter[] = [];
  for (const file of files) {
    if (file.unreadable) {
      letters.push({ kind: WORKER_PARTITION_KIND, entityId: partition.id, source: file.source, payload: null, ...file.unreadable });
      continue;
    }
    try {
      const parsed = parseEventFile(file.text, partition.id, file.source);
      events.push(...parsed.events);
      for (const r of parsed.rejected) {
        letters.push({ kind: WORKER_PARTITION_KIND, entityId: partition.id, source: `${file.source}#${r.index}`, payload: r.payload, error: r.error, errorCode: r.errorCode });
      }
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      letters.push({
        kind: WORKER_PARTITION_KIND,
        entityId: partition.id,
        source: file.source,
        payload: { head: file.text.slice(0, 2000), length: file.text.length },
        error: errorMessage(err),
        errorCode: err.code,
      });
    }
  }
  const appended = await deps.db.transaction(async (tx) => {
    // One transaction, statements of at most APPEND_CHUNK events (bounded parameter size).
    let inserted = 0;
    let duplicates = 0;
    for (let i = 0; i < events.length; i += APPEND_CHUNK) {
      const r = await journalWorkerEvents(tx, events.slice(i, i + APPEND_CHUNK));
      inserted += r.inserted.length;
      duplicates += r.duplicates;
    }
    for (const letter of letters) await deps.deadLetters.record(letter, tx);
    return { inserted, duplicates };
  });
  await deps.catchUp(partition.id);
  return {
    partition: partition.id,
    files: files.length,
    events: events.length,
    newEvents: appended.inserted,
    duplicates: appended.duplicates,
    deadLetters: letters.length,
  };
}
