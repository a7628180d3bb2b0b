/**
 * `strata import vault-term` run again from another working directory (a relative path to the
 * same file): a malformed line keeps ONE dead letter, its source naming the absolute path
 * (`import:<absolute file>:<line>`); the printed summary still names the path as given. Before,
 * the source was the path as typed, so each way of naming the file added a row.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "../support/databases.ts";
import { importCommand, type ImportResult } from "../../cli/commands/import.ts";
import type { CliIo } from "../../cli/commands/command.ts";

const VAULT_SAMPLE = fileURLToPath(new URL("../../samples/vault-term/events.jsonl", import.meta.url));

async function runInProcess(args: { values?: Record<string, string | boolean | undefined>; positionals: string[] }, env: Record<string, string>) {
  const out: string[] = [];
  const io: CliIo = { env, out: (l) => out.push(l), err: () => {}, stopSignal: new Promise(() => {}) };
  const code = await importCommand.run({ values: args.values ?? {}, positionals: args.positionals }, io);
  return { code, out };
}

test("import - a malformed line imported again from another working directory keeps one dead letter", async () => {
  const fx = await createTestDatabase();
  // realpath: the temp folder may sit behind a symlink (macOS /var → /private/var).
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), "strata-import-again-")));
  const cwd = process.cwd();
  try {
    const lines = (await readFile(VAULT_SAMPLE, "utf8")).split("\n").filter((l) => l.trim() !== "").slice(0, 2);
    const file = path.join(dir, "events.jsonl");
    await writeFile(file, [lines[0], "{not json", lines[1], ""].join("\n"));
    const env = { DATABASE_URL: fx.url };
    const first = await runInProcess({ values: { json: true }, positionals: ["vault-term", file] }, env);
    assert.is(first.code, 0);
    const r = JSON.parse(first.out[0]) as ImportResult;
    assert.equal([r.path, r.units, r.fresh, r.deadLettered], [file, 3, 2, 1]);
    process.chdir(dir);
    let again: { code: number; out: string[] };
    try {
      again = await runInProcess({ positionals: ["vault-term", "events.jsonl"] }, env);
    } finally {
      process.chdir(cwd);
    }
    assert.is(again.code, 0);
    assert.is(again.out[0], "imported vault-term from events.jsonl: 3 lines, 3 events, 0 fresh, 2 duplicates, 1 dead-lettered, 0 terms", "the summary names the path as given");
    const letters = await fx.db.query<{ source: string; error: string }>("SELECT source, error FROM strata_dead_letter ORDER BY id");
    assert.equal(letters.rows.map((l) => l.source), [`import:${file}:2`], "one dead letter, named by the absolute path");
    assert.match(letters.rows[0].error, /not valid JSON/);
  } finally {
    process.chdir(cwd);
    await rm(dir, { recursive: true, force: true });
    await fx.drop();
  }
});

test.run();
