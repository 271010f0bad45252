import {
  FlowEndReason,
  FlowType,
  type ConnDumpEnd,
  type ConnSample,
  type Counters,
  type FlowRecord,
  type L7Event,
  type L7Kind,
  type PodRef,
  type Tuple,
} from '../../pipeline/records.js';
import { DeadlineHeap } from './expiry.js';
import { PendingTransactions } from './pending.js';

export interface FlowTableOptions {
  readonly activeTimeoutUs: number;
  readonly idleTimeoutUs: number;
  /** How long a transaction waits for its connection, and an ended connection for late ones. */
  readonly pendingTtlUs: number;
  /** A connection no source has reported for this long is forgotten. */
  readonly staleTimeoutUs: number;
  readonly unmatched: 'export' | 'drop';
  readonly maxConnections: number;
  readonly maxPending: number;
  readonly maxTransactionsPerFlow: number;
  /** Transactions held on connections, all together; reaching it makes a record at once. */
  readonly maxHeldTransactions: number;
  /** False when no conntrack samples reach the join: transactions are exported at once as L7-only records. */
  readonly connectionsExpected: boolean;
}

/** Which bound made a record early: one connection's transactions, or all of them. */
export type CapLimit = 'max_transactions_per_flow' | 'max_held_transactions';

export type TransactionResult = 'matched' | 'matched_after_wait' | 'late' | 'unmatched';

/**
 * Why a connection left the store: `ended` (conntrack no longer has it and the late window
 * passed), `replaced` (a new connection reused its tuple), `stale` (no sample for the stale
 * timeout), `evicted` (the store was full). Every one was exported before it was forgotten.
 */
export type ForgetReason = 'ended' | 'replaced' | 'stale' | 'evicted';

/**
 * What the table reports; the component binds these to metrics. Together they close two
 * identities at every step: transactions ingested = transactions exported + dropped +
 * pendingTransactions + joinedTransactions, and connections opened = forgotten + connections.
 */
export interface FlowTableEvents {
  /** A record was made, carrying `transactions` transactions. */
  exported(reason: FlowEndReason, transactions: number): void;
  transactions(result: TransactionResult, count: number): void;
  dropped(reason: 'unmatched', count: number): void;
  opened(count: number): void;
  forgotten(reason: ForgetReason, count: number): void;
  pendingEvicted(count: number): void;
  /** A record made early because a limit on held transactions was reached. */
  capExports(limit: CapLimit, count: number): void;
}

const zero: Counters = Object.freeze({ packets: 0, bytes: 0, reversePackets: 0, reverseBytes: 0 });
const noTransactions: readonly L7Event[] = Object.freeze([]);
/** How long transactions without a conntrack source wait to be grouped per Suricata flow. */
const immediateLingerUs = 1_000_000;

/** TCP states after which no data flows: the connection is exported as ended at once. */
const finalTcpStates = new Set(['TIME_WAIT', 'CLOSE']);

/**
 * - live: exported on active and idle timeouts;
 * - idle: exported by the idle timeout and quiet since; scheduled only to be forgotten when stale;
 * - ended: exported as ended (end of flow, eviction); kept while conntrack still reports it and
 *   for pendingTtl after it is gone, so that late transactions find it.
 */
type State = 'live' | 'idle' | 'ended';

class Connection {
  state: State = 'live';
  /** Something changed since the previous record (new, counters, transactions): the active
   * timeout applies only then; a quiet connection waits for the idle timeout. */
  dirty = true;
  /** Conntrack no longer has it (DESTROY event, or absent from a complete dump); from then on
   * lastSeenUs holds when that was learnt. */
  gone = false;
  removed = false;
  /** Deadline of this connection's entry in the expiry heap, if it has one. */
  scheduledAt: number | undefined;
  id: number | undefined;
  startUs: number;
  stopUs: number | undefined;
  lastSeenUs: number;
  lastActiveUs: number;
  lastExportUs: number;
  totals: Counters = zero;
  exported: Counters = zero;
  tcpState: string | undefined;
  srcPod: PodRef | undefined;
  dstPod: PodRef | undefined;
  app: L7Kind | '' = '';
  /** Transactions waiting for the next record (the shared empty array until the first one). */
  l7: L7Event[] = noTransactions as L7Event[];
  /** The exported tuple: original source to post-DNAT destination. */
  readonly tuple: Tuple;
  readonly service: FlowRecord['service'];

