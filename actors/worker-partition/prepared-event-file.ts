/**
 * One event file made ready for ingest: parsed, validated (event-file.ts) and its valid events
 * serialised for the journal (journalPieces), as plain data — strings, numbers, arrays — so that
 * the work can run on a parse worker thread (parse-worker-thread.ts) and cross to the main thread
 * by structured clone, or run in this thread (then the event objects come along too).
 *
 * Across threads, the main thread's events are rebuilt from columns (event-columns.ts) or, for a
 * file whose events do not fit them, parsed back from the journal pieces' JSON: either way the
 * values a journal read gives, so what the actor applies live is what replay reads (rule 5).
 */
import { Buffer } from "node:buffer";
import { InputError, errorMessage } from "../../protocols/errors.ts";
import { parseEventFile, type RejectedRecord } from "./event-file.ts";
import type { WorkerEvent } from "./events.ts";
import { journalJsonBytes, journalJsonText, journalPieces, type JournalPiece } from "./journal.ts";
import { decodeEventColumns, encodeEventColumns, type EventColumns } from "./event-columns.ts";

export interface PreparedEventFile {
  /** The valid events, serialised as the journal stores them (file order). */
  pieces: JournalPiece[];
  /** The events whose JSON the pieces are, when prepared in this thread (never sent to another). */
  events?: WorkerEvent[];
  /** Else the same events as columns (event-columns.ts), when they fit them; else the pieces are parsed. */
  columns?: EventColumns | null;
  rejected: RejectedRecord[];
  /**
   * Set when the whole file is refused (not JSON, not an array): it is one dead letter, which
   * keeps the file's first 2,000 characters and its length (the bytes may have been handed to
   * the worker thread, so the dead letter's text comes back with the answer).
   */
  refused: { error: string; errorCode: string; head: string; length: number } | null;
}

/**
 * An event file as read: the bytes of an S3 object or of a file on disk (decoded as UTF-8 where
 * the file is prepared, so that decoding is off the main thread with a parse worker), or text.
 */
export type FileBody = string | Uint8Array;

/** The text of a file body: UTF-8, an invalid sequence read as U+FFFD (as the S3 client's transformToString). */
export function fileText(body: FileBody): string {
  return typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
}

/**
 * Parses, validates and serialises one file. A file refused whole comes back `refused`; any
 * error other than an InputError (a defect, not bad input) is thrown.
 */
export function prepareEventFile(body: FileBody, partitionId: string, source: string, keepEvents: boolean): PreparedEventFile {
  let text: string;
  try {
    text = fileText(body);
  } catch (err) {
    // Bytes that do not fit a JS string (Node: ERR_STRING_TOO_LONG; a RangeError elsewhere) are
    // too large to be an event file, every time: refused whole, not a failure of the batch.
    if (!isStringTooLong(err)) throw err;
    const length = typeof body === "string" ? body.length : body.byteLength;
    return { pieces: [], rejected: [], refused: { error: `${source}: the file (${length} bytes) is too large to read as text: ${errorMessage(err)}`, errorCode: "file_too_large", head: "", length } };
  }
  try {
    const parsed = parseEventFile(text, partitionId, source);
    const pieces = journalPieces(parsed.events);
    if (keepEvents) return { pieces, events: parsed.events, rejected: parsed.rejected, refused: null };
    // For another thread: the pieces' JSON as bytes, which cross by transfer (preparedFileTransfers).
    const bytes = pieces.map((p) => ({ ...p, text: journalJsonBytes(p.text) }));
    return { pieces: bytes, columns: encodeEventColumns(parsed.events), rejected: parsed.rejected, refused: null };
  } catch (err) {
    if (!(err instanceof InputError) || err.code === "journal_event") throw err;
    return { pieces: [], rejected: [], refused: { error: errorMessage(err), errorCode: err.code, head: text.slice(0, 2000), length: text.length } };
  }
}

/** Whether decoding failed because the text would exceed the JS string limit. */
function isStringTooLong(err: unknown): boolean {
  if ((err as { code?: unknown } | null)?.code === "ERR_STRING_TOO_LONG") return true;
  return err instanceof RangeError && /string length|too long|too large/i.test(err.message);
}

/** The events of a prepared file, in file order: the objects it carries, else its columns decoded, else its pieces parsed. */
export function preparedEvents(file: PreparedEventFile): WorkerEvent[] {
  if (file.events) return file.events;
  if (file.columns) return decodeEventColumns(file.columns);
  if (file.pieces.length === 1) return JSON.parse(journalJsonText(file.pieces[0].text)) as WorkerEvent[];
  const out: WorkerEvent[] = [];
  for (const piece of file.pieces) for (const ev of JSON.parse(journalJsonText(piece.text)) as WorkerEvent[]) out.push(ev);
  return out;
}

/** The buffers of a prepared file that postMessage may transfer: its pieces' bytes, each the whole of its buffer. */
export function preparedFileTransfers(file: PreparedEventFile): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const p of file.pieces) {
    if (typeof p.text === "string") continue;
    const buf = p.text.buffer;
    if (buf instanceof ArrayBuffer && p.text.byteOffset === 0 && p.text.byteLength === buf.byteLength) out.push(buf);
  }
  return out;
}

/** What prepares files for ingest: this thread (inThreadParser) or a worker thread (parse-worker-thread.ts). */
export interface EventFileParser {
  /** One file prepared; a defect (not bad input) rejects the promise. Bytes given may be handed over (detached): do not read them after. */
  prepare(body: FileBody, partitionId: string, source: string): Promise<PreparedEventFile>;
}

/** Prepares each file in this thread, when asked (ingest's default). */
export const inThreadParser: EventFileParser = {
  prepare: async (body, partitionId, source) => prepareEventFile(body, partitionId, source, true),
};
