/** isDependencyUnavailable: which errors are an outage (backed off without failing the actor) and which are not. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { InputError, RetryableError, isDependencyUnavailable } from "../../protocols/errors.ts";
import { freePort } from "../support/services.ts";

const withCode = (code: string, message = "x") => Object.assign(new Error(message), { code });

test("dependency unavailable - network codes, PostgreSQL's connection and shutdown states, pg's connection messages, through cause and AggregateError", () => {
  for (const code of ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "08006", "08001", "08P01", "57P01", "57P02", "57P03", "53300"]) {
    assert.ok(isDependencyUnavailable(withCode(code)), code);
  }
  assert.ok(isDependencyUnavailable(new Error("Connection terminated unexpectedly")));
  assert.ok(isDependencyUnavailable(new Error("timeout exceeded when trying to connect")));
  assert.ok(isDependencyUnavailable(new RetryableError("journal read failed", { cause: withCode("ECONNRESET") })));
  assert.ok(isDependencyUnavailable(new AggregateError([withCode("ECONNREFUSED"), withCode("ECONNREFUSED")], "connect failed")));
});

test("dependency unavailable - bad input, constraint and data errors, a bug, a plain retryable error are not an outage", () => {
  for (const err of [new InputError("bad"), withCode("23505"), withCode("22003"), withCode("42P01"), new TypeError("x is undefined"), new RetryableError("flaky"), null, "ECONNREFUSED", 42]) {
    assert.not.ok(isDependencyUnavailable(err), String(err));
  }
});

test("dependency unavailable - a real refused connection (pg to a port nothing listens on)", async () => {
  const client = new pg.Client({ host: "127.0.0.1", port: await freePort(), user: "strata", database: "none", connectionTimeoutMillis: 5_000 });
  const err = await client.connect().then(() => null, (e: unknown) => e);
  assert.ok(err, "the connection was refused");
  assert.ok(isDependencyUnavailable(err));
});

test.run();
