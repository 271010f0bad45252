import type { PodRef, TimeUs } from '../../pipeline/records.js';

/**
 * IP address -> Pod, at a given time.
 *
 * A Pod claims each of its IPs (dual-stack `podIPs`) from the moment it is seen with it until
 * it is deleted, terminates, or drops the address. An ended claim is kept for `graceUs` so
 * that late records (Suricata logs a transaction when it completes; conntrack reports a
 * connection when it dies) still resolve to the Pod that held the address then.
 *
 * When several claims on one address are kept (IP reuse), the record's time picks: the claim
 * that covers it, else the nearest in time, the later claim on a tie. "Nearest" rather than
 * "covering only" because the informer sees a Pod a little after its traffic starts, and
 * Suricata stamps a transaction with its own clock.
 *
 * Bounds: at most `maxPods` live Pods (a new one beyond that is refused and the caller counts
 * it) and at most `maxPods` deleted Pods in their grace period (the oldest claims are evicted
 * early). Pure: time is passed in, nothing is scheduled.
 */
export class PodIndex {
  readonly #byIp = new Map<string, Claim[]>();
  readonly #holders = new Map<string, Holder>();
  /** Ended claims in the order they ended, for eviction. */
  #ended: Claim[] = [];
  #endedHead = 0;
  #live = 0;
  #retired = 0;
  #evictedEarly = 0;

  constructor(private readonly options: { readonly graceUs: number; readonly maxPods: number }) {}

  /**
   * Records that Pod `uid` (described by `ref`) holds exactly `ips` from `nowUs` on. Addresses
   * it no longer lists are ended; an address another Pod still claimed is taken over. Returns
   * false, changing nothing, when the Pod is new and `maxPods` live Pods are already held.
   */
  set(uid: string, ips: readonly string[], ref: PodRef, nowUs: TimeUs): boolean {
    let holder = this.#holders.get(uid);
    if (holder === undefined) {
      if (this.#live >= this.options.maxPods) return false;
      holder = { uid, ref, open: new Map(), closed: 0, live: true };
      this.#holders.set(uid, holder);
      this.#live++;
    } else if (!holder.live) {
      holder.live = true;
      this.#live++;
      if (holder.closed > 0) this.#retired--;
    }
    holder.ref = ref;
    for (const [ip, claim] of holder.open) if (!ips.includes(ip)) this.#end(claim, nowUs);
    for (const ip of ips) {
      if (holder.open.has(ip)) continue;
      const claims = this.#byIp.get(ip) ?? [];
      for (const other of claims) if (other.untilUs === Infinity) this.#end(other, nowUs);
      const claim: Claim = { ip, holder, fromUs: nowUs, untilUs: Infinity };
      claims.push(claim);
      this.#byIp.set(ip, claims);
      holder.open.set(ip, claim);
    }
    return true;
  }

  /** Pod `uid` was deleted or terminated at `nowUs`: its claims end, and are kept for the grace period. */
  release(uid: string, nowUs: TimeUs): void {
    const holder = this.#holders.get(uid);
    if (holder === undefined || !holder.live) return;
    holder.live = false;
    this.#live--;
    for (const claim of holder.open.values()) this.#end(claim, nowUs);
    if (holder.closed === 0) this.#holders.delete(uid);
    else this.#retired++;
    while (this.#retired > this.options.maxPods && this.#evictOldest()) this.#evictedEarly++;
  }

  /** The Pod that held `ip` at `timeUs`, or undefined when no Pod is known to have held it. */
  lookup(ip: string, timeUs: TimeUs): PodRef | undefined {
    const claims = this.#byIp.get(ip);
    if (claims === undefined) return undefined;
    if (claims.length === 1) return claims[0]?.holder.ref;
    let best: Claim | undefined;
    let bestDistance = Infinity;
    for (const claim of claims) {
      const distance =
        timeUs < claim.fromUs ? claim.fromUs - timeUs : timeUs >= claim.untilUs ? timeUs - claim.untilUs : 0;
      if (distance < bestDistance || (distance === bestDistance && best !== undefined && claim.fromUs > best.fromUs)) {
        best = claim;
        bestDistance = distance;
      }
    }
    return best?.holder.ref;
  }

  /** Evicts claims that ended at least the grace period before `nowUs`; returns how many. */
  sweep(nowUs: TimeUs): number {
    const horizon = nowUs - this.options.graceUs;
    let evicted = 0;
    for (;;) {
      const oldest = this.#ended[this.#endedHead];
      if (oldest === undefined || oldest.untilUs > horizon) return evicted;
      this.#evictOldest();
      evicted++;
    }
  }

  get stats(): { readonly live: number; readonly retired: number; readonly evictedEarly: number } {
    return { live: this.#live, retired: this.#retired, evictedEarly: this.#evictedEarly };
  }

  #end(claim: Claim, nowUs: TimeUs): void {
    claim.untilUs = nowUs;
    claim.holder.open.delete(claim.ip);
    claim.holder.closed++;
    this.#ended.push(claim);
  }

  /** Removes the claim that ended first; false when none is left. */
  #evictOldest(): boolean {
    const claim = this.#ended[this.#endedHead];
    if (claim === undefined) return false;
    this.#ended[this.#endedHead++] = undefined as unknown as Claim;
    if (this.#endedHead > 1024 && this.#endedHead * 2 > this.#ended.length) {
      this.#ended = this.#ended.slice(this.#endedHead);
      this.#endedHead = 0;
    }
    const claims = this.#byIp.get(claim.ip);
    if (claims !== undefined) {
      const at = claims.indexOf(claim);
      if (at >= 0) claims.splice(at, 1);
      if (claims.length === 0) this.#byIp.delete(claim.ip);
    }
    const holder = claim.holder;
    holder.closed--;
    if (!holder.live && holder.closed === 0) {
      this.#holders.delete(holder.uid);
      this.#retired--;
    }
    return true;
  }
}

interface Holder {
  readonly uid: string;
  ref: PodRef;
  /** Claims still held, by IP. */
  readonly open: Map<string, Claim>;
  /** Ended claims not yet evicted. */
  closed: number;
  live: boolean;
}

interface Claim {
  readonly ip: string;
  readonly holder: Holder;
  readonly fromUs: TimeUs;
  /** Infinity while held. */
  untilUs: TimeUs;
}
