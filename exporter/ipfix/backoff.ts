/**
 * Delay before the `failures`-th consecutive reconnection attempt: `initialMs` doubled per
 * failure, capped at `maxMs`, plus up to 10% jitter (`random` in [0, 1)) so that the agents
 * of a cluster do not reconnect to a restarted collector in lockstep. Jitter only adds,
 * so the delay never drops below `initialMs` (RFC 7011 §10.4, TCP: in the default
 * configuration no more than one attempt per minute; reference ipfix.md §1.10).
 */
export function reconnectDelayMs(failures: number, initialMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(base * (1 + 0.1 * random));
}
