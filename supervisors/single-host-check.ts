/**
 * Partition ownership across hosts is not built yet: every host owns every partition (DESIGN.md,
 * docs/host.md). Two hosts running the same kind on one NATS would then both apply the same
 * entities — each with its own resident state, writing over the other's rows (a reviewer
 * reproduced a lost update with two hosts over real NATS). Until leases exist, a host refuses to
 * start a kind that another host already runs on its NATS: it asks that kind's status endpoint
 * (`strata.<kind>.status`, answered by any host running it) before it registers anything.
 * Two hosts starting at the same instant can still both pass; the check is for the common
 * mistake (a second container, a `strata start` beside a running one).
 */
import { NoRespondersError, RequestTimeoutError, type Transport } from "./transport/transport.ts";

export class SecondHostError extends Error {
  constructor(
    readonly kind: string,
    readonly otherHost: string,
  ) {
    super(
      `kind ${kind} already runs on this NATS (host ${otherHost}): every host owns every partition in this build, so two hosts would apply the same entities twice; stop the other host, run this kind on one host only (STRATA_KINDS), or use another NATS server`,
    );
    this.name = "SecondHostError";
  }
}

/** Throws SecondHostError for the first of `kinds` another host answers for. */
export async function refuseSecondHost(transport: Transport, kinds: readonly string[], opts: { timeoutMs?: number } = {}): Promise<void> {
  for (const kind of kinds) {
    let answer: { host?: unknown };
    try {
      const reply = await transport.request(`strata.${kind}.status`, new Uint8Array(), { timeoutMs: opts.timeoutMs ?? 2000 });
      answer = JSON.parse(new TextDecoder().decode(reply.data)) as { host?: unknown };
    } catch (err) {
      // Nobody runs it (NATS says so at once), or nobody answered in time.
      if (err instanceof NoRespondersError || err instanceof RequestTimeoutError) continue;
      throw err;
    }
    throw new SecondHostError(kind, typeof answer.host === "string" ? answer.host : "unknown");
  }
}
