/**
 * One actor's mailbox: a bounded FIFO queue (a growable ring buffer, O(1) push and shift).
 * `capacity` is the back-pressure limit for external senders; `push(item, force)` lets the
 * runtime enqueue past it (actor-to-actor tells released after a commit are never dropped).
 */
export class Mailbox<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`mailbox capacity must be a positive integer, got ${capacity}`);
    this.items = new Array(Math.min(16, capacity));
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Appends; false (and nothing queued) when full unless forced. */
  push(item: T, force = false): boolean {
    if (this.count >= this.capacity && !force) return false;
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
    return true;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** Removes and returns everything queued, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.count > 0) out.push(this.shift() as T);
    return out;
  }

  private grow(): void {
    const next = new Array<T | undefined>(Math.max(16, this.items.length * 2));
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
