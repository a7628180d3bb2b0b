import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { decodeEnvelope, encodeEnvelope, makeEnvelope } from "../../protocols/envelope.ts";
import { InputError, errorFromHeaders, errorToHeaders, isRetryable, RetryableError } from "../../protocols/errors.ts";
import { validate, ValidationError } from "../../protocols/validation.ts";

test("envelope - an origin message correlates to itself; a caused one carries causation and correlation", () => {
  const origin = makeEnvelope("vault-term", "notify", { n: 1 }, { now: 0 });
  assert.is(origin.causationId, null);
  assert.is(origin.correlationId, origin.id);
  assert.is(origin.timestamp, "1970-01-01T00:00:00.000Z");
  const next = makeEnvelope("vault-term", "evt.term-updated", {}, { cause: origin });
  assert.is(next.causationId, origin.id);
  assert.is(next.correlationId, origin.id);
  assert.is.not(next.id, origin.id);
  assert.equal(decodeEnvelope(encodeEnvelope(next)), next);
});

test("envelope - a bad envelope is an InputError naming each failing field", () => {
  const bad = { ...makeEnvelope("vault-term", "notify", {}), kind: "Vault Term", version: 0 };
  delete (bad as { correlationId?: string }).correlationId;
  try {
    decodeEnvelope(new TextEncoder().encode(JSON.stringify(bad)));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ValidationError);
    assert.is(isRetryable(err), false);
    const msg = (err as Error).message;
    assert.match(msg, /kind: expected a lower-case kind name/);
    assert.match(msg, /version:/);
    assert.match(msg, /correlationId:/);
  }
  assert.throws(() => decodeEnvelope(new TextEncoder().encode("{oops")), /not JSON/);
});

test("validation - nested field paths name array indexes", () => {
  const schema = z.object({ event_data: z.array(z.object({ log_index: z.string().regex(/^0x[0-9a-f]+$/, "expected 0x-hex") })) });
  assert.throws(() => validate(schema, { event_data: [{ log_index: "0x1" }, { log_index: "zz" }] }, "Deposited"), /Deposited: event_data\[1\]\.log_index: expected 0x-hex/);
});

test("errors - retryable class survives the wire form", () => {
  const input = errorFromHeaders(errorToHeaders(new InputError("bad fee", { code: "negative_fee" })));
  assert.instance(input, InputError);
  assert.is(input?.code, "negative_fee");
  assert.is(input?.message, "bad fee");
  const retry = errorFromHeaders(errorToHeaders(new RetryableError("db down")));
  assert.is(retry?.retryable, true);
  assert.is(isRetryable(new Error("unknown")), true);
  assert.is(errorFromHeaders({}), undefined);
});

test.run();
