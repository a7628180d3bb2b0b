/**
 * Where the test services are. test/run.ts sets these for every test file (a URL from the
 * environment, the usual local port when something answers there, or a private instance it
 * started); a file run on its own falls back to the usual local ports.
 */
import process from "node:process";

export const testEnv = {
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  natsUrl: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
};

/** A name no other test run uses: `<prefix>_<time>_<random>` (lower case, [a-z0-9_]). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase();
}
