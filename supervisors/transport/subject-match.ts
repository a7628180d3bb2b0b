/**
 * NATS subject matching for the in-process transport: a subscription index with NATS core
 * semantics, in the spirit of nats-server's sublist.
 *
 * - A subject is a list of tokens separated by `.`; no token may be empty or contain whitespace.
 * - In a subscription pattern, `*` matches exactly one token and `>` (last token only) matches
 *   one or more tokens: `a.>` matches `a.b` and `a.b.c`, not `a`.
 * - Literal patterns (no wildcard) live in a Map (one lookup); wildcard patterns live in a token
 *   trie walked once per subject, so matching cost does not grow with the number of patterns.
 * - Results are cached per subject (bounded; cleared whenever the index changes), so a hot
 *   subject costs one Map lookup and no allocation.
 */

/** What a published subject reaches: plain subscribers all get it; one member of each group does. */
export interface MatchResult<T> {
  readonly plain: readonly T[];
  /** One array per queue group (members of that group matching the subject). */
  readonly groups: readonly (readonly T[])[];
  /** plain.length + groups.length: zero means nobody listens. */
  readonly size: number;
}

/** What the index stores per subscription. */
export interface Subscriber {
  /** Queue group name, or undefined for a plain subscriber. */
  readonly queue: string | undefined;
}

const WHITESPACE = /\s/;

/** Throws a TypeError unless `pattern` is a valid subscription subject (wildcards allowed). */
export function assertValidPattern(pattern: string): void {
  if (pattern.length === 0) throw new TypeError("subject must not be empty");
  if (WHITESPACE.test(pattern)) throw new TypeError(`subject must not contain whitespace: ${JSON.stringify(pattern)}`);
  const tokens = pattern.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.length === 0) throw new TypeError(`subject has an empty token: ${JSON.stringify(pattern)}`);
    if (t === ">" && i !== tokens.length - 1) throw new TypeError(`'>' must be the last token: ${JSON.stringify(pattern)}`);
    if (t.length > 1 && (t.includes("*") || t.includes(">"))) {
      throw new TypeError(`wildcards must be whole tokens: ${JSON.stringify(pattern)}`);
    }
  }
}

/** Throws a TypeError unless `subject` is a valid publish subject (no wildcards). */
export function assertValidSubject(subject: string): void {
  assertValidPattern(subject);
  for (const t of subject.split(".")) {
    if (t === "*" || t === ">") throw new TypeError(`cannot publish to a wildcard subject: ${JSON.stringify(subject)}`);
  }
}

/** Throws a TypeError unless `queue` is a usable queue group name (one token, no wildcard). */
export function assertValidQueue(queue: string): void {
  if (queue.length === 0 || /[\s.*>]/.test(queue)) throw new TypeError(`bad queue group name ${JSON.stringify(queue)}`);
}

export function isLiteral(pattern: string): boolean {
  return !pattern.includes("*") && !pattern.includes(">");
}

/** Does `subject` (no wildcards) match `pattern`? Reference implementation, used for single checks. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

class TrieNode<T> {
  literal: Map<string, TrieNode<T>> | undefined;
  star: TrieNode<T> | undefined;
  /** Subscribers whose pattern ends here. */
  readonly terminal: T[] = [];
  /** Subscribers whose pattern ends with `>` right after this node. */
  readonly rest: T[] = [];

  isEmpty(): boolean {
    return this.terminal.length === 0 && this.rest.length === 0 && this.star === undefined && (this.literal === undefined || this.literal.size === 0);
  }
}

const EMPTY_RESULT: MatchResult<never> = Object.freeze({ plain: Object.freeze([]), groups: Object.freeze([]), size: 0 });

export class SubjectIndex<T extends Subscriber> {
  private readonly exact = new Map<string, T[]>();
  private readonly root = new TrieNode<T>();
  private wildcardCount = 0;
  private readonly cache = new Map<string, MatchResult<T>>();

  /** @param cacheLimit entries kept in the match cache before it is cleared (NATS uses 1024). */
  constructor(private readonly cacheLimit = 4096) {}