  constructor(
    readonly flowKey: number,
    readonly key: string,
    readonly zone: number,
    sample: ConnSample,
  ) {
    const { original, reply } = sample;
    this.id = sample.id;
    this.startUs = sample.startUs ?? sample.timeUs;
    this.lastSeenUs = this.lastActiveUs = this.lastExportUs = sample.timeUs;
    this.tuple = {
      proto: original.proto,
      srcIp: original.srcIp,
      srcPort: original.srcPort,
      dstIp: reply.srcIp,
      dstPort: reply.srcPort,
    };
    const translated = original.dstIp !== reply.srcIp || original.dstPort !== reply.srcPort;
    this.service = translated ? { ip: original.dstIp, port: original.dstPort } : undefined;
  }

  /** The keys transactions find it by: its original tuple and, when DNAT changed it, the
   * post-DNAT one. Computed when needed rather than stored, to keep connections small. */
  tupleKeys(): string[] {
    const postNatKey = tupleKey(this.tuple);
    if (!this.service) return [postNatKey];
    const { proto, srcIp, srcPort } = this.tuple;
    return [tupleKey({ proto, srcIp, srcPort, dstIp: this.service.ip, dstPort: this.service.port }), postNatKey];
  }
}

/**
 * The pure core of processor flow_join: a connection store fed by conntrack samples, exported
 * on active and idle timeouts through an expiry heap (never a scan), and an L7 join that hands
 * each transaction to exactly one record.
 *
 * Invariants: for every connection, the deltas of its records sum to its last totals (a record
 * after the end carries only what changed since: zero for late transactions); every transaction
 * given to ingest() is in exactly one record or counted as dropped; nothing grows without bound.
 * Time is the caller's: `nowUs` arguments and sample/event times.
 */
export class FlowTable {
  /** In order of creation; eviction gives recently active ones a second chance. */
  readonly #connections = new Map<string, Connection>();
  readonly #byTuple = new Map<string, Connection>();
  readonly #heap = new DeadlineHeap<Connection>();
  readonly #pending: PendingTransactions;
  #output: FlowRecord[] = [];
  /** Ended connections with something new (late transactions, final counters) to export. */
  readonly #followUps = new Set<Connection>();
  /** Transactions with no connection to wait for (no conntrack source): exported once the
   * oldest has lingered a second, so that one Suricata flow's transactions share a record. */
  #immediate: L7Event[] = [];
  #immediateSinceUs = 0;
  #nextFlowKey = 1;
  #dumpStartUs: number | undefined;
  /** Transactions attached to connections and waiting for their next record. */
  #joined = 0;

  constructor(
    private readonly options: FlowTableOptions,
    private readonly events: FlowTableEvents,
  ) {
    this.#pending = new PendingTransactions(options.maxPending);
  }

