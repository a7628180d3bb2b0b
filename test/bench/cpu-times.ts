/**
 * CPU time of a benchmark phase, in this process and in the database server's backends that
 * serve it: on a shared machine these move much less than the wall time, so before/after
 * comparisons use them beside the events/s figures.
 */
import process from "node:process";
import type { Queryable } from "../../db/db.ts";

export interface CpuReading {
  node: number;
  /** CPU ms per backend pid of the database, or null when unreadable (remote server, no /proc). */
  postgres: Map<number, number> | null;
}

/**
 * CPU ms used so far by this process, and per server backend of `db`'s database. `cpuSpent`
 * counts, per backend alive at the second reading, what it used since the first (all of it for a
 * backend started since); a backend that exited meanwhile is not counted (a busy pool keeps its
 * connections).
 */
export async function cpuTimes(db: Queryable): Promise<CpuReading> {
  const usage = process.cpuUsage();
  const node = (usage.user + usage.system) / 1000;
  try {
    const fs = await import("node:fs");
    const pids = await db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database()");
    const postgres = new Map<number, number>();
    for (const { pid } of pids.rows) {
      // Fields 14 and 15 of /proc/<pid>/stat (after the command in parentheses): utime, stime in clock ticks (1/100 s).
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      postgres.set(Number(pid), (Number(fields[11]) + Number(fields[12])) * 10);
    }
    return { node, postgres };
  } catch {
    return { node, postgres: null };
  }
}

export function cpuSpent(before: CpuReading, after: CpuReading): { node: number; postgres: number | null } {
  if (!before.postgres || !after.postgres) return { node: after.node - before.node, postgres: null };
  let postgres = 0;
  for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
  return { node: after.node - before.node, postgres };
}

/** Node's inspector profiler around one phase (`CPU_PROFILE=<file>`); the file opens in Chrome DevTools. */
export async function startCpuProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import("node:inspector");
  const fs = await import("node:fs");
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 500 });
  await post("Profiler.start");
  return {
    async stop(file) {
      const { profile } = (await post("Profiler.stop")) as { profile: unknown };
      fs.writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}
