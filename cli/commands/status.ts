/**
 * `strata status`: ask a running host's admin endpoint (`/health`, `/actors`) and print a table.
 * Exit 0 when every dependency is ok; 1 with a one-line reason when unreachable or unhealthy.
 */
import { loadConfig } from "../../config/load-config.ts";
import { configFlagOptions, configFlags } from "./command.ts";
import type { Command } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";
import type { DependencyHealth, KindActors } from "../../admin/source.ts";

function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)];
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new Error(`cannot reach the admin endpoint at ${new URL(url).origin} (${why})`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    throw new Error(`${url} answered ${res.status} with something that is not JSON`);
  }
}

export const statusCommand: Command = {
  name: "status",
  summary: "show a running host's dependencies and actors (admin endpoint /health, /actors)",
  usage: "strata status [--url http://127.0.0.1:8080] [--json] [--timeout-ms 5000]",
  options: { ...configFlagOptions, url: { type: "string" }, json: { type: "boolean" }, "timeout-ms": { type: "string" } },
  async run(args, io) {
    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    const host = ["0.0.0.0", "::", ""].includes(config.adminHost) ? "127.0.0.1" : config.adminHost;
    const base = (typeof args.values.url === "string" ? args.values.url : `http://${host.includes(":") ? `[${host}]` : host}:${config.adminPort}`).replace(/\/+$/, "");
    const timeoutMs = Number(args.values["timeout-ms"] ?? 5000);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new Error(`--timeout-ms: expected a positive integer, got ${JSON.stringify(args.values["timeout-ms"])}`);

    const health = await getJson(`${base}/health`, timeoutMs);
    const actors = await getJson(`${base}/actors`, timeoutMs);
    const deps = ((health.body as { dependencies?: DependencyHealth[] }).dependencies ?? []) as DependencyHealth[];
    const kinds = ((actors.body as { kinds?: KindActors[] }).kinds ?? []) as KindActors[];
    if (args.values.json) {
      io.out(JSON.stringify({ url: base, health: health.body, actors: actors.body }));
    } else {
      io.out(`strata host at ${base}`);
      io.out("");
      for (const l of table(["dependency", "ok", "detail"], deps.map((d) => [d.name, d.ok ? "yes" : "NO", d.detail ?? ""]))) io.out(l);
      io.out("");
      const rows = kinds.map((k) => [
        k.kind,
        String(k.active),
        String(k.mailboxDepth),
        String(k.restarts),
        String(k.failed),
        String(k.deadLetters),
        k.lastError ? `${k.lastError.entityId ? k.lastError.entityId + ": " : ""}${k.lastError.message}`.slice(0, 80) : "",
      ]);
      for (const l of table(["kind", "active", "mailbox", "restarts", "failed", "dead letters", "last error"], rows)) io.out(l);
    }
    const down = deps.filter((d) => !d.ok);
    if (health.status !== 200 || down.length > 0) {
      io.err(`strata status: unhealthy: ${down.map((d) => `${d.name} (${d.detail ?? "down"})`).join(", ") || `/health answered ${health.status}`}`);
      return 1;
    }
    return 0;
  },
};
