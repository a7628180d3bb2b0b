/**
 * config/redact.ts: service URLs as people see them, and the literal scrub of known secret values.
 * Regression: API keys in an RPC URL's path or query and a NATS token as userinfo were printed
 * in `strata config`, in log lines and in `/health` detail (maskUrlPassword covered `user:pass@` only).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { literalScrubber, maskServiceUrl, maskUrlPassword } from "../../config/redact.ts";

test("mask service url - a key in the path or the query is masked, scheme://host:port kept", () => {
  assert.is(maskServiceUrl("https://eth-mainnet.g.alchemy.com/v2/SECRETKEY123"), "https://eth-mainnet.g.alchemy.com/***");
  assert.is(maskServiceUrl("https://rpc.example:8545/?apikey=SECRETKEY123"), "https://rpc.example:8545?***");
  assert.is(maskServiceUrl("wss://rpc.example/ws/v3/KEY?x=1#frag"), "wss://rpc.example/***?***#***");
  assert.is(maskServiceUrl("http://[::1]:8545/KEY"), "http://[::1]:8545/***");
});

test("mask service url - userinfo is masked whole: user:pass and a bare token alike", () => {
  assert.is(maskServiceUrl("nats://TOKEN123@127.0.0.1:4222"), "nats://***@127.0.0.1:4222");
  assert.is(maskServiceUrl("postgres://app:pw@db:5432/strata?sslmode=require"), "postgres://***@db:5432/strata?***");
  assert.is(maskServiceUrl("redis://:pw@cache:6379/0"), "redis://***@cache:6379/0");
});

test("mask service url - a database URL keeps its database name (it names, never authenticates); other paths do not", () => {
  assert.is(maskServiceUrl("postgresql://127.0.0.1:5432/strata_test_1"), "postgresql://127.0.0.1:5432/strata_test_1");
  assert.is(maskServiceUrl("rediss://cache:6380/2"), "rediss://cache:6380/2");
  assert.is(maskServiceUrl("https://rpc.example/strata"), "https://rpc.example/***");
});

test("mask service url - nothing to hide: the URL as scheme://host:port", () => {
  assert.is(maskServiceUrl("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  assert.is(maskServiceUrl("http://minio:9000/"), "http://minio:9000");
  assert.is(maskServiceUrl("  https://rpc.example  "), "https://rpc.example");
});

test("mask service url - text that is not a URL is masked by the same rule", () => {
  assert.is(maskServiceUrl("rpc.example/v2/SECRETKEY123"), "rpc.example/***");
  assert.is(maskServiceUrl("TOKEN123@nats:4222"), "***@nats:4222");
  assert.is(maskServiceUrl("nats:TOKEN123"), "nats:***");
  assert.is(maskServiceUrl("http://exa mple/KEY"), "http://exa mple/***");
  for (const raw of ["rpc.example/v2/SECRETKEY123", "TOKEN123@nats:4222", "nats:TOKEN123", "http://exa mple/SECRETKEY123"]) {
    assert.not.match(maskServiceUrl(raw), /SECRETKEY123|TOKEN123/, raw);
  }
});

test("mask url password - a bare token as userinfo in free text is masked too", () => {
  assert.is(maskUrlPassword("connect to nats://TOKEN123@127.0.0.1:4222 failed"), "connect to nats://[Redacted]@127.0.0.1:4222 failed");
  assert.is(maskUrlPassword("see https://github.com/a@b and mailto:x@y"), "see https://github.com/a@b and mailto:x@y");
  // A URL already masked for people passes the log text pass unchanged.
  for (const url of ["nats://TOKEN123@127.0.0.1:4222", "postgres://app:pw@db:5432/strata?sslmode=require"]) {
    assert.is(maskUrlPassword(maskServiceUrl(url)), maskServiceUrl(url));
  }
});

test("literal scrubber - every occurrence, as written and JSON-escaped, longest value first", () => {
  const scrub = literalScrubber([
    { value: "tok-123", shownAs: "[Redacted]" },
    { value: "https://rpc.example/v2/tok-123", shownAs: "https://rpc.example/***" },
    { value: 'pa"ss\\word', shownAs: "[Redacted]" },
  ]);
  assert.is(scrub("a tok-123 b tok-123"), "a [Redacted] b [Redacted]");
  assert.is(scrub("rpc https://rpc.example/v2/tok-123 down"), "rpc https://rpc.example/*** down");
  const line = JSON.stringify({ msg: 'login pa"ss\\word' });
  assert.is(scrub(line), JSON.stringify({ msg: "login [Redacted]" }));
  assert.is(scrub("nothing here"), "nothing here");
});

test("literal scrubber - values shorter than 4 characters are left alone (they would eat ordinary words)", () => {
  const scrub = literalScrubber([{ value: "ab", shownAs: "[Redacted]" }, { value: "", shownAs: "[Redacted]" }]);
  assert.is(scrub("abc ab"), "abc ab");
});

test.run();
