// Entry of the parse worker thread (parse-worker-thread.ts). A worker thread does not inherit the
// TypeScript loader the main thread runs under on Node (tsx: `--import tsx`, the tsx command or
// cli/strata.js's register()), so this plain module registers tsx before importing the worker's
// TypeScript; Deno runs TypeScript itself. Nothing else belongs here.
if (typeof globalThis.Deno === "undefined") {
  const { register } = await import("tsx/esm/api");
  register();
}
await import(new URL("./parse-worker-main.ts", import.meta.url).href);
