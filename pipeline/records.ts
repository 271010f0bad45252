/**
 * The records that flow between components. Every record is readonly and tagged by `kind`;
 * a processor returns new objects and never mutates its input.
 *
 * Conventions shared by every record:
 * - Time is microseconds since the Unix epoch as a `number` (exact until the year 2255).
 *   Suricata timestamps carry microseconds, which `Date.parse` would drop.
 * - Counters are `number` (exact up to 2^53).
 * - IP addresses are canonical text: dotted IPv4, RFC 5952 IPv6 (see ip.ts), so equal
 *   addresses compare equal as strings whatever form the source wrote them in.
 * - Protocols are IANA protocol numbers (6 TCP, 17 UDP, 1 ICMP, 58 IPv6-ICMP, 132 SCTP).
 */

/** Microseconds since the Unix epoch. */
export type TimeUs = number;

/** A directed 5-tuple. Ports are 0 for protocols without ports. */
export interface Tuple {
  readonly proto: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
}

/** Values of the opt-in annotation (`visibility.antrea.io/l7-export`). */
export type L7Direction = 'ingress' | 'egress' | 'both';

/** A Pod as the records refer to it. */
export interface PodRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly node: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Owning workload (Deployment, StatefulSet, ...) name when known, for service names. */
  readonly workload?: string;
  /** Effective opt-in direction of this Pod; absent when it is not opted in. */
  readonly l7Export?: L7Direction;
}

interface L7EventBase {
  /** When Suricata logged the transaction (EVE `timestamp`). */
  readonly timeUs: TimeUs;
  /** Flow orientation: src is the client (the side that opened the connection). */
  readonly tuple: Tuple;
  /** Suricata `flow_id` (51 bits, exact as a number); with txId it identifies a transaction. */
  readonly flowId?: number;
  readonly txId?: number;
  readonly vlan?: readonly number[];
  /** Set by processor k8s_l7. */
  readonly srcPod?: PodRef;
  readonly dstPod?: PodRef;
}

export interface HttpHeader {
  readonly name: string;
  readonly value: string;
}

/** One HTTP transaction as Suricata's `http` object describes it. Every field may be absent. */
export interface HttpTransaction {
  readonly hostname?: string;
  /** Port from the Host header or absolute URI (EVE `http_port`), not the TCP port. */
  readonly httpPort?: number;
  /** Request target as sent: path and query. */
  readonly url?: string;
  readonly method?: string;
  /** Request-line version, e.g. `HTTP/1.1`. */
  readonly protocol?: string;
  /** Suricata 6+: `2` for an HTTP/2 transaction (whose `protocol` may be absent). */
  readonly version?: string;
  /** Absent for request-only transactions (no response seen). */
  readonly status?: number;
  /** Suricata 8: the status line text when it is not numeric. */
  readonly statusString?: string;
  readonly userAgent?: string;
  /** From the response; absent when there was no response. */
  readonly contentType?: string;
  readonly referer?: string;
  /** The response's Location header. */
  readonly redirect?: string;
  /** Response body bytes seen (0 when there was no response). */
  readonly length?: number;
  readonly requestHeaders?: readonly HttpHeader[];
  readonly responseHeaders?: readonly HttpHeader[];
}

export interface HttpEvent extends L7EventBase {
  readonly kind: 'http';
  readonly http: HttpTransaction;
}

export interface TlsSession {
  readonly sni?: string;
  /** e.g. `TLS 1.3`, `UNDETERMINED`. */
  readonly version?: string;
  readonly subject?: string;
  readonly issuerDn?: string;
  readonly serial?: string;
  readonly fingerprint?: string;
  readonly notBefore?: string;
  readonly notAfter?: string;
  readonly sessionResumed?: boolean;
  readonly ja3?: string;
  readonly ja3s?: string;
  readonly ja4?: string;
  readonly clientAlpns?: readonly string[];
  readonly serverAlpns?: readonly string[];
}

export interface TlsEvent extends L7EventBase {
  readonly kind: 'tls';
  readonly tls: TlsSession;
}

export interface DnsAnswer {
  readonly rrname: string;
  readonly rrtype?: string;
  readonly ttl?: number;
  readonly rdata?: string;
}

/**
 * A DNS query or response, normalised over EVE dns v1, v2 and v3. A v1 answer logged as one
 * event per record becomes a response with one answer.
 */
export interface DnsMessage {
  readonly type: 'query' | 'response';
  /** DNS message id. */
  readonly id?: number;
  readonly rrname?: string;
  readonly rrtype?: string;
  readonly rcode?: string;
  readonly answers?: readonly DnsAnswer[];
}

export interface DnsEvent extends L7EventBase {
  readonly kind: 'dns';
  readonly dns: DnsMessage;
}

