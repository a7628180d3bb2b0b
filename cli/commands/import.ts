/**
 * `strata import <kind> <path>`: a source's own files through the same validation, journal and
 * actors as live ingest (DESIGN.md, Surfaces people use), on a one-shot local runtime
 * (local-runtime.ts). Returns when every actor is idle and prints one summary line (or JSON):
 *   vault-term        a JSONL file, one rindexer message per line
 *   worker-partition  a file or a folder in the S3 layout `{region}/{node_type}/*.json`
 * Bad lines and files are dead-lettered once (their sources name the absolute path), never
 * fatal; re-importing is harmless (the journal dedupes). A missing path or an unknown kind exits
 * non-zero with a one-line reason.
 * Ingest never pays.
 */
import { stat } from "node:fs/promises";
import { loadConfig } from "../../config/load-config.ts";
import { importVaultTermFile } from "../../actors/vault-term/service.ts";
import { importWorkerPartitionPath } from "../../actors/worker-partition/import-files.ts";
import { workerPartitionIngestDeps } from "../../actors/worker-partition/wire.ts";
import { workerPartitionSettings } from "../../actors/worker-partition/config.ts";
import { configFlagOptions, configFlags, UsageError } from "./command.ts";
import type { Command } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";
import { isLocalKind, LOCAL_KINDS, openLocalRuntime } from "./local-runtime.ts";

/** What every import reports, whatever the kind. */
export interface ImportResult {
  kind: string;
  path: string;
  /** Lines (vault-term) or files (worker-partition) read. */
  units: number;
  unitName: "lines" | "files";
  events: number;
  fresh: number;
  duplicates: number;
  deadLettered: number;
  /** Distinct entities touched: terms (vault-term) or partitions (worker-partition). */
  entities: number;
  /** Files in a folder not named like event files (worker-partition), not read. */
  ignored: number;
}

export function formatImportResult(r: ImportResult): string {
  return (
    `imported ${r.kind} from ${r.path}: ${r.units} ${r.unitName}, ${r.events} events, ${r.fresh} fresh, ` +
    `${r.duplicates} duplicates, ${r.deadLettered} dead-lettered, ${r.entities} ${r.kind === "vault-term" ? "terms" : "partitions"}` +
    (r.ignored > 0 ? `, ${r.ignored} files ignored (not named like event files)` : "")
  );
}

export const importCommand: Command = {
  name: "import",
  summary: "import a source's files (vault-term JSONL, worker-partition S3 layout) through the live ingest path",
  usage: "strata import <vault-term|worker-partition> <path> [--json] [config flags]",
  options: { ...configFlagOptions, json: { type: "boolean" } },
  allowPositionals: true,
  async run(args, io) {
    const [kind, path, ...extra] = args.positionals;
    if (kind === undefined || path === undefined) throw new UsageError(`expected <kind> <path> (kinds: ${LOCAL_KINDS.join(", ")})`);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (!isLocalKind(kind)) throw new UsageError(`unknown or unsupported kind ${JSON.stringify(kind)} (this build imports: ${LOCAL_KINDS.join(", ")})`);
    let isDir: boolean;
    try {
      isDir = (await stat(path)).isDirectory();
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as { code?: string }).code === "ENOENT" ? "no such file or folder" : (err as Error).message}`);
    }
    if (kind === "vault-term" && isDir) throw new Error(`${path} is a folder; vault-term imports one JSONL file`);

    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    const rt = await openLocalRuntime(config, { kinds: [kind] });
    let result: ImportResult;
    try {
      if (kind === "vault-term") {
        const s = await importVaultTermFile(path, { db: rt.db, deadLetters: rt.deadLetters, system: rt.system });
        result = { kind, path, units: s.lines, unitName: "lines", events: s.messages, fresh: s.fresh, duplicates: s.duplicates, deadLettered: s.deadLettered, entities: s.terms, ignored: 0 };
      } else {
        const deps = workerPartitionIngestDeps(rt.system, rt.workerPartitionTail!, rt.db, rt.deadLetters);
        const r = await importWorkerPartitionPath(deps, path, { maxFilesPerBatch: workerPartitionSettings(config).maxFilesPerBatch });
        result = {
          kind,
          path,
          units: r.files,
          unitName: "files",
          events: r.totals.events,
          fresh: r.totals.newEvents,
          duplicates: r.totals.duplicates,
          deadLettered: r.totals.deadLetters,
          entities: new Set(r.batches.map((b) => b.partition)).size,
          ignored: r.ignoredFiles.length,
        };
      }
      await rt.system.whenIdle();
    } finally {
      await rt.close();
    }
    io.out(args.values.json ? JSON.stringify(result) : formatImportResult(result));
    return 0;
  },
};