  add(pattern: string, sub: T): void {
    assertValidPattern(pattern);
    this.cache.clear();
    if (isLiteral(pattern)) {
      const list = this.exact.get(pattern);
      if (list) list.push(sub);
      else this.exact.set(pattern, [sub]);
      return;
    }
    this.wildcardCount++;
    let node = this.root;
    const tokens = pattern.split(".");
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t === ">") {
        node.rest.push(sub);
        return;
      }
      if (t === "*") {
        node = node.star ??= new TrieNode<T>();
      } else {
        node.literal ??= new Map();
        let next = node.literal.get(t);
        if (!next) node.literal.set(t, (next = new TrieNode<T>()));
        node = next;
      }
    }
    node.terminal.push(sub);
  }

  /** Removes one registration of `sub` under `pattern`; returns whether it was found. */
  remove(pattern: string, sub: T): boolean {
    this.cache.clear();
    if (isLiteral(pattern)) {
      const list = this.exact.get(pattern);
      if (!list || !removeItem(list, sub)) return false;
      if (list.length === 0) this.exact.delete(pattern);
      return true;
    }
    const removed = removeFromTrie(this.root, pattern.split("."), 0, sub);
    if (removed) this.wildcardCount--;
    return removed;
  }

  /** Subscribers reached by a message on `subject`. The result is shared: do not mutate it. */
  match(subject: string): MatchResult<T> {
    const cached = this.cache.get(subject);
    if (cached !== undefined) return cached;
    const result = this.lookup(subject);
    if (this.cache.size >= this.cacheLimit) this.cache.clear();
    this.cache.set(subject, result);
    return result;
  }

  /** Match without touching the cache (for one-off subjects such as reply inboxes). */
  matchUncached(subject: string): MatchResult<T> {
    return this.cache.get(subject) ?? this.lookup(subject);
  }

  private lookup(subject: string): MatchResult<T> {
    const found: T[] = [];
    const exact = this.exact.get(subject);
    if (exact) for (let i = 0; i < exact.length; i++) found.push(exact[i]);
    if (this.wildcardCount > 0) matchTrie(this.root, subject, 0, found);
    return found.length === 0 ? (EMPTY_RESULT as MatchResult<T>) : partition(found);
  }
}

const NO_GROUPS: readonly (readonly never[])[] = Object.freeze([]);

function partition<T extends Subscriber>(found: T[]): MatchResult<T> {
  let queued = false;
  for (let i = 0; i < found.length; i++) if (found[i].queue !== undefined) queued = true;
  if (!queued) return { plain: found, groups: NO_GROUPS, size: found.length };
  const plain: T[] = [];
  let byQueue: Map<string, T[]> | undefined;
  for (const sub of found) {
    if (sub.queue === undefined) {
      plain.push(sub);
      continue;
    }
    byQueue ??= new Map();
    const members = byQueue.get(sub.queue);
    if (members) members.push(sub);
    else byQueue.set(sub.queue, [sub]);
  }
  const groups = byQueue ? [...byQueue.values()] : [];
  return { plain, groups, size: plain.length + groups.length };
}

function matchTrie<T>(node: TrieNode<T>, subject: string, start: number, out: T[]): void {
  // `>` after this node needs at least one more token, which there is (start is inside subject).
  for (let i = 0; i < node.rest.length; i++) out.push(node.rest[i]);
  const dot = subject.indexOf(".", start);
  const last = dot === -1;
  const token = last ? subject.slice(start) : subject.slice(start, dot);
  const lit = node.literal?.get(token);
  if (lit) {
    if (last) for (let i = 0; i < lit.terminal.length; i++) out.push(lit.terminal[i]);
    else matchTrie(lit, subject, dot + 1, out);
  }
  const star = node.star;
  if (star) {
    if (last) for (let i = 0; i < star.terminal.length; i++) out.push(star.terminal[i]);
    else matchTrie(star, subject, dot + 1, out);
  }
}

function removeFromTrie<T>(node: TrieNode<T>, tokens: string[], i: number, sub: T): boolean {
  const t = tokens[i];
  if (t === ">") return removeItem(node.rest, sub);
  const child = t === "*" ? node.star : node.literal?.get(t);
  if (!child) return false;
  const removed = i === tokens.length - 1 ? removeItem(child.terminal, sub) : removeFromTrie(child, tokens, i + 1, sub);
  if (removed && child.isEmpty()) {
    if (t === "*") node.star = undefined;
    else node.literal?.delete(t);
  }
  return removed;
}

function removeItem<T>(list: T[], item: T): boolean {
  const i = list.indexOf(item);
  if (i === -1) return false;
  list.splice(i, 1);
  return true;
}
