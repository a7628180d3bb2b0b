/**
 * One S3 event file (a JSON array of envelopes) → the valid events and the rejected records.
 * A file that is not JSON, or not an array, is rejected whole (InputError); inside an array each
 * record is validated alone, so one bad record never stops the rest of the file (DESIGN rule 6).
 */
import { InputError, errorMessage } from "../../protocols/errors.ts";
import { parseJson } from "../../protocols/validation.ts";
import { hasLongNumberToken, quoteLongIntegers } from "./json-text.ts";
import { fastParseWorkerEvent, parseWithSchemas, type WorkerEvent } from "./events.ts";
import { journalProblemOf } from "./journal.ts";

export interface RejectedRecord {
  /** Position in the file's array. */
  index: number;
  payload: unknown;
  error: string;
  errorCode: string;
}

export interface ParsedEventFile {
  events: WorkerEvent[];
  rejected: RejectedRecord[];
}

export function parseEventFile(text: string, partitionId: string, source: string): ParsedEventFile {
  // Plain JSON.parse first: the fast path accepts safe integers only, which it reads exactly.
  // A record that leaves it (the schemas, a dead letter) is taken from the exact parse, where
  // integers of ≥ 16 digits arrive as decimal strings (json-text.ts), made once, when needed.
  const parsed = parseJson(text, source);
  if (!Array.isArray(parsed)) throw new InputError(`${source}: expected a JSON array of events, got ${parsed === null ? "null" : typeof parsed}`, { code: "not_array" });
  let exact: unknown[] | undefined;
  const exactRecord = (i: number): unknown => {
    exact ??= hasLongNumberToken(text) ? (parseJson(quoteLongIntegers(text), source) as unknown[]) : parsed;
    return exact[i];
  };
  const events: WorkerEvent[] = [];
  const rejected: RejectedRecord[] = [];
  // Only a \u escape can put a U+0000 or a lone surrogate into a parsed string (raw control
  // characters are not JSON, and decoded UTF-8 holds no lone surrogates): the journal refuses
  // both, so such a record is rejected here, alone, rather than failing its batch on every retry.
  const mayHoldUnstorable = text.includes("\\u");
  for (let i = 0; i < parsed.length; i++) {
    try {
      const event = fastParseWorkerEvent(parsed[i], partitionId) ?? parseWithSchemas(exactRecord(i), partitionId);
      const problem = mayHoldUnstorable ? journalProblemOf(event) : null;
      if (problem) throw new InputError(`${source} record ${i}: cannot be journaled: ${problem}`, { code: "not_storable" });
      events.push(event);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      rejected.push({ index: i, payload: exactRecord(i), error: errorMessage(err), errorCode: err.code });
    }
  }
  return { events, rejected };
}
