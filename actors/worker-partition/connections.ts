/**
 * Worker connections (pure), replayed in journal order with event time (decisions 8, seed 003 #9).
 *
 * - worker-connected: the worker exists from now on; its connection string is added once; active.
 * - worker-disconnected: the connection is removed; active = connections remain. The worker is
 *   kept (inactive), never deleted; an unknown worker is recorded as inactive.
 * - orchestrator-reset: every worker whose last connection event is not later than the reset
 *   loses its connections (kept, inactive).
 * `lastSeenMs` is the event time of the worker's latest applied connection event. An event older
 * than that (a late file) does not change the worker: the latest known state wins, so the
 * result does not depend on how the journal is cut into batches.
 */
export interface WorkerConnections {
  connections: string[];
  active: boolean;
  lastSeenMs: number;
}

export type ConnectionBook = Map<string, WorkerConnections>;

export function applyConnected(book: ConnectionBook, ethAddress: string, connection: string, atMs: number): boolean {
  const w = book.get(ethAddress);
  if (!w) {
    book.set(ethAddress, { connections: [connection], active: true, lastSeenMs: atMs });
    return true;
  }
  if (atMs < w.lastSeenMs) return false;
  if (!w.connections.includes(connection)) w.connections.push(connection);
  w.active = true;
  w.lastSeenMs = atMs;
  return true;
}

export function applyDisconnected(book: ConnectionBook, ethAddress: string, connection: string, atMs: number): boolean {
  const w = book.get(ethAddress);
  if (!w) {
    book.set(ethAddress, { connections: [], active: false, lastSeenMs: atMs });
    return true;
  }
  if (atMs < w.lastSeenMs) return false;
  w.connections = w.connections.filter((c) => c !== connection);
  w.active = w.connections.length > 0;
  w.lastSeenMs = atMs;
  return true;
}

/** Returns the addresses that changed. */
export function applyReset(book: ConnectionBook, atMs: number): string[] {
  const changed: string[] = [];
  for (const [address, w] of book) {
    if (w.lastSeenMs > atMs) continue;
    if (w.connections.length === 0 && !w.active) continue;
    w.connections = [];
    w.active = false;
    w.lastSeenMs = atMs;
    changed.push(address);
  }
  return changed;
}
