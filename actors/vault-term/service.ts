/**
 * Wiring of the vault-term kind to the actor runtime: `notifyAnalytics` tells the
 * triple-analytics partition actors terms to recompute (the sweep), and `importVaultTermLines` /
 * `importVaultTermFile` feed a JSONL file (one rindexer message per line, `strata import
 * vault-term <file>`, and embedded mode's sample) through the path the Redis reader uses: the
 * rindexer parser, the journal (dead letters in its transaction), then each term's fresh events
 * to its actor; they return when every actor is idle. A batch the database refuses as bad data
 * (InputError or SQLSTATE 22xxx / 23xxx, `isPoisonError`, as the Redis reader) is retried line by
 * line: a line that still fails that way is dead-lettered (`import:<name>:<line>`) and the other
 * lines commit. Any other failure (the database down) fails the import.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Db } from "../../db/db.ts";
import type { DeadLetterSink } from "../../supervisors/actor-kind.ts";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import { DEFAULT_PARTITIONS } from "../../protocols/partition.ts";
import { InputError, errorMessage, isPoisonError } from "../../protocols/errors.ts";
import { recordNewDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import { parseRindexerMessage, type ParsedMessage } from "./rindexer-entry.ts";
import { journalAndSend, VAULT_TERM_KIND, type IngestSummary } from "./ingest.ts";
import { analyticsTargets, TERM_UPDATED, TRIPLE_ANALYTICS_KIND } from "./triple-analytics-kind.ts";

/** Tell each triple-analytics partition actor the terms of its partition. */
export function notifyAnalytics(system: Pick<ActorSystem, "tell">, termIds: readonly string[], partitions: number = DEFAULT_PARTITIONS): void {
  if (termIds.length === 0) return;
  for (const [target, terms] of analyticsTargets(termIds, partitions)) system.tell(TRIPLE_ANALYTICS_KIND, target, TERM_UPDATED, { termIds: terms });
}

export interface ImportSummary {
  lines: number;
  messages: number;
  fresh: number;
  duplicates: number;
  deadLettered: number;
  terms: number;
}

export interface ImportOptions {
  db: Db;
  deadLetters: DeadLetterSink;
  /** Must have the vault-term kinds registered (`registerVaultTermKinds`). */
  system: Pick<ActorSystem, "send" | "trySend" | "whenIdle">;
  /** Lines per transaction (default 1000). */
  batchSize?: number;
  /** Name used in dead-letter sources: `import:<name>:<line>`. */
  name?: string;
}

function parseLine(line: string, lineNo: number, name: string): ParsedMessage[] {
  const id = `import:${name}:${lineNo}`;
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (err) {
    return [{ ok: false, id, error: new InputError(`${id}: not valid JSON (${(err as Error).message})`, { code: "not_json" }), payload: line }];
  }
  return parseRindexerMessage(id, message);
}

/** One non-empty line of an import: its number (1-based), its text and the messages it parsed to. */
interface ImportLine {
  lineNo: number;
  text: string;
  messages: ParsedMessage[];
}

export async function importVaultTermLines(lines: readonly string[], opts: ImportOptions): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 1000;
  const name = opts.name ?? "stdin";
  const total: ImportSummary = { lines: 0, messages: 0, fresh: 0, duplicates: 0, deadLettered: 0, terms: 0 };
  const terms = new Set<string>();
  const add = (s: IngestSummary) => {
    total.messages += s.messages;
    total.fresh += s.fresh;
    total.duplicates += s.duplicates;
    total.deadLettered += s.deadLettered;
    for (const t of s.terms) terms.add(t);
  };
  for (let start = 0; start < lines.length; start += batchSize) {
    const batch: ImportLine[] = [];
    for (let i = start; i < Math.min(lines.length, start + batchSize); i++) {
      if (lines[i].trim() === "") continue;
      total.lines += 1;
      batch.push({ lineNo: i + 1, text: lines[i], messages: parseLine(lines[i], i + 1, name) });
    }
    await journalBatch(batch, name, opts, add);
  }
  total.terms = terms.size;
  await opts.system.whenIdle();
  return total;
}

/**
 * Journal the lines in one transaction; when the database refuses it as bad data, each line
 * alone, dead-lettering the lines it still refuses (what the Redis reader does after a poison
 * failure; its loop also retries and waits on breakers, so only `isPoisonError` is shared).
 */
async function journalBatch(batch: readonly ImportLine[], name: string, opts: ImportOptions, add: (s: IngestSummary) => void): Promise<void> {
  const send = { db: opts.db, deadLetters: opts.deadLetters, system: opts.system };
  try {
    add(await journalAndSend(batch.flatMap((l) => l.messages), send));
    return;
  } catch (err) {
    if (!isPoisonError(err)) throw err;
    if (batch.length === 1) {
      await poisonLine(batch[0], name, err, opts);
      add({ messages: batch[0].messages.length, fresh: 0, duplicates: 0, deadLettered: 1, terms: [], analyticsTerms: [] });
      return;
    }
  }
  for (const line of batch) await journalBatch([line], name, opts, add);
}

/** Dead-letter a whole line the database refused (once per source, like the batch's own dead letters). */
async function poisonLine(line: ImportLine, name: string, err: unknown, opts: ImportOptions): Promise<void> {
  let payload: unknown = line.text;
  try {
    payload = JSON.parse(line.text);
  } catch {
    // kept as text
  }
  const source = `import:${name}:${line.lineNo}`;
  await transactionWithDeadLetters(opts.db, opts.deadLetters, (tx) =>
    recordNewDeadLetters(opts.deadLetters, tx, [
      { kind: VAULT_TERM_KIND, entityId: null, source, payload, error: `${source}: ${errorMessage(err)}`, errorCode: (err as { code?: unknown }).code === undefined ? "bad_input" : String((err as { code?: unknown }).code) },
    ]),
  );
}

export async function importVaultTermFile(path: string, opts: Omit<ImportOptions, "name">): Promise<ImportSummary> {
  // Absolute: a line's dead-letter source (`import:<file>:<line>`) names the same file from any
  // working directory (the CLI and the embedded sample import, VAULT_TERM_SAMPLE_FILE, alike).
  const file = resolve(path);
  const text = await readFile(file, "utf8");
  return importVaultTermLines(text.split(/\r?\n/), { ...opts, name: file });
}
