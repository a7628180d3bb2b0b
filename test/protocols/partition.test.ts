import { test } from "uvu";
import * as assert from "uvu/assert";
import { fnv1a32, parsePartitionToken, partitionOf, partitionToken } from "../../protocols/partition.ts";

test("partition - FNV-1a 32-bit matches the published test vectors", () => {
  assert.is(fnv1a32(""), 0x811c9dc5);
  assert.is(fnv1a32("a"), 0xe40c292c);
  assert.is(fnv1a32("foobar"), 0xbf9cf968);
});

test("partition - non-ASCII text hashes its UTF-8 bytes, as the byte-wise definition does", () => {
  const byBytes = (text: string) => {
    let h = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    return h >>> 0;
  };
  for (const text of ["é", "ab€cd", "0xabc\u00ff", "😀 term", "x".repeat(70) + "ü"]) assert.is(fnv1a32(text), byBytes(text), text);
  assert.is(fnv1a32("0x" + "ab".repeat(32)), byBytes("0x" + "ab".repeat(32)));
});

test("partition - the documented vector is stable", () => {
  assert.is(partitionOf("transcode|eu-central", 16), 10);
  assert.is(partitionOf("transcode|eu-central"), 10);
});

test("partition - the bucket count is configurable and every bucket stays in range", () => {
  for (const p of [1, 3, 16, 100, 1000]) {
    for (let i = 0; i < 200; i++) {
      const b = partitionOf(`entity-${i}`, p);
      assert.ok(Number.isInteger(b) && b >= 0 && b < p);
    }
  }
  assert.throws(() => partitionOf("x", 0), /positive integer/);
});

test("partition - ids spread over the buckets", () => {
  const counts = new Array(16).fill(0);
  for (let i = 0; i < 16_000; i++) counts[partitionOf("0x" + i.toString(16).padStart(64, "0"), 16)]++;
  for (const c of counts) assert.ok(c > 700 && c < 1300, `bucket count ${c}`);
});

test("partition - tokens are zero-padded to the width of P-1 and parse back", () => {
  assert.is(partitionToken(3, 16), "p03");
  assert.is(partitionToken(7, 1000), "p007");
  assert.is(parsePartitionToken("p15"), 15);
  assert.throws(() => parsePartitionToken("x15"), /not a partition token/);
});

test.run();