  /** Connections held (live, idle and ended ones kept for late transactions). */
  get connections(): number {
    return this.#connections.size;
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Transactions not in a record yet because their connection has not appeared (or, without
   * conntrack input, until the next takeOutput). */
  get pendingTransactions(): number {
    return this.#pending.size + this.#immediate.length;
  }

  /** Transactions joined onto connections, waiting for the connection's next record. */
  get joinedTransactions(): number {
    return this.#joined;
  }

  /** Records produced since the last call. Follow-ups of ended connections are made here, so
   * that the late transactions of one batch share a record. */
  takeOutput(nowUs: number): FlowRecord[] {
    for (const connection of this.#followUps) this.#flushFollowUp(connection, nowUs);
    this.#followUps.clear();
    const output = this.#output;
    this.#output = [];
    return output;
  }

  ingestSample(sample: ConnSample, nowUs: number): void {
    this.#dumpStartUs ??= sample.timeUs;
    const key = connectionKey(sample);
    let connection = this.#connections.get(key);
    if (connection && isNewConnection(connection, sample)) {
      // The tuple was reused: the old connection is over, whatever conntrack said last.
      if (connection.state !== 'ended') this.#end(connection, FlowEndReason.endOfFlow, nowUs);
      this.events.forgotten('replaced', 1);
      this.#remove(connection, FlowEndReason.endOfFlow, nowUs);
      connection = undefined;
    }
    if (!connection) connection = this.#create(key, sample, nowUs);
    this.#update(connection, sample, nowUs);
  }

  /** A complete dump proves that connections of its zones not reported since it began are gone. */
  ingestDumpEnd(end: ConnDumpEnd, nowUs: number): void {
    const startUs = Math.min(this.#dumpStartUs ?? end.timeUs, end.timeUs);
    this.#dumpStartUs = undefined;
    if (!end.complete) return;
    const zones = new Set(end.zones);
    for (const connection of [...this.#connections.values()]) {
      if (connection.gone || connection.lastSeenUs >= startUs) continue;
      if (zones.size > 0 && !zones.has(connection.zone)) continue;
      this.#markGone(connection, nowUs);
    }
  }

  ingestEvent(event: L7Event, nowUs: number): void {
    const key = tupleKey(event.tuple);
    const connection = this.#byTuple.get(key);
    if (connection) return this.#attach(connection, event, connection.state === 'ended' ? 'late' : 'matched', nowUs);
    if (!this.options.connectionsExpected) {
      if (this.#immediate.length === 0) this.#immediateSinceUs = nowUs;
      this.#immediate.push(event);
      return;
    }
    const evicted = this.#pending.add(key, event, nowUs);
    if (evicted) {
      this.events.pendingEvicted(1);
      this.#unmatched([evicted]);
    }
  }

  /** Runs everything due at `nowUs`: timeouts, forgetting, expiry of waiting transactions. */
  expire(nowUs: number): void {
    for (;;) {
      const due = this.#heap.peekDeadline();
      if (due > nowUs) break;
      const connection = this.#heap.popDue(nowUs) as Connection;
      if (connection.removed || connection.scheduledAt !== due) continue; // superseded entry
      connection.scheduledAt = undefined;
      if (this.#deadline(connection, nowUs) > nowUs) {
        this.#schedule(connection, nowUs);
        continue;
      }
      this.#onDeadline(connection, nowUs);
    }
    const waited = this.#pending.expire(nowUs - this.options.pendingTtlUs);
    if (waited.length > 0) this.#unmatched(waited);
    if (this.#immediate.length > 0 && nowUs - this.#immediateSinceUs >= immediateLingerUs) {
      this.#unmatched(this.#immediate);
      this.#immediate = [];
    }
  }

  /** Shutdown: every live connection is exported as forced to end; waiting transactions follow
   * the unmatched policy. */
  flushAll(nowUs: number): void {
    for (const connection of this.#connections.values()) {
      if (connection.state === 'live' || hasUnexported(connection))
        this.#export(connection, FlowEndReason.forcedEnd, nowUs);
      while (connection.l7.length > 0) this.#export(connection, FlowEndReason.forcedEnd, nowUs);
    }
    this.#followUps.clear();
    const waiting = [...this.#immediate, ...this.#pending.drain()];
    this.#immediate = [];
    if (waiting.length > 0) this.#unmatched(waiting);
  }

  #create(key: string, sample: ConnSample, nowUs: number): Connection {
    if (this.#connections.size >= this.options.maxConnections) this.#evictOldest(nowUs);
    const connection = new Connection(this.#nextFlowKey++, key, sample.zone, sample);
    this.#connections.set(key, connection);
    this.events.opened(1);
    const keys = connection.tupleKeys();
    for (const tupleKeyOf of keys) this.#byTuple.set(tupleKeyOf, connection);
    this.#schedule(connection, nowUs);
    if (this.#pending.size > 0) {
      for (const tupleKeyOf of keys) {
        for (const event of this.#pending.take(tupleKeyOf))
          this.#attach(connection, event, 'matched_after_wait', nowUs);
      }
    }
    return connection;
  }

  #update(connection: Connection, sample: ConnSample, nowUs: number): void {
    connection.lastSeenUs = Math.max(connection.lastSeenUs, sample.timeUs);
    if (sample.id !== undefined) connection.id = sample.id;
    if (sample.tcpState !== undefined) connection.tcpState = sample.tcpState;
    if (sample.srcPod) connection.srcPod = sample.srcPod;
    if (sample.dstPod) connection.dstPod = sample.dstPod;
    if (sample.stopUs !== undefined) connection.stopUs = sample.stopUs;
    if (sample.counters && !sameCounters(sample.counters, connection.totals)) {
      connection.totals = sample.counters;
      this.#activity(connection, sample.timeUs, nowUs);
    }
    const over = sample.dying || (sample.tcpState !== undefined && finalTcpStates.has(sample.tcpState));
    if (over && connection.state !== 'ended') this.#end(connection, FlowEndReason.endOfFlow, nowUs);
    else if (connection.state === 'ended' && hasUnexported(connection)) this.#followUps.add(connection);
    if (sample.dying) this.#markGone(connection, nowUs);
  }

  #attach(connection: Connection, event: L7Event, result: TransactionResult, nowUs: number): void {
    this.events.transactions(result, 1);
    this.#joined++;
    if (connection.l7 === noTransactions) connection.l7 = [event];
    else connection.l7.push(event);
    if (connection.app === '') connection.app = event.kind;
    if (connection.state === 'ended') {
      // Late: the connection was exported as ended; a follow-up record carries the transaction.
      this.#followUps.add(connection);
      return;
    }
    this.#activity(connection, nowUs, nowUs);
    // Either bound gives the connection a record now, so held transactions stay within them
    // (late ones of ended connections wait only for the end of their batch): under pressure
    // records come earlier and carry fewer transactions; none is lost.
    const limit: CapLimit | undefined =
      connection.l7.length >= this.options.maxTransactionsPerFlow
        ? 'max_transactions_per_flow'
        : this.#joined >= this.options.maxHeldTransactions
          ? 'max_held_transactions'
          : undefined;
    if (limit !== undefined) {
      this.events.capExports(limit, 1);
      this.#export(connection, FlowEndReason.activeTimeout, nowUs);
      this.#schedule(connection, nowUs);
    }
  }

  /**
   * Hot path: usually no heap push. A live connection keeps an entry at its active deadline
   * (see #deadline); only one that went quiet past it, or went idle, is scheduled again.
   */
  #activity(connection: Connection, atUs: number, nowUs: number): void {
    if (atUs > connection.lastActiveUs) connection.lastActiveUs = atUs;
    const wasDirty = connection.dirty;
    connection.dirty = true;
    if (connection.state === 'idle') {
      connection.state = 'live';
      this.#schedule(connection, nowUs);
    } else if (!wasDirty && (connection.scheduledAt ?? 0) > connection.lastExportUs + this.options.activeTimeoutUs) {
      this.#schedule(connection, nowUs);
    }
  }

  #end(connection: Connection, reason: FlowEndReason, nowUs: number): void {
    this.#export(connection, reason, nowUs);
    connection.state = 'ended';
    this.#schedule(connection, nowUs);
  }

  #markGone(connection: Connection, nowUs: number): void {
    if (connection.gone) return;
    if (connection.state !== 'ended') this.#end(connection, FlowEndReason.endOfFlow, nowUs);
    connection.gone = true;
    connection.lastSeenUs = nowUs;
    this.#schedule(connection, nowUs);
  }

  #onDeadline(connection: Connection, nowUs: number): void {
    const { idleTimeoutUs } = this.options;
    switch (connection.state) {
      case 'live':
        if (nowUs >= connection.lastActiveUs + idleTimeoutUs) {
          this.#export(connection, FlowEndReason.idleTimeout, nowUs);
          if (connection.l7.length === 0) connection.state = 'idle';
        } else {
          this.#export(connection, FlowEndReason.activeTimeout, nowUs);
        }
        this.#schedule(connection, nowUs);
        return;
      case 'idle':
        this.events.forgotten('stale', 1);
        this.#remove(connection, FlowEndReason.idleTimeout, nowUs);
        return;
      case 'ended':
        this.events.forgotten(connection.gone ? 'ended' : 'stale', 1);
        this.#remove(connection, FlowEndReason.endOfFlow, nowUs);
        return;
    }
  }

  #deadline(connection: Connection, nowUs: number): number {
    const { activeTimeoutUs, idleTimeoutUs, pendingTtlUs, staleTimeoutUs } = this.options;
    switch (connection.state) {
      case 'live': {
        // The entry stays at the active deadline even before anything changed, because the hot
        // path does not reschedule on activity; a connection still quiet when that deadline
        // passes waits for the idle timeout instead.
        const idle = connection.lastActiveUs + idleTimeoutUs;
        const active = connection.lastExportUs + activeTimeoutUs;
        return !connection.dirty && active <= nowUs ? idle : Math.min(active, idle);
      }
      case 'idle':
        return connection.lastSeenUs + staleTimeoutUs;
      case 'ended':
        return connection.lastSeenUs + (connection.gone ? pendingTtlUs : staleTimeoutUs);
    }
  }

  /** Makes sure the heap holds an entry no later than the connection's deadline. */
  #schedule(connection: Connection, nowUs: number): void {
    const deadline = this.#deadline(connection, nowUs);
    if (connection.scheduledAt !== undefined && connection.scheduledAt <= deadline) return;
    connection.scheduledAt = deadline;
    this.#heap.push(deadline, connection);
  }

