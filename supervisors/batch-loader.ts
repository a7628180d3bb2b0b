/**
 * Batched activation loads: the ids of actors activating in the same burst of work are loaded
 * with ONE `kind.load(db, ids)` call (up to maxBatch ids per call), not one query per actor.
 */
import { setImmediate } from "node:timers";

interface Waiter<S> {
  resolve(value: S | undefined): void;
  reject(err: unknown): void;
}

export class BatchLoader<S> {
  private waiting = new Map<string, Waiter<S>[]>();
  private scheduled = false;

  constructor(
    private readonly loadMany: (ids: readonly string[]) => Promise<Map<string, S>>,
    private readonly maxBatch: number,
  ) {}

  /** The persisted state of `id`, or undefined for an entity never saved. */
  load(id: string): Promise<S | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(id);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(id, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  private run(): void {
    this.scheduled = false;
    const all = this.waiting;
    this.waiting = new Map();
    const ids = [...all.keys()];
    for (let i = 0; i < ids.length; i += this.maxBatch) {
      const chunk = ids.slice(i, i + this.maxBatch);
      Promise.resolve()
        .then(() => this.loadMany(chunk))
        .then(
        (found) => {
          for (const id of chunk) for (const w of all.get(id) ?? []) w.resolve(found.get(id));
        },
        (err) => {
          for (const id of chunk) for (const w of all.get(id) ?? []) w.reject(err);
        },
      );
    }
  }
}
