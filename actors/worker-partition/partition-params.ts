/**
 * The parameters a partition's events were applied with: pool commission (basis points) and the
 * AI correlation TTL (pure; the history is stored in `worker_partition_params`, migration 0205).
 *
 * Live, an actor applies new events with the configuration it runs with, so a change of
 * POOL_COMMISSION_RATE or AI_CORRELATION_TTL_SECONDS affects the events applied after it (the
 * domain's rule). The actor records each change as a history row `(from_offset, parameters)`:
 * the events with seq > from_offset, up to the next row, were applied with them. A replay must
 * apply the journal with that history, not with the configuration of the process that replays:
 * otherwise every past job is re-priced and re-attributed, and the fee ledger the payments read
 * moves under what was already paid (a lower rate pays every past job again for the difference;
 * a higher one leaves earned < paid and the worker skipped).
 */

export interface PartitionParams {
  commissionBps: number;
  correlationTtlMs: number;
}

/** One history row: events with seq > fromOffset (until the next row) are applied with `params`. */
export interface ParamsRow extends PartitionParams {
  fromOffset: number;
}

export function sameParams(a: PartitionParams | null, b: PartitionParams): boolean {
  return a !== null && a.commissionBps === b.commissionBps && a.correlationTtlMs === b.correlationTtlMs;
}

/**
 * Which parameters apply to each seq. Live: the configuration for every event. Replay: the
 * recorded history for the events live had applied (seq ≤ `throughOffset`, the partition's offset
 * before the reset; before the first row, the configuration), the configuration after them (live
 * would apply those with it too).
 */
export interface ParamsPlan {
  /** The parameters of event `seq`. */
  at(seq: number): PartitionParams;
  /** The first seq after `seq` whose parameters may differ from those of `seq` (Infinity when none). */
  nextChange(seq: number): number;
}

export function configuredPlan(config: PartitionParams): ParamsPlan {
  return { at: () => config, nextChange: () => Infinity };
}

export function recordedPlan(history: readonly ParamsRow[], throughOffset: number, config: PartitionParams): ParamsPlan {
  const rows = [...history].filter((r) => r.fromOffset < throughOffset).sort((a, b) => a.fromOffset - b.fromOffset);
  // Boundaries: the first seq of each row's span, and the first seq after the recorded spans.
  const starts = [...rows.map((r) => r.fromOffset + 1), throughOffset + 1];
  return {
    at(seq) {
      if (seq > throughOffset) return config;
      let found: ParamsRow | null = null;
      for (const r of rows) {
        if (r.fromOffset < seq) found = r;
        else break;
      }
      return found === null ? config : { commissionBps: found.commissionBps, correlationTtlMs: found.correlationTtlMs };
    },
    nextChange(seq) {
      for (const s of starts) if (s > seq) return s;
      return Infinity;
    },
  };
}

/**
 * Cuts events (ascending seq) into runs of one parameter set each: `[params, events][]`. Live
 * (configuredPlan) gives one run.
 */
export function runsByParams<E extends { seq: number }>(plan: ParamsPlan, events: readonly E[]): [PartitionParams, E[]][] {
  const runs: [PartitionParams, E[]][] = [];
  let i = 0;
  while (i < events.length) {
    const params = plan.at(events[i].seq);
    const end = plan.nextChange(events[i].seq);
    let j = i + 1;
    while (j < events.length && events[j].seq < end) j++;
    // Live (one parameter set) the chunk is one run: passed on as it is, not copied.
    runs.push([params, i === 0 && j === events.length ? (events as E[]) : events.slice(i, j)]);
    i = j;
  }
  return runs;
}
