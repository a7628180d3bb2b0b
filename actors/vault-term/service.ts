/**
 * Wiring of the vault-term kind to the actor runtime: `notifyAnalytics` tells the
 * triple-analytics partition actors terms to recompute (the sweep), and `importVaultTermLines` /
 * `importVaultTermFile` feed a JSONL file (one rindexer message per line, `strata import
 * vault-term <file>`, and embedded mode's sample) through the path the Redis reader uses: the
 * rindexer parser, the journal (dead letters in its transaction), then each term's fresh events
 * to its actor; they return when every actor is idle.
 */
import { readFile } from "node:fs/promises";
import type { Db } from "../../db/db.ts";
import type { DeadLetterSink } from "../../supervisors/actor-kind.ts";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import { DEFAULT_PARTITIONS } from "../../protocols/partition.ts";
import { InputError } from "../../protocols/errors.ts";
import { parseRindexerMessage, type ParsedMessage } from "./rindexer-entry.ts";
import { journalAndSend, type IngestSummary } from "./ingest.ts";
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

export async function importVaultTermLines(lines: readonly string[], opts: ImportOptions): Promise<ImportSummary> {
  const batchSize = opts.batchSize ?? 1000;
  const name = opts.name ?? "stdin";
  const total: ImportSummary = { lines: 0, messages: 0, fresh: 0, duplicates: 0, deadLettered: 0, terms: 0 };
  const terms = new Set<string>();
  for (let start = 0; start < lines.length; start += batchSize) {
    const parsed: ParsedMessage[] = [];
    for (let i = start; i < Math.min(lines.length, start + batchSize); i++) {
      if (lines[i].trim() === "") continue;
      total.lines += 1;
      parsed.push(...parseLine(lines[i], i + 1, name));
    }
    const s: IngestSummary = await journalAndSend(parsed, { db: opts.db, deadLetters: opts.deadLetters, system: opts.system });
    total.messages += s.messages;
    total.fresh += s.fresh;
    total.duplicates += s.duplicates;
    total.deadLettered += s.deadLettered;
    for (const t of s.terms) terms.add(t);
  }
  total.terms = terms.size;
  await opts.system.whenIdle();
  return total;
}

export async function importVaultTermFile(path: string, opts: Omit<ImportOptions, "name">): Promise<ImportSummary> {
  const text = await readFile(path, "utf8");
  return importVaultTermLines(text.split(/\r?\n/), { ...opts, name: path });
}
