/**
 * The parse worker thread's side (entry: parse-worker.js): each request is one event file (its
 * bytes, handed over by the main thread, or its text), decoded here;
 * the reply is the file prepared for ingest (prepared-event-file.ts: events validated and
 * serialised as journal pieces, their JSON as bytes transferred with the reply, rejected records,
 * or the whole file refused) or the error that
 * stopped it, in wire form (protocols/errors.ts headers: class and code survive the crossing).
 * Requests are answered one at a time, in the order they came. Posts `{ ready: true }` once
 * loaded, so the main thread knows from when on sending is worth it.
 */
import { parentPort } from "node:worker_threads";
import { errorToHeaders } from "../../protocols/errors.ts";
import { prepareEventFile, preparedFileTransfers, type FileBody, type PreparedEventFile } from "./prepared-event-file.ts";

export interface PrepareRequest {
  id: number;
  body: FileBody;
  partitionId: string;
  source: string;
}

export type PrepareReply = { id: number; file: PreparedEventFile } | { id: number; error: Record<string, string> } | { ready: true };

const port = parentPort;
if (port) {
  port.on("message", (req: PrepareRequest) => {
    let reply: PrepareReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const file = prepareEventFile(req.body, req.partitionId, req.source, false);
      reply = { id: req.id, file };
      transfer = preparedFileTransfers(file);
    } catch (err) {
      reply = { id: req.id, error: errorToHeaders(err) };
    }
    port.postMessage(reply, transfer);
  });
  port.postMessage({ ready: true } satisfies PrepareReply);
}
