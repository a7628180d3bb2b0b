/**
 * Errors the runtime itself raises. Each is a StrataError with a stable code, so it keeps its
 * meaning across the wire (`errorToHeaders` / `runtimeErrorFromHeaders`).
 *
 *   mailbox_full   retryable  the actor's mailbox is at capacity (back-pressure; try again later)
 *   ask_timeout    retryable  no reply within the ask's timeout (the message may still be applied)
 *   commit_failed  retryable  the group commit covering the message failed; the actor was reset
 *   actor_reset    retryable  the actor was reset (restart or stop) before the message was committed
 *   actor_failed   not        the actor is failed (escalated); messages to it are dead-lettered
 *                             until an admin restarts it
 *   unknown_kind   not        no such kind is registered on this host
 *   no_route       retryable  nobody owns the entity's partition (no responders)
 */
import { InputError, RetryableError, StrataError, errorFromHeaders } from "../protocols/errors.ts";

export class MailboxFullError extends RetryableError {
  constructor(message: string) {
    super(message, { code: "mailbox_full" });
  }
  static of(kind: string, entityId: string, capacity: number): MailboxFullError {
    return new MailboxFullError(`mailbox of ${kind}/${entityId} is full (${capacity} messages)`);
  }
}

export class AskTimeoutError extends RetryableError {
  constructor(message: string) {
    super(message, { code: "ask_timeout" });
  }
  static of(kind: string, entityId: string, type: string, timeoutMs: number): AskTimeoutError {
    return new AskTimeoutError(`ask ${type} to ${kind}/${entityId} timed out after ${timeoutMs} ms`);
  }
}

export class CommitFailedError extends RetryableError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "commit_failed", cause });
  }
}

export class ActorResetError extends RetryableError {
  constructor(message: string) {
    super(message, { code: "actor_reset" });
  }
}

export class ActorFailedError extends StrataError {
  constructor(message: string) {
    super(message, { code: "actor_failed", retryable: false });
  }
}

export class UnknownKindError extends InputError {
  constructor(message: string) {
    super(message, { code: "unknown_kind" });
  }
  static of(kind: string): UnknownKindError {
    return new UnknownKindError(`no actor kind ${JSON.stringify(kind)} is registered`);
  }
}

export class NoRouteError extends RetryableError {
  constructor(subject: string, cause?: unknown) {
    super(`no host answers for ${subject}`, { code: "no_route", cause });
  }
}

/** errorFromHeaders, plus the runtime's own classes by code. */
export function runtimeErrorFromHeaders(headers: Record<string, string>): StrataError | undefined {
  const err = errorFromHeaders(headers);
  if (!err) return undefined;
  switch (err.code) {
    case "mailbox_full":
      return new MailboxFullError(err.message);
    case "ask_timeout":
      return new AskTimeoutError(err.message);
    case "commit_failed":
      return new CommitFailedError(err.message);
    case "actor_reset":
      return new ActorResetError(err.message);
    case "actor_failed":
      return new ActorFailedError(err.message);
    case "no_route":
      return new NoRouteError(err.message.replace(/^no host answers for /, ""));
    case "unknown_kind":
      return new UnknownKindError(err.message);
    default:
      return err;
  }
}
