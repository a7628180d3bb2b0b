/** The bounded FIFO mailbox. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Mailbox } from "../../supervisors/mailbox.ts";

test("mailbox - first in, first out across growth and wrap-around", () => {
  const box = new Mailbox<number>(1000);
  const out: number[] = [];
  for (let i = 0; i < 10; i++) box.push(i);
  for (let i = 0; i < 5; i++) out.push(box.shift() as number);
  for (let i = 10; i < 100; i++) box.push(i);
  assert.is(box.size, 95);
  assert.is(box.peek(), 5);
  while (box.size > 0) out.push(box.shift() as number);
  assert.equal(out, Array.from({ length: 100 }, (_, i) => i));
  assert.is(box.shift(), undefined);
});

test("mailbox - refuses past capacity unless forced", () => {
  const box = new Mailbox<string>(2);
  assert.ok(box.push("a"));
  assert.ok(box.push("b"));
  assert.ok(box.full);
  assert.is(box.push("c"), false);
  assert.is(box.size, 2);
  assert.ok(box.push("d", true));
  assert.equal(box.drain(), ["a", "b", "d"]);
  assert.is(box.size, 0);
});

test("mailbox - capacity must be a positive integer", () => {
  assert.throws(() => new Mailbox(0), /capacity/);
});

test.run();
