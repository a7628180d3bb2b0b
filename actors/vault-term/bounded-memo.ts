/**
 * A memo of a pure function's results with a bound on its size: when full it is emptied, which
 * only costs recomputation. For normalisations whose inputs repeat a lot in a stream (account
 * addresses, term ids) and cost more than a Map lookup.
 */
export class BoundedMemo<V> {
  readonly #values = new Map<string, V>();
  readonly limit: number;

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`BoundedMemo: limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get(key: string): V | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: V): void {
    if (this.#values.size >= this.limit) this.#values.clear();
    this.#values.set(key, value);
  }

  get size(): number {
    return this.#values.size;
  }
}
