/**
 * `strata import worker-partition <file-or-folder>`: OpenPool event files in the S3 layout
 * `{region}/{node_type}/{region}-{node_type}-{start}_{end}.json`, through the same path as live
 * ingest (ingest.ts: validation, journal, dead letters, partition actor). A folder is walked
 * recursively; a single file's partition comes from its folders or its name. Files are ingested
 * per partition in name order, MAX_FILES_PER_BATCH at a time; re-importing is harmless (the
 * journal dedupes by event ID). In a folder, only files named like event files
 * (`{region}-{node_type}-…_….json`) are read (others are listed as ignored); an event file of an
 * inactive or unknown partition is a dead letter. A single file given by name is always read.
 * The path is made absolute first: dead-letter sources are `import:<absolute file>` (`#<index>`
 * for a bad record), each kept once however often and from wherever the path is imported.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { recordNewDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import type { DeadLetter } from "../../supervisors/actor-kind.ts";
import { ingestEventFiles, type IngestDeps, type IngestReport } from "./ingest.ts";
import { WORKER_PARTITION_KIND } from "./journal.ts";
import { PARTITIONS, type Partition } from "./partitions.ts";

export interface ImportReport {
  files: number;
  /** Files in the folder that are not named like event files (not read). */
  ignoredFiles: string[];
  batches: IngestReport[];
  /** Files whose partition is not active or could not be told. */
  rejectedFiles: string[];
  totals: { events: number; newEvents: number; duplicates: number; deadLetters: number };
}

const EVENT_FILE_NAME = /^[a-z0-9-]+-(ai|transcode)-[^/]*_[^/]*\.json$/;

async function walk(dir: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, out);
    else if (entry.isFile() && entry.name.endsWith(".json")) out.push(full);
  }
}

/** The active partition a file belongs to, from `{region}/{node_type}/` folders or the name prefix. */
export function partitionOfFile(path: string): Partition | null {
  const parts = path.split(sep).filter(Boolean);
  const name = basename(path);
  const dirs = parts.slice(-3, -1).join("/") + "/";
  return PARTITIONS.find((p) => dirs === p.s3Prefix) ?? PARTITIONS.find((p) => name.startsWith(p.fileNamePrefix)) ?? null;
}

export async function importWorkerPartitionPath(deps: IngestDeps, given: string, opts: { maxFilesPerBatch?: number } = {}): Promise<ImportReport> {
  const max = opts.maxFilesPerBatch ?? 250;
  // Absolute, so a file's dead-letter sources are the same from any working directory.
  const path = resolve(given);
  let files: string[] = [];
  const ignoredFiles: string[] = [];
  if ((await stat(path)).isDirectory()) {
    await walk(path, files);
    for (const f of files) if (!EVENT_FILE_NAME.test(basename(f))) ignoredFiles.push(f);
    files = files.filter((f) => EVENT_FILE_NAME.test(basename(f)));
  } else files.push(path);
  const byPartition = new Map<string, { partition: Partition; files: string[] }>();
  const rejectedFiles: string[] = [];
  const rejected: DeadLetter[] = [];
  for (const file of files) {
    const p = partitionOfFile(file);
    if (!p) {
      rejectedFiles.push(file);
      rejected.push({
        kind: WORKER_PARTITION_KIND,
        entityId: null,
        source: `import:${file}`,
        payload: { file: relative(path, file) || basename(file) },
        error: `import ${file}: not in an active partition's folder {region}/{node_type}/ (active: ${PARTITIONS.map((x) => x.s3Prefix).join(", ")})`,
        errorCode: "wrong_partition",
      });
      continue;
    }
    const group = byPartition.get(p.id) ?? { partition: p, files: [] };
    group.files.push(file);
    byPartition.set(p.id, group);
  }
  // Once per file: importing the folder again does not keep a second copy.
  if (rejected.length > 0) await transactionWithDeadLetters(deps.db, deps.deadLetters, (tx) => recordNewDeadLetters(deps.deadLetters, tx, rejected));
  const batches: IngestReport[] = [];
  for (const { partition, files: list } of [...byPartition.values()].sort((a, b) => (a.partition.id < b.partition.id ? -1 : 1))) {
    list.sort((a, b) => (basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : 0));
    for (let i = 0; i < list.length; i += max) {
      const chunk = await Promise.all(list.slice(i, i + max).map(async (f) => ({ source: `import:${f}`, body: await readFile(f) })));
      batches.push(await ingestEventFiles(deps, partition.id, chunk));
    }
  }
  const totals = { events: 0, newEvents: 0, duplicates: 0, deadLetters: rejectedFiles.length };
  for (const b of batches) {
    totals.events += b.events;
    totals.newEvents += b.newEvents;
    totals.duplicates += b.duplicates;
    totals.deadLetters += b.deadLetters;
  }
  return { files: files.length, ignoredFiles, batches, rejectedFiles, totals };
}