/** A transaction decoded from Suricata EVE. */
export type L7Event = HttpEvent | TlsEvent | DnsEvent;
export type L7Kind = L7Event['kind'];

/** Per-direction counters; absent when conntrack accounting is off (nf_conntrack_acct=0). */
export interface Counters {
  readonly packets: number;
  readonly bytes: number;
  readonly reversePackets: number;
  readonly reverseBytes: number;
}

/** One conntrack entry, from a dump or an event. */
export interface ConnSample {
  readonly kind: 'conn';
  /** When this sample was observed (dump or event time). */
  readonly timeUs: TimeUs;
  /** Conntrack id; absent for procfs and OVS sources. */
  readonly id?: number;
  /** Conntrack zone, 0 when none. */
  readonly zone: number;
  readonly mark: number;
  /** Conntrack labels as a hex string, when set. */
  readonly labels?: string;
  /** Tuple of the first packet: the client's view (destination may be a Service address). */
  readonly original: Tuple;
  /** Tuple expected for replies: its source is the post-DNAT destination. */
  readonly reply: Tuple;
  /** TCP state name as conntrack prints it (ESTABLISHED, TIME_WAIT, ...). */
  readonly tcpState?: string;
  readonly assured: boolean;
  readonly unreplied: boolean;
  /** Connection start and stop (needs nf_conntrack_timestamp). */
  readonly startUs?: TimeUs;
  readonly stopUs?: TimeUs;
  readonly counters?: Counters;
  /** True for a DESTROY event: this is the final sample of the connection. */
  readonly dying: boolean;
  /** Set by processor k8s_l7 (source = original source, destination = reply source). */
  readonly srcPod?: PodRef;
  readonly dstPod?: PodRef;
}

/**
 * Follows the last sample of a dump. A connection held in a store but absent from a complete
 * dump of its zone has disappeared.
 */
export interface ConnDumpEnd {
  readonly kind: 'conn_dump_end';
  /** When the dump began: every sample of the dump was observed at or after it. */
  readonly timeUs: TimeUs;
  /** Zones the dump covered; empty means all zones. */
  readonly zones: readonly number[];
  /** False when the dump failed or was cut short: absence then proves nothing. */
  readonly complete: boolean;
  readonly entries: number;
}

/** IPFIX flowEndReason (IANA IE 136). */
export const FlowEndReason = {
  idleTimeout: 1,
  activeTimeout: 2,
  endOfFlow: 3,
  forcedEnd: 4,
  lackOfResources: 5,
} as const;
export type FlowEndReason = (typeof FlowEndReason)[keyof typeof FlowEndReason];

/** Antrea flowType (PEN 56506 IE 137). 0 when it cannot be determined. */
export const FlowType = {
  unknown: 0,
  intraNode: 1,
  interNode: 2,
  toExternal: 3,
  fromExternal: 4,
} as const;
export type FlowType = (typeof FlowType)[keyof typeof FlowType];

/** The export unit: one connection's state at one export, with its new L7 transactions. */
export interface FlowRecord {
  readonly kind: 'flow';
  /** Stable id of the connection for the life of the agent (IPFIX flowId 148). */
  readonly flowKey: number;
  /** Original source to post-DNAT destination (the endpoint actually reached). */
  readonly tuple: Tuple;
  /** The destination the client addressed, when DNAT changed it (a Service address). */
  readonly service?: { readonly ip: string; readonly port: number; readonly name?: string };
  readonly zone?: number;
  readonly startUs: TimeUs;
  readonly endUs: TimeUs;
  readonly endReason: FlowEndReason;
  readonly totals: Counters;
  /** Change since this connection's previous export; sums of deltas equal the totals. */
  readonly deltas: Counters;
  readonly tcpState?: string;
  readonly srcPod?: PodRef;
  readonly dstPod?: PodRef;
  readonly flowType: FlowType;
  /** Application protocol of the L7 data on this connection, '' when none. */
  readonly app: L7Kind | '';
  /** Transactions joined since this connection's previous export, each exported once. */
  readonly l7: readonly L7Event[];
  /** Transactions of this connection dropped by caps since the previous export. */
  readonly l7Dropped: number;
}

export type PipelineRecord = L7Event | ConnSample | ConnDumpEnd | FlowRecord;

/**
 * Families group record kinds for wiring checks: a component declares the families it
 * consumes and produces, and the graph refuses a pipeline whose exporters would receive
 * a family they do not handle.
 */
export type RecordFamily = 'l7' | 'conn' | 'flow';
export const recordFamilies: readonly RecordFamily[] = ['l7', 'conn', 'flow'];

export function familyOf(record: PipelineRecord): RecordFamily {
  switch (record.kind) {
    case 'http':
    case 'tls':
    case 'dns':
      return 'l7';
    case 'conn':
    case 'conn_dump_end':
      return 'conn';
    case 'flow':
      return 'flow';
  }
}
