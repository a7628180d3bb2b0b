/** test/run.ts: counts uvu results per file, a crashing file counts as failed, exit code follows. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { uniqueName } from "./env.ts";
import { currentRuntime, runtimeCommand } from "./services.ts";

const repoRoot = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), "../..");
function runRunner(args: string[]) {
  const runtime = currentRuntime();
  const cmd = [...runtimeCommand(runtime, "test/run.ts"), `--runtime=${runtime}`, ...args];
  const res = spawnSync(cmd[0], cmd.slice(1), { cwd: repoRoot, encoding: "utf8", timeout: 120_000 });
  return { code: res.status, out: res.stdout + res.stderr, lastLine: res.stdout.trim().split("\n").at(-1) };
}

const uvuFile = (body: string) => `import { test } from "uvu";\nimport * as assert from "uvu/assert";\n${body}\ntest.run();\n`;

test("runner - sums uvu counts, counts a crashing file as failed, exits non-zero", () => {
  const dir = path.join(repoRoot, ".tmp", uniqueName("runner"));
  fs.mkdirSync(path.join(dir, "bench"), { recursive: true });
  fs.mkdirSync(path.join(dir, "nested"), { recursive: true });
  try {
    fs.writeFileSync(path.join(dir, "a.test.ts"), uvuFile(`test("a - one", () => assert.is(1, 1));\ntest("a - two", () => assert.ok(process.env.DATABASE_URL && process.env.REDIS_URL && process.env.NATS_URL));`).replace('import * as assert', 'import process from "node:process";\nimport * as assert'));
    fs.writeFileSync(path.join(dir, "nested", "b.test.ts"), uvuFile(`test("b - passes", () => assert.is(2, 2));\ntest("b - fails", () => assert.is(1, 2));`));
    fs.writeFileSync(path.join(dir, "nested", "c.test.ts"), `throw new Error("boom before any test");\n`);
    fs.writeFileSync(path.join(dir, "bench", "skip.test.ts"), `throw new Error("bench must not run");\n`);
    fs.writeFileSync(path.join(dir, "helper.ts"), `throw new Error("not a test file");\n`);

    const all = runRunner([`--root=${dir}`]);
    assert.is(all.lastLine, "3 passed, 2 failed", all.out);
    assert.is(all.code, 1);
    assert.match(all.out, "boom before any test");
    assert.not.match(all.out, "bench must not run");
    assert.match(all.out, /FAIL \.tmp\/runner_[a-z0-9_]+\/nested\/c\.test\.ts/);

    const filtered = runRunner([`--root=${dir}`, "a.test"]);
    assert.is(filtered.lastLine, "2 passed, 0 failed", filtered.out);
    assert.is(filtered.code, 0);

    const none = runRunner([`--root=${dir}`, "no-such-file"]);
    assert.is(none.code, 1);
    assert.is(none.lastLine, "0 passed, 1 failed");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
