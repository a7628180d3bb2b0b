/**
 * Schema validation at every boundary. Schemas are zod schemas; a failure becomes an InputError
 * whose message names what was checked, each failing field path and the reason, e.g.
 *   `vault-term Deposited: event_data.transaction_information.log_index: expected 0x-hex or decimal digits`.
 */
import type { z } from "zod";
import { InputError } from "./errors.ts";

export class ValidationError extends InputError {
  readonly issues: { path: string; message: string }[];
  constructor(what: string, issues: { path: string; message: string }[]) {
    super(`${what}: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`, { code: "validation" });
    this.issues = issues;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  return out;
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    what,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  );
}

/** JSON.parse that fails with an InputError naming the source. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${what}: not valid JSON (${(err as Error).message})`, { code: "not_json" });
  }
}
