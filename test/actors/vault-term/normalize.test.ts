// vault-term normalisation: every vector of the domain file (C4 unit tests, decision 5) and the
// rindexer entry format (payload fields, arrays split into `{redisId}-{index}`, field paths in errors).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { InputError } from "../../../protocols/errors.ts";
import {
  COUNTER_SALT,
  checksumAddress,
  counterTermId,
  ensureHexPrefix,
  parseHexTimestamp,
  parseLogIndex,
} from "../../../actors/vault-term/normalize.ts";
import { marketCap } from "../../../actors/vault-term/market-cap.ts";
import { parseRedisEntry } from "../../../actors/vault-term/rindexer-entry.ts";
import { ACCOUNT, ACCOUNT_EIP55, atom, bytes32, deposit, message, txInfo } from "./event-builder.ts";

const isInputError = (e: unknown) => e instanceof InputError;

test("log_index - 0x-prefixed strings are hex", () => {
  assert.is(parseLogIndex("0x1b778a2"), 28801186);
  assert.is(parseLogIndex("0xd6"), 214);
  assert.is(parseLogIndex("0x10"), 16);
});

test("log_index - plain digits are decimal (decision 5: the earlier system read '10' as 16)", () => {
  assert.is(parseLogIndex("10"), 10);
  assert.is(parseLogIndex("33"), 33);
  assert.is(parseLogIndex("0"), 0);
});

test("log_index - anything else is bad input", () => {
  for (const bad of ["d6", "", "0x", "-1", "1.5", "0xzz", " 1"]) {
    assert.throws(() => parseLogIndex(bad), (e: unknown) => e instanceof InputError && /log_index/.test((e as Error).message), bad);
  }
});

test("block_timestamp - hex seconds", () => {
  assert.is(parseHexTimestamp("0x61d23100"), 1641165056);
  assert.is(parseHexTimestamp("0x68b18674"), 1756464756);
  assert.is(new Date(parseHexTimestamp("0x68b18674") * 1000).toISOString(), "2025-08-29T10:52:36.000Z");
  assert.throws(() => parseHexTimestamp("1641165056"), isInputError);
});

test("ensureHexPrefix - adds 0x, keeps an existing prefix as received", () => {
  assert.is(ensureHexPrefix(""), "0x");
  assert.is(ensureHexPrefix("0X1234"), "0X1234");
  assert.is(ensureHexPrefix("0x1234"), "0x1234");
  assert.is(ensureHexPrefix("abcd"), "0xabcd");
});

