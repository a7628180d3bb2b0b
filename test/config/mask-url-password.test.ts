/** config/redact.ts maskUrlPassword (re-exported by config/fields.ts): secrets in URLs (userinfo and query parameters) never reach a log line. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { maskUrlPassword } from "../../config/fields.ts";

test("mask url password - the userinfo password is masked, the user and host kept", () => {
  assert.is(maskUrlPassword("postgres://app:s3cret@db.local:5432/strata"), "postgres://app:[Redacted]@db.local:5432/strata");
  assert.is(maskUrlPassword("no url here"), "no url here");
});

test("mask url password - regression: password=, passwd= and token= query parameters are masked", () => {
  assert.is(
    maskUrlPassword("postgres://db.local/strata?user=app&password=s3cret&sslmode=require"),
    "postgres://db.local/strata?user=app&password=[Redacted]&sslmode=require",
  );
  assert.is(maskUrlPassword("redis://cache:6379/0?passwd=hunter2"), "redis://cache:6379/0?passwd=[Redacted]");
  assert.is(maskUrlPassword("nats://n1:4222?token=abc.def-123"), "nats://n1:4222?token=[Redacted]");
  assert.is(maskUrlPassword("https://api.example/x?access_token=t0k&q=1#frag"), "https://api.example/x?access_token=[Redacted]&q=1#frag");
  assert.is(maskUrlPassword("https://h/?PASSWORD=Upper&Token=T"), "https://h/?PASSWORD=[Redacted]&Token=[Redacted]");
});

test("mask url password - both forms in one string, and libpq key=value text", () => {
  const out = maskUrlPassword("connect failed: postgres://u:p4ss@h/db?password=other (host=h password=third)");
  assert.not.match(out, /p4ss|other|third/);
  assert.is(out, "connect failed: postgres://u:[Redacted]@h/db?password=[Redacted] (host=h password=[Redacted])");
});

test("mask url password - parameters that only look alike are kept", () => {
  assert.is(maskUrlPassword("https://h/?user=bob&passwordless=1&tokens_used=3"), "https://h/?user=bob&passwordless=1&tokens_used=3");
});

test.run();
