#!/usr/bin/env -S node --max-semi-space-size=64
// The `strata` command (package.json "bin"): registers tsx so Node runs the TypeScript sources
// unchanged, then hands over to cli/main.ts. The young generation is 64 MB (docs/operations.md,
// "Node heap"). On Deno: `deno run -A cli/main.ts …`.
import { register } from "tsx/esm/api";

register();
await import(new URL("./main.ts", import.meta.url).href);
