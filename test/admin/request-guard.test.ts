/** admin/request-guard.ts: which requests a browser page could forge are refused, and why (pure). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isJsonContentType, isLoopbackHostHeader, parseHostHeader, refuseByHost, refuseMutating } from "../../admin/request-guard.ts";
import type { AdminGuardPolicy, GuardedRequest } from "../../admin/request-guard.ts";

const open: AdminGuardPolicy = { tokenConfigured: false, loopbackBound: true, port: 8080 };
const curl: GuardedRequest = { host: "127.0.0.1:8080", origin: undefined, contentType: "application/json", tokenGiven: false };

test("request guard - Host header: loopback name or address with the server's port only", () => {
  assert.equal(parseHostHeader("[::1]:8080"), { name: "[::1]", port: 8080 });
  assert.equal(parseHostHeader("localhost"), { name: "localhost", port: undefined });
  assert.is(parseHostHeader("a b:80"), undefined);
  assert.is(parseHostHeader("h:99999"), undefined);
  for (const h of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2:8080"]) assert.ok(isLoopbackHostHeader(h, 8080), h);
  for (const h of ["127.0.0.1:8081", "evil.example:8080", "localhost", "::1:8080", "127.0.0.1.nip.io:8080", "localhost.evil.example:8080", ""]) {
    assert.not.ok(isLoopbackHostHeader(h, 8080), h);
  }
  assert.ok(isLoopbackHostHeader("localhost", 80), "no port means 80");
});

test("request guard - content type: application/json with any parameters, nothing else", () => {
  for (const t of ["application/json", "Application/JSON; charset=utf-8"]) assert.ok(isJsonContentType(t), t);
  for (const t of [undefined, "", "text/plain", "application/jsonx", "application/x-www-form-urlencoded", "text/plain; application/json"]) assert.not.ok(isJsonContentType(t), String(t));
});

test("request guard - without a token: foreign Host 403, Origin 403, not JSON 415, curl-like passes", () => {
  assert.is(refuseByHost(open, curl), undefined);
  assert.is(refuseMutating(open, curl), undefined);
  assert.is(refuseByHost(open, { ...curl, host: "evil.example:8080" })?.status, 403);
  assert.is(refuseByHost(open, { ...curl, host: undefined })?.status, 400);
  assert.is(refuseMutating(open, { ...curl, origin: "https://evil.example" })?.status, 403);
  assert.is(refuseMutating(open, { ...curl, contentType: "text/plain" })?.status, 415);
  assert.is(refuseMutating(open, { ...curl, contentType: undefined })?.error, "a mutating request without ADMIN_TOKEN needs content-type: application/json (got none)");
});

test("request guard - with a token: the bearer decides; Host checked only on a loopback bind and waived by the token", () => {
  const loopbackToken: AdminGuardPolicy = { tokenConfigured: true, loopbackBound: true, port: 8080 };
  const wideToken: AdminGuardPolicy = { tokenConfigured: true, loopbackBound: false, port: 8080 };
  const browser: GuardedRequest = { host: "evil.example:8080", origin: "https://evil.example", contentType: "text/plain", tokenGiven: false };
  assert.is(refuseByHost(loopbackToken, browser)?.status, 403);
  assert.is(refuseByHost(loopbackToken, { ...browser, tokenGiven: true }), undefined);
  assert.is(refuseByHost(wideToken, browser), undefined);
  const noToken = refuseMutating(wideToken, browser);
  assert.is(noToken?.status, 401);
  assert.equal(noToken?.headers, { "www-authenticate": 'Bearer realm="strata-admin"' });
  assert.is(refuseMutating(wideToken, { ...browser, tokenGiven: true }), undefined, "as before: Origin and content type do not matter with the token");
});

test.run();