test("addresses - EIP-55 checksum, 40 hex digits or an error", () => {
  assert.is(checksumAddress("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  assert.is(checksumAddress("fb6916095ca1df60bb79ce92ce3ea74c37c5d359"), "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
  assert.is(checksumAddress(ACCOUNT), ACCOUNT_EIP55);
  assert.throws(() => checksumAddress("0x1234"), isInputError);
  assert.throws(() => checksumAddress("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00"), isInputError);
  assert.throws(() => checksumAddress("zzaeb6053f3e94c9b9a09f33669435e7ef1beaed"), isInputError);
});

test("counter term id - keccak with the counter salt matches the reference vectors", () => {
  assert.is(COUNTER_SALT, "0xe7cbc1eb0e9b3f8688b0bc91a8278f7d2867f14f2a10dc3f0d9fcfdc32dada12");
  assert.is(counterTermId(bytes32(1)), "0x0b86efbf634ba3d302c173167c9f6a87498dfda2184b85ca5f3edb71245d75e5");
  assert.is(counterTermId(bytes32(2)), "0x6ebeb7e07fa74059c487acec5d5f9770d4f8874c6c8045822445a518e533d83f");
  assert.is(counterTermId(bytes32(0x10)), "0xddcbc2d49c0bc83574ed18fb962154a4772b19d8f40ab3c059a461a435255243");
  assert.is(counterTermId(bytes32(1)).length, 66);
  assert.is(counterTermId(bytes32(1)), counterTermId(bytes32(1)));
});

test("market cap - rounded half away from zero (decision 3)", () => {
  assert.is(marketCap(3n, 5n * 10n ** 17n), 2n);
  assert.is(marketCap(10n ** 18n, 2n * 10n ** 18n), 2n * 10n ** 18n);
  assert.is(marketCap(1n, 4n * 10n ** 17n), 0n);
  assert.is(marketCap(10n ** 60n, 10n ** 60n), null);
});

const entry = (msg: unknown, field = "event_data") => [field, JSON.stringify(msg)];

test("entry - event_data, data and payload fields are all read", () => {
  for (const field of ["event_data", "data", "payload"]) {
    const [m] = parseRedisEntry("1-0", entry(deposit({ term: bytes32(1), amount: 5, total: 5 }), field));
    assert.ok(m.ok, field);
    if (m.ok) assert.is(m.id, "1-0");
  }
});

test("entry - an array yields one message per element with id {redisId}-{index}", () => {
  const a = deposit({ term: bytes32(1), amount: 5, total: 5 }).event_data;
  const b = deposit({ term: bytes32(2), amount: 7, total: 7 }).event_data;
  const parsed = parseRedisEntry("1700-3", entry(message("Deposited", [a, b])));
  assert.equal(parsed.map((m) => m.id), ["1700-3-0", "1700-3-1"]);
  assert.ok(parsed.every((m) => m.ok));
  const terms = parsed.map((m) => (m.ok && m.event.type === "Deposited" ? m.event.termId : null));
  assert.equal(terms, [bytes32(1), bytes32(2)]);
});

test("entry - a bad element is rejected alone, naming the field path", () => {
  const good = deposit({ term: bytes32(1), amount: 5, total: 5 }).event_data;
  const bad = { ...(deposit({ term: bytes32(1), amount: 5, total: 5 }).event_data as Record<string, unknown>), transaction_information: txInfo({ log: "d6" }) };
  const parsed = parseRedisEntry("9-0", entry(message("Deposited", [good, bad])));
  assert.ok(parsed[0].ok);
  assert.not.ok(parsed[1].ok);
  if (!parsed[1].ok) {
    assert.is(parsed[1].id, "9-0-1");
    assert.match(parsed[1].error.message, "transaction_information.log_index");
    assert.match(parsed[1].error.message, "expected 0x-hex or decimal digits");
  }
});

test("entry - normalises ids, addresses, timestamps, and keeps curveId as received", () => {
  const raw = deposit({ term: bytes32(1).slice(2), amount: 5, total: 5, curve: "2", block: 8092570, log: "0x1f" });
  const [m] = parseRedisEntry("1-0", entry(raw));
  assert.ok(m.ok);
  if (m.ok && m.event.type === "Deposited") {
    assert.is(m.event.termId, bytes32(1));
    assert.is(m.event.receiver, ACCOUNT_EIP55);
    assert.is(m.event.curveId, "2");
    assert.is(m.event.tx.logIndex, 31);
    assert.is(m.event.tx.blockNumber, 8092570);
    assert.is(m.event.tx.blockTimestamp, 1_700_000_000 + 8092570 * 12);
  }
});

test("entry - atomData hex is decoded to text, non-text kept as raw bytes only", () => {
  const [m] = parseRedisEntry("1-0", entry(atom({ term: bytes32(5), data: "ipfs://bafy" })));
  assert.ok(m.ok);
  if (m.ok && m.event.type === "AtomCreated") {
    assert.is(m.event.atomData, "ipfs://bafy");
    assert.is(m.event.rawData, "697066733a2f2f62616679");
  }
  const bin = atom({ term: bytes32(6) });
  (bin.event_data as { atomData: string }).atomData = "ff00fe";
  const [n] = parseRedisEntry("1-1", entry(bin));
  assert.ok(n.ok);
  if (n.ok && n.event.type === "AtomCreated") {
    assert.is(n.event.atomData, null);
    assert.is(n.event.rawData, "ff00fe");
  }
});

test("entry - TripleCreated carries its counter term id", () => {
  const [m] = parseRedisEntry("1-0", entry(message("TripleCreated", {
    creator: ACCOUNT, termId: bytes32(0x10), subjectId: bytes32(1), predicateId: bytes32(2), objectId: bytes32(3), transaction_information: txInfo(),
  })));
  assert.ok(m.ok);
  if (m.ok && m.event.type === "TripleCreated") assert.is(m.event.counterTermId, "0xddcbc2d49c0bc83574ed18fb962154a4772b19d8f40ab3c059a461a435255243");
});

test("entry - unknown event names become generic events", () => {
  const [m] = parseRedisEntry("1-0", entry(message("FeesTransferred", { amount: "12", transaction_information: txInfo() })));
  assert.ok(m.ok);
  if (m.ok) {
    assert.is(m.event.type, "Generic");
    if (m.event.type === "Generic") assert.is(m.event.eventName, "FeesTransferred");
  }
});

test("entry - no payload field, bad JSON, bad address and missing fields are input errors", () => {
  const cases: [string, string[]][] = [
    ["no event_data, data or payload", ["other", "x"]],
    ["not valid JSON", ["event_data", "{nope"]],
  ];
  for (const [expect, fields] of cases) {
    const [m] = parseRedisEntry("1-0", fields);
    assert.not.ok(m.ok);
    if (!m.ok) assert.match(m.error.message, expect);
  }
  const badAddr = deposit({ term: bytes32(1), amount: 1, total: 1, receiver: "0x1234" });
  const [a] = parseRedisEntry("2-0", entry(badAddr));
  assert.not.ok(a.ok);
  if (!a.ok) assert.match(a.error.message, "receiver: address: expected 40 hex digits");
  const missing = deposit({ term: bytes32(1), amount: 1, total: 1 });
  delete (missing.event_data as Record<string, unknown>).totalShares;
  const [b] = parseRedisEntry("3-0", entry(missing));
  assert.not.ok(b.ok);
  if (!b.ok) assert.match(b.error.message, "totalShares");
});

test.run();
