import { test } from "uvu";
import * as assert from "uvu/assert";
import { decodeToken, encodeToken } from "../../protocols/token.ts";

const TOKEN = /^[A-Za-z0-9_-]+$/;

test("token - transcode|eu-central round-trips through a NATS-safe token", () => {
  const token = encodeToken("transcode|eu-central");
  assert.is(token, "transcode_7Ceu-central");
  assert.ok(TOKEN.test(token));
  assert.is(decodeToken(token), "transcode|eu-central");
});

test("token - a 66-character term id passes through unchanged and round-trips", () => {
  const termId = "0x" + "0123456789abcdef".repeat(4);
  assert.is(termId.length, 66);
  assert.is(encodeToken(termId), termId);
  assert.is(decodeToken(encodeToken(termId)), termId);
});

test("token - every byte value, dots, wildcards, spaces and non-BMP characters round-trip", () => {
  const samples = ["", "_", "a.b", "*", ">", "a b\tc", "tokyo|🚀", "ü-ß", "__5F", String.fromCharCode(...Array.from({ length: 128 }, (_, i) => i))];
  for (const id of samples) {
    const token = encodeToken(id);
    assert.ok(TOKEN.test(token), `token for ${JSON.stringify(id)} is ${token}`);
    assert.is(decodeToken(token), id);
  }
});

test("token - distinct ids give distinct tokens", () => {
  const ids = ["a_b", "a|b", "a.b", "a b", "a-b", "ab", "a__b", "a_5Fb"];
  const tokens = new Set(ids.map(encodeToken));
  assert.is(tokens.size, ids.length);
});

test("token - malformed and non-canonical tokens are refused with the reason", () => {
  assert.throws(() => decodeToken("a.b"), /not an encoded subject token/);
  assert.throws(() => decodeToken("a_7"), /bad escape/);
  assert.throws(() => decodeToken("a_zz"), /bad escape/);
  assert.throws(() => decodeToken("_41"), /non-canonical escape _41/);
  assert.throws(() => decodeToken("_FF"), /./); // not valid UTF-8
});

test.run();