  /**
   * Evicts the oldest connection that has been quiet for the idle timeout, or failing that the
   * least recently active of the first few looked at. Recently active ones met on the way go to
   * the back (a second chance), so the hot path never has to keep an exact LRU order.
   */
  #evictOldest(nowUs: number): void {
    let oldest: Connection | undefined;
    const passed: Connection[] = [];
    for (const connection of this.#connections.values()) {
      if (connection.state === 'ended' || connection.lastActiveUs + this.options.idleTimeoutUs <= nowUs) {
        oldest = connection;
        break;
      }
      if (!oldest || connection.lastActiveUs < oldest.lastActiveUs) oldest = connection;
      passed.push(connection);
      if (passed.length >= 64) break;
    }
    if (!oldest) return;
    for (const connection of passed) {
      if (connection === oldest) continue;
      this.#connections.delete(connection.key);
      this.#connections.set(connection.key, connection);
    }
    if (oldest.state !== 'ended') this.#export(oldest, FlowEndReason.lackOfResources, nowUs);
    this.events.forgotten('evicted', 1);
    this.#remove(oldest, FlowEndReason.lackOfResources, nowUs);
  }

  /** Exports whatever an ended connection still holds (late transactions, final counters). */
  #flushFollowUp(connection: Connection, nowUs: number): void {
    while (!connection.removed && hasUnexported(connection)) this.#export(connection, FlowEndReason.endOfFlow, nowUs);
  }

  /** Forgets a connection, first exporting anything it still holds, so nothing is lost. */
  #remove(connection: Connection, reason: FlowEndReason, nowUs: number): void {
    while (hasUnexported(connection)) this.#export(connection, reason, nowUs);
    connection.removed = true;
    this.#connections.delete(connection.key);
    for (const key of connection.tupleKeys()) if (this.#byTuple.get(key) === connection) this.#byTuple.delete(key);
  }

  /** Emits the connection's next record: the deltas since its previous one and up to
   * maxTransactionsPerFlow of its waiting transactions, in tx_id order. */
  #export(connection: Connection, endReason: FlowEndReason, nowUs: number): void {
    const { totals, exported } = connection;
    const deltas: Counters = {
      packets: totals.packets - exported.packets,
      bytes: totals.bytes - exported.bytes,
      reversePackets: totals.reversePackets - exported.reversePackets,
      reverseBytes: totals.reverseBytes - exported.reverseBytes,
    };
    // The record takes the waiting array itself (or a part of it): the connection starts a new one.
    let l7: readonly L7Event[] = noTransactions;
    if (connection.l7.length > 0) {
      const waiting = connection.l7.sort(byTxId);
      const cap = this.options.maxTransactionsPerFlow;
      l7 = waiting.length > cap ? waiting.slice(0, cap) : waiting;
      connection.l7 = waiting.length > cap ? waiting.slice(cap) : (noTransactions as L7Event[]);
    }
    const ended = connection.state === 'ended' || endReason === FlowEndReason.endOfFlow;
    // One shape for every record (absent optional fields are undefined, which JSON drops):
    // spreading optional fields in would cost more than the rest of the export.
    const record: FlowRecord = {
      kind: 'flow',
      flowKey: connection.flowKey,
      tuple: connection.tuple,
      service: connection.service,
      zone: connection.zone,
      startUs: connection.startUs,
      endUs: ended ? (connection.stopUs ?? connection.lastSeenUs) : connection.lastActiveUs,
      endReason,
      totals,
      deltas,
      tcpState: connection.tcpState,
      srcPod: connection.srcPod,
      dstPod: connection.dstPod,
      flowType: flowTypeOf(connection.srcPod, connection.dstPod),
      app: connection.app,
      l7,
      l7Dropped: 0,
    };
    connection.exported = totals;
    connection.lastExportUs = nowUs;
    connection.dirty = connection.l7.length > 0;
    this.#joined -= l7.length;
    this.#output.push(record);
    this.events.exported(endReason, l7.length);
  }

  /** Transactions whose connection never came: L7-only records (one per Suricata flow) or a
   * counted drop, per the `unmatched` option. */
  #unmatched(events: readonly L7Event[]): void {
    if (this.options.unmatched === 'drop') {
      this.events.dropped('unmatched', events.length);
      return;
    }
    this.events.transactions('unmatched', events.length);
    const groups = new Map<string, L7Event[]>();
    for (const event of events) {
      const key = event.flowId === undefined ? tupleKey(event.tuple) : `flow ${event.flowId}`;
      const group = groups.get(key);
      if (group) group.push(event);
      else groups.set(key, [event]);
    }
    const cap = this.options.maxTransactionsPerFlow;
    for (const group of groups.values()) {
      group.sort(byTxId);
      const first = group[0] as L7Event;
      const flowKey = this.#nextFlowKey++;
      for (let at = 0; at < group.length; at += cap) {
        const l7 = group.slice(at, at + cap);
        this.#output.push({
          kind: 'flow',
          flowKey,
          tuple: first.tuple,
          startUs: Math.min(...l7.map((e) => e.timeUs)),
          endUs: Math.max(...l7.map((e) => e.timeUs)),
          endReason: FlowEndReason.endOfFlow,
          totals: zero,
          deltas: zero,
          srcPod: first.srcPod,
          dstPod: first.dstPod,
          flowType: flowTypeOf(first.srcPod, first.dstPod),
          app: first.kind,
          l7,
          l7Dropped: 0,
        });
        this.events.exported(FlowEndReason.endOfFlow, l7.length);
      }
    }
  }
}

