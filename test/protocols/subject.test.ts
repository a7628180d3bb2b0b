import { test } from "uvu";
import * as assert from "uvu/assert";
import { deadLetterSubject, entitySubject, kindWildcard, parseSubject, partitionWildcard } from "../../protocols/subject.ts";

test("subject - strata.<kind>.<partition>.<entityId>.<verb> with an encoded entity id", () => {
  const s = entitySubject("worker-partition", "transcode|eu-central", "cmd.pay");
  assert.is(s, "strata.worker-partition.p10.transcode_7Ceu-central.cmd.pay");
  assert.equal(parseSubject(s, 16), { kind: "worker-partition", partition: 10, entityId: "transcode|eu-central", verb: "cmd.pay" });
});

test("subject - every verb form is accepted and bad kinds or verbs are refused", () => {
  for (const verb of ["notify", "state", "cmd.restart", "evt.term-updated", "evt.a.b"]) assert.ok(entitySubject("vault-term", "0xab", verb).endsWith("." + verb));
  assert.throws(() => entitySubject("Vault", "x", "notify"), /bad kind/);
  assert.throws(() => entitySubject("vault-term", "x", "shout"), /bad verb/);
  assert.throws(() => entitySubject("vault-term", "x", "cmd.a*b"), /bad verb/);
});

test("subject - a subject naming the wrong partition for its entity is refused", () => {
  const good = entitySubject("vault-term", "0xabc", "notify", 16);
  const parts = good.split(".");
  parts[2] = parts[2] === "p00" ? "p01" : "p00";
  assert.throws(() => parseSubject(parts.join("."), 16), /names partition/);
  assert.throws(() => parseSubject("strata.vault-term.p00", 16), /not a strata entity subject/);
});

test("subject - wildcards and the dead-letter subject", () => {
  assert.is(partitionWildcard("vault-term", 3), "strata.vault-term.p03.>");
  assert.is(kindWildcard("vault-term"), "strata.vault-term.>");
  assert.is(deadLetterSubject("vault-term"), "strata.dlq.vault-term");
});

test.run();
