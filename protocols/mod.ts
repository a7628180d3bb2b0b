export * from "./token.ts";
export * from "./partition.ts";
export * from "./subject.ts";
export * from "./errors.ts";
export * from "./validation.ts";
export * from "./envelope.ts";
