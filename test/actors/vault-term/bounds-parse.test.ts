// Bounds at parse time (stop 11): every uint256 field is 0 … 2^256 − 1, block timestamps are
// 0 … MAX_BLOCK_TIMESTAMP (hex or number), and no stored text field holds U+0000 or a lone
// surrogate. Out of range is an InputError naming the field, through the fast path (which
// declines) and through the schemas alike; the limits themselves are accepted by both.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { normalizeEvent, normalizeEventWithSchemas } from "../../../actors/vault-term/events.ts";
import { normalizeCommonEvent } from "../../../actors/vault-term/events-fast-path.ts";
import { MAX_BLOCK_TIMESTAMP, UINT256_MAX, isUint256 } from "../../../actors/vault-term/normalize.ts";
import { textProblem as storableTextProblem } from "../../../db/sql.ts";
import { parseRindexerMessage } from "../../../actors/vault-term/rindexer-entry.ts";
import { bytes32, deposit, message, price, redeem, txInfo } from "./event-builder.ts";

type Data = Record<string, unknown> & { transaction_information: Record<string, unknown> };
const dataOf = (m: unknown) => structuredClone((m as { event_data: Data }).event_data);

const AMOUNT_FIELDS: Record<string, string[]> = {
  Deposited: ["assets", "assetsAfterFees", "shares", "totalShares"],
  Redeemed: ["shares", "totalShares", "assets", "fees"],
  SharePriceChanged: ["sharePrice", "totalAssets", "totalShares"],
};
const SAMPLES: Record<string, () => Data> = {
  Deposited: () => dataOf(deposit({ term: bytes32(1), amount: 5, total: 5 })),
  Redeemed: () => dataOf(redeem({ term: bytes32(1), amount: 5, total: 0 })),
  SharePriceChanged: () => dataOf(price({ term: bytes32(1), sharePrice: 10n ** 18n })),
};

/** Both ways refuse, naming the field; the fast path declines. */
function refused(name: string, data: unknown, field: RegExp) {
  assert.is(normalizeCommonEvent(name, data), null, "the fast path declines");
  assert.throws(() => normalizeEventWithSchemas(name, data), field);
  assert.throws(() => normalizeEvent(name, data), field);
}

test("bounds - uint256 amounts above 2^256 − 1 (79 digits, 2^256) are refused naming the field; 2^256 − 1 is accepted", () => {
  const too = ["1" + "0".repeat(78), (UINT256_MAX + 1n).toString(), "0".repeat(5) + (UINT256_MAX + 1n).toString()];
  for (const [name, fields] of Object.entries(AMOUNT_FIELDS)) {
    for (const field of fields) {
      for (const v of too) {
        const data = SAMPLES[name]();
        data[field] = v;
        refused(name, data, new RegExp(`${field}: exceeds the uint256 maximum 2\\^256 − 1`));
      }
      const data = SAMPLES[name]();
      data[field] = UINT256_MAX.toString();
      const e = normalizeEvent(name, data) as unknown as Record<string, unknown>;
      assert.is(e[field], UINT256_MAX.toString());
      assert.equal(normalizeCommonEvent(name, data), normalizeEventWithSchemas(name, data));
    }
  }
  assert.ok(isUint256("0".repeat(200) + "1"), "leading zeros do not count");
  assert.not.ok(isUint256((UINT256_MAX + 1n).toString()));
});

test("bounds - a block timestamp beyond 9999-12-31 (hex or number) is refused naming the field; the limit is accepted", () => {
  for (const ts of ["0xffffffffffff", "0x" + (MAX_BLOCK_TIMESTAMP + 1).toString(16), MAX_BLOCK_TIMESTAMP + 1, 9_224_318_016_000]) {
    const data = SAMPLES.Deposited();
    data.transaction_information.block_timestamp = ts;
    refused("Deposited", data, /transaction_information\.block_timestamp: .*outside 0 … 253402300799 seconds/);
  }
  for (const ts of ["0x" + MAX_BLOCK_TIMESTAMP.toString(16), MAX_BLOCK_TIMESTAMP]) {
    const data = SAMPLES.Deposited();
    data.transaction_information.block_timestamp = ts;
    assert.is((normalizeEvent("Deposited", data) as { tx: { blockTimestamp: number } }).tx.blockTimestamp, MAX_BLOCK_TIMESTAMP);
    assert.equal(normalizeCommonEvent("Deposited", data), normalizeEventWithSchemas("Deposited", data));
  }
});

test("bounds - U+0000 or a lone surrogate in any stored text field is refused naming the field", () => {
  const bad = ["0xab\u0000cd", "\u0000", "0xab\ud800", "\udc00", "x\udc00\ud800"];
  for (const v of bad) {
    for (const field of ["address", "block_hash", "network", "transaction_hash"]) {
      const data = SAMPLES.Deposited();
      data.transaction_information[field] = v;
      refused("Deposited", data, new RegExp(`transaction_information\\.${field}: contains (U\\+0000|a lone UTF-16 surrogate)`));
    }
    for (const name of ["Deposited", "Redeemed", "SharePriceChanged"]) {
      const data = SAMPLES[name]();
      data.curveId = v;
      refused(name, data, /curveId: contains (U\+0000|a lone UTF-16 surrogate)/);
    }
  }
  // A well-formed pair (an emoji) is fine.
  const ok = SAMPLES.Deposited();
  ok.transaction_information.network = "net-\ud83d\ude00";
  assert.is((normalizeEvent("Deposited", ok) as { tx: { network: string } }).tx.network, "net-\ud83d\ude00");
  assert.is(storableTextProblem("a\ud83d\ude00b"), null);
});

test("bounds - a generic event with U+0000 or a lone surrogate in its name or its data (JSONB) is refused", () => {
  const tx = txInfo();
  assert.throws(() => normalizeEvent("Other", { transaction_information: tx, note: "a\u0000b" }), /event_data contains U\+0000/);
  assert.throws(() => normalizeEvent("Other", { transaction_information: tx, ["k\ud800"]: 1 }), /event_data contains a lone UTF-16 surrogate/);
  assert.throws(() => normalizeEvent("Oth\u0000er", { transaction_information: tx }), /event_name contains U\+0000/);
  assert.is(normalizeEvent("Other", { transaction_information: tx, note: "fine \ud83d\ude00" }).type, "Generic");
  // Through the rindexer parser: a dead letter for that element, the other element goes on.
  const [bad, good] = parseRindexerMessage("7-0", message("Other", [{ transaction_information: tx, note: "\u0000" }, { transaction_information: txInfo(), note: "ok" }]));
  assert.is(bad.ok, false);
  assert.match(!bad.ok ? bad.error.message : "", /7-0-0.*event_data contains U\+0000/);
  assert.is(good.ok, true);
});

test.run();
