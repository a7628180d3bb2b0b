/**
 * Subject matching for the in-process transport: the indexed matcher (literal map + wildcard
 * trie + cache) must agree with the one-line reference definition on every pattern/subject
 * pair, also after removals (which must invalidate the cache).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SubjectIndex, assertValidPattern, assertValidSubject, subjectMatches } from "../../../supervisors/transport/subject-match.ts";
import { mulberry32 } from "../../../samples/seeded-random.ts";

interface Sub {
  readonly id: number;
  readonly pattern: string;
  readonly queue: string | undefined;
}


test("subject-match - the reference definition of '*' and '>'", () => {
  assert.ok(subjectMatches("a.*.c", "a.b.c"));
  assert.not.ok(subjectMatches("a.*.c", "a.b.d"));
  assert.not.ok(subjectMatches("a.*", "a.b.c"));
  assert.ok(subjectMatches("a.>", "a.b"));
  assert.ok(subjectMatches("a.>", "a.b.c.d"));
  assert.not.ok(subjectMatches("a.>", "a"), "'>' needs at least one token");
  assert.ok(subjectMatches(">", "a"));
  assert.ok(subjectMatches("*", "a"));
  assert.not.ok(subjectMatches("*", "a.b"));
  assert.ok(subjectMatches("a.b", "a.b"));
  assert.not.ok(subjectMatches("a.b", "a.bc"));
  assert.not.ok(subjectMatches("a.b", "a"));
});

test("subject-match - pattern validation names what is wrong", () => {
  for (const ok of ["a", "a.b", "a.*", "a.>", ">", "*.*", "strata.vault-term.p03.>", "$SRV.PING", "_INBOX.x.1"]) assertValidPattern(ok);
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["a..b", /empty token/],
    [".a", /empty token/],
    ["a.", /empty token/],
    ["a.>.b", /last token/],
    ["a b", /whitespace/],
    ["a.b*", /whole tokens/],
    ["a.>b", /whole tokens/],
  ];
  for (const [pattern, reason] of bad) {
    assert.throws(() => assertValidPattern(pattern), reason, `pattern ${JSON.stringify(pattern)}`);
  }
  assert.throws(() => assertValidSubject("a.*"), /wildcard/);
  assertValidSubject("a.b");
});

test("subject-match - the index agrees with the reference on random patterns, before and after removals", () => {
  const random = mulberry32(20261125);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const patternTokens = ["a", "b", "c", "*", "*", ">"];
  const subjectTokens = ["a", "b", "c"];
  const index = new SubjectIndex<Sub>(64); // small cache: exercises clearing too
  const subs: Sub[] = [];
  for (let id = 0; id < 300; id++) {
    const len = 1 + Math.floor(random() * 4);
    const tokens: string[] = [];
    for (let i = 0; i < len; i++) {
      const t = pick(patternTokens);
      tokens.push(t === ">" && i !== len - 1 ? "*" : t);
    }
    const sub: Sub = { id, pattern: tokens.join("."), queue: random() < 0.2 ? pick(["q1", "q2"]) : undefined };
    subs.push(sub);
    index.add(sub.pattern, sub);
  }
  const subjects: string[] = [];
  for (let i = 0; i < 400; i++) {
    const len = 1 + Math.floor(random() * 5);
    subjects.push(Array.from({ length: len }, () => pick(subjectTokens)).join("."));
  }
  const check = (live: readonly Sub[], round: string): void => {
    for (const subject of subjects) {
      const result = index.match(subject);
      const got = [...result.plain, ...result.groups.flat()].map((s) => s.id).sort((x, y) => x - y);
      const want = live.filter((s) => subjectMatches(s.pattern, subject)).map((s) => s.id);
      assert.equal(got, want, `${round}: subject ${subject}`);
      const groups = result.groups.map((g) => {
        const names = new Set(g.map((s) => s.queue));
        assert.is(names.size, 1, "a group holds members of one queue only");
        return [...names][0];
      });
      assert.is(new Set(groups).size, groups.length, "one entry per queue group");
      assert.ok(result.plain.every((s) => s.queue === undefined));
      assert.is(result.size, result.plain.length + result.groups.length);
    }
  };
  check(subs, "initial");
  check(subs, "cached");
  const removed = subs.filter((_, i) => i % 2 === 0);
  for (const sub of removed) assert.ok(index.remove(sub.pattern, sub), `remove ${sub.pattern}`);
  assert.not.ok(index.remove(removed[0].pattern, removed[0]), "removing twice finds nothing");
  check(
    subs.filter((_, i) => i % 2 === 1),
    "after removals",
  );
});

test("subject-match - the same subscriber under two patterns is removed one registration at a time", () => {
  const index = new SubjectIndex<Sub>();
  const sub: Sub = { id: 1, pattern: "x", queue: undefined };
  index.add("a.*", sub);
  index.add("a.b", sub);
  assert.is(index.match("a.b").plain.length, 2);
  index.remove("a.*", sub);
  assert.is(index.match("a.b").plain.length, 1);
  assert.is(index.match("a.c").size, 0);
  index.remove("a.b", sub);
  assert.is(index.match("a.b").size, 0);
});

test.run();
