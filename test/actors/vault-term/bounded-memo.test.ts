/** The bounded memo behind the address checksums and term ids of the vault-term parser. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BoundedMemo } from "../../../actors/vault-term/bounded-memo.ts";
import { checksumAddress, checksumMemoSize, CHECKSUM_MEMO_LIMIT } from "../../../actors/vault-term/normalize.ts";

test("bounded memo - keeps values until full, then starts again empty; never holds more than its limit", () => {
  const memo = new BoundedMemo<number>(3);
  memo.set("a", 1);
  memo.set("b", 2);
  memo.set("a", 10);
  assert.is(memo.size, 2);
  assert.is(memo.get("a"), 10);
  memo.set("c", 3);
  assert.is(memo.size, 3);
  memo.set("d", 4);
  assert.is(memo.size, 1, "cleared when full, then the new value kept");
  assert.is(memo.get("a"), undefined);
  assert.is(memo.get("d"), 4);
  for (let i = 0; i < 100; i++) {
    memo.set(`k${i}`, i);
    assert.ok(memo.size <= 3);
  }
  assert.throws(() => new BoundedMemo(0), /positive integer/);
});

test("bounded memo - a memoised checksum is the checksum, whatever the spelling and however often asked", () => {
  const account = "0x742d35cc6634c0532925a3b844bc454e4438f44e";
  const expected = "0x742d35Cc6634C0532925a3b844Bc454e4438f44e";
  for (let i = 0; i < 3; i++) {
    assert.is(checksumAddress(account), expected);
    assert.is(checksumAddress(account.toUpperCase().replace("0X", "0x")), expected);
    assert.is(checksumAddress(account.slice(2)), expected);
    assert.is(checksumAddress("0X" + account.slice(2)), expected);
  }
  // A refused address is never memoised: it is refused every time.
  for (let i = 0; i < 2; i++) assert.throws(() => checksumAddress("0x742d35cc6634c0532925a3b844bc454e4438f44g"), /40 hex digits/);
  assert.ok(checksumMemoSize() >= 1 && checksumMemoSize() <= CHECKSUM_MEMO_LIMIT);
});

test.run();