// Keys are built with join(), which makes one flat string: a template literal makes a rope of
// several objects, three times the heap for a key that lives as long as its connection.

/** Zone and original tuple: what identifies a conntrack entry. */
function connectionKey({ zone, original: t }: ConnSample): string {
  return [zone, t.proto, t.srcIp, t.srcPort, t.dstIp, t.dstPort].join(' ');
}

/** The same key for both orientations of a tuple, so a transaction finds its connection
 * whichever side Suricata called the source (the lower address, then port, comes first). */
export function tupleKey(t: Tuple): string {
  const srcFirst = t.srcIp < t.dstIp || (t.srcIp === t.dstIp && t.srcPort <= t.dstPort);
  return (
    srcFirst ? [t.proto, t.srcIp, t.srcPort, t.dstIp, t.dstPort] : [t.proto, t.dstIp, t.dstPort, t.srcIp, t.srcPort]
  ).join(' ');
}

/** A different conntrack id, or counters that went backwards, mean a new connection. */
function isNewConnection(connection: Connection, sample: ConnSample): boolean {
  if (sample.id !== undefined && connection.id !== undefined && sample.id !== connection.id) return true;
  const c = sample.counters;
  return (
    c !== undefined && (c.packets < connection.totals.packets || c.reversePackets < connection.totals.reversePackets)
  );
}

function hasUnexported(connection: Connection): boolean {
  return connection.l7.length > 0 || !sameCounters(connection.totals, connection.exported);
}

function sameCounters(a: Counters, b: Counters): boolean {
  return (
    a.packets === b.packets &&
    a.bytes === b.bytes &&
    a.reversePackets === b.reversePackets &&
    a.reverseBytes === b.reverseBytes
  );
}

function byTxId(a: L7Event, b: L7Event): number {
  return (a.txId ?? Number.MAX_SAFE_INTEGER) - (b.txId ?? Number.MAX_SAFE_INTEGER) || a.timeUs - b.timeUs;
}

/** Antrea's flowType: both ends Pods on one node, on two nodes, or one end outside the cluster. */
export function flowTypeOf(src: PodRef | undefined, dst: PodRef | undefined): FlowType {
  if (src && dst) return src.node === dst.node ? FlowType.intraNode : FlowType.interNode;
  if (src) return FlowType.toExternal;
  if (dst) return FlowType.fromExternal;
  return FlowType.unknown;
}
