import { canonicalIp } from '../../pipeline/ip.js';
import type {
  DnsAnswer,
  DnsEvent,
  DnsMessage,
  HttpEvent,
  HttpHeader,
  HttpTransaction,
  L7Event,
  L7Kind,
  TlsEvent,
  TlsSession,
  Tuple,
} from '../../pipeline/records.js';
import { TimestampParser } from './timestamp.js';

/** The EVE event types decoded into L7Events. */
export const decodedEventTypes: readonly L7Kind[] = ['http', 'tls', 'dns'];

/**
 * Why a line produced no event. `unselected`: a decodable type left out of `event_types`;
 * `other_type`: a type l7flow does not decode (flow, alert, stats, ...); `malformed`: not a
 * JSON object; `invalid`: JSON without a usable timestamp, addresses or protocol.
 */
export type SkipReason = 'unselected' | 'other_type' | 'malformed' | 'invalid';

const protocolNumbers: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  'ipv6-icmp': 58,
  icmpv6: 58,
  sctp: 132,
  igmp: 2,
  gre: 47,
  esp: 50,
};

const eventTypeMarker = '"event_type":"';

type Json = Record<string, unknown>;

/**
 * Decodes one EVE line into an L7Event, tolerant of every EVE variation of Suricata 4.x-8.x
 * listed in reference/eve.md: `vlan` as integer or array, `\/` escapes, timestamps with any
 * offset form, fully expanded IPv6 (canonicalised), missing `status`/`http_content_type`,
 * `status_string`, header arrays, DNS v1/v2/v3, `null` fields, numbers beyond 2^31.
 * Lines of unselected types are recognised from the raw text and skipped without parsing
 * when the compact `"event_type":"` form is present (Suricata always writes it so).
 * Never throws.
 */
export class EveDecoder {
  readonly #selected: ReadonlySet<string>;
  readonly #timestamps = new TimestampParser();

  constructor(selected: readonly L7Kind[] = decodedEventTypes) {
    this.#selected = new Set(selected);
  }

  decode(line: string): L7Event | SkipReason {
    const marker = line.indexOf(eventTypeMarker);
    if (marker >= 0) {
      const start = marker + eventTypeMarker.length;
      const type = line.slice(start, line.indexOf('"', start));
      if (!this.#selected.has(type)) return isDecodedType(type) ? 'unselected' : 'other_type';
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return 'malformed';
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'malformed';
    return this.decodeObject(parsed as Json);
  }

  /** Decodes an already parsed EVE object. */
  decodeObject(json: Json): L7Event | SkipReason {
    const type = json.event_type;
    if (typeof type !== 'string') return 'invalid';
    if (!this.#selected.has(type)) return isDecodedType(type) ? 'unselected' : 'other_type';
    const timeUs = typeof json.timestamp === 'string' ? this.#timestamps.parse(json.timestamp) : undefined;
    const tuple = decodeTuple(json);
    if (timeUs === undefined || tuple === undefined) return 'invalid';
    const ids = decodeIds(json);
    switch (type) {
      case 'http': {
        const http = object(json.http);
        return http ? ({ kind: 'http', timeUs, tuple, ...ids, http: decodeHttp(http) } satisfies HttpEvent) : 'invalid';
      }
      case 'tls': {
        const tls = object(json.tls);
        return tls ? ({ kind: 'tls', timeUs, tuple, ...ids, tls: decodeTls(tls) } satisfies TlsEvent) : 'invalid';
      }
      case 'dns': {
        const dns = object(json.dns);
        const message = dns && decodeDns(dns);
        if (!dns || !message) return 'invalid';
        const txId = ids.txId ?? integer(dns.tx_id); // v1/v2 queries carry it inside `dns`
        if (txId !== undefined) ids.txId = txId;
        const oriented = message.type === 'response' ? clientFirst(tuple) : tuple;
        return { kind: 'dns', timeUs, tuple: oriented, ...ids, dns: message } satisfies DnsEvent;
      }
      default:
        return 'other_type';
    }
  }
}

function isDecodedType(type: string): boolean {
  return type === 'http' || type === 'tls' || type === 'dns';
}

function decodeIds(json: Json): { flowId?: number; txId?: number; vlan?: readonly number[] } {
  const out: { flowId?: number; txId?: number; vlan?: readonly number[] } = {};
  const flowId = integer(json.flow_id);
  if (flowId !== undefined) out.flowId = flowId;
  const txId = integer(json.tx_id);
  if (txId !== undefined) out.txId = txId;
  const vlan = json.vlan;
  if (typeof vlan === 'number' && Number.isInteger(vlan)) out.vlan = [vlan];
  else if (Array.isArray(vlan) && vlan.every((v) => typeof v === 'number' && Number.isInteger(v)))
    out.vlan = vlan as number[];
  return out;
}

function decodeTuple(json: Json): Tuple | undefined {
  const srcIp = typeof json.src_ip === 'string' ? canonicalIp(json.src_ip) : undefined;
  const dstIp = typeof json.dest_ip === 'string' ? canonicalIp(json.dest_ip) : undefined;
  const proto = protocolNumber(json.proto);
  if (srcIp === undefined || dstIp === undefined || proto === undefined) return undefined;
  return { proto, srcIp, srcPort: port(json.src_port), dstIp, dstPort: port(json.dest_port) };
}

function protocolNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 255 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const known = protocolNumbers[value.toLowerCase()];
  if (known !== undefined) return known;
  return /^\d{1,3}$/.test(value) && Number(value) <= 255 ? Number(value) : undefined;
}

function port(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535 ? value : 0;
}

/**
 * DNS answers are logged in packet direction by some versions (4.1 v1 answers, 8.0
 * responses: src = the resolver's port 53); transactions are keyed client first.
 */
function clientFirst(tuple: Tuple): Tuple {
  if (tuple.srcPort !== 53 || tuple.dstPort === 53) return tuple;
  return { proto: tuple.proto, srcIp: tuple.dstIp, srcPort: tuple.dstPort, dstIp: tuple.srcIp, dstPort: tuple.srcPort };
}

function decodeHttp(http: Json): HttpTransaction {
  const out: { -readonly [K in keyof HttpTransaction]: HttpTransaction[K] } = {};
  setString(out, 'hostname', http.hostname);
  setString(out, 'url', http.url);
  setString(out, 'method', http.http_method);
  setString(out, 'protocol', http.protocol);
  setString(out, 'version', http.version);
  setString(out, 'userAgent', http.http_user_agent);
  setString(out, 'contentType', http.http_content_type);
  setString(out, 'referer', http.http_refer);
  setString(out, 'redirect', http.redirect);
  setString(out, 'statusString', http.status_string);
  const httpPort = integer(http.http_port);
  if (httpPort !== undefined) out.httpPort = httpPort;
  // `status` is an integer; old documentation examples show it as a string.
  const status =
    typeof http.status === 'string' && /^\d+$/.test(http.status) ? Number(http.status) : integer(http.status);
  if (status !== undefined) out.status = status;
  const length = integer(http.length);
  if (length !== undefined) out.length = length;
  const requestHeaders = headers(http.request_headers);
  if (requestHeaders) out.requestHeaders = requestHeaders;
  const responseHeaders = headers(http.response_headers);
  if (responseHeaders) out.responseHeaders = responseHeaders;
  return out;
}

function headers(value: unknown): HttpHeader[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: HttpHeader[] = [];
  for (const item of value) {
    const header = object(item);
    if (header && typeof header.name === 'string' && typeof header.value === 'string') {
      out.push({ name: header.name, value: header.value });
    }
  }
  return out;
}

function decodeTls(tls: Json): TlsSession {
  const out: { -readonly [K in keyof TlsSession]: TlsSession[K] } = {};
  setString(out, 'sni', tls.sni);
  setString(out, 'version', tls.version);
  setString(out, 'subject', tls.subject);
  setString(out, 'issuerDn', tls.issuerdn);
  setString(out, 'serial', tls.serial);
  setString(out, 'fingerprint', tls.fingerprint);
  setString(out, 'notBefore', tls.notbefore);
  setString(out, 'notAfter', tls.notafter);
  setString(out, 'ja3', object(tls.ja3)?.hash);
  setString(out, 'ja3s', object(tls.ja3s)?.hash);
  setString(out, 'ja4', tls.ja4);
  if (typeof tls.session_resumed === 'boolean') out.sessionResumed = tls.session_resumed;
  const clientAlpns = strings(tls.client_alpns);
  if (clientAlpns) out.clientAlpns = clientAlpns;
  const serverAlpns = strings(tls.server_alpns);
  if (serverAlpns) out.serverAlpns = serverAlpns;
  return out;
}

/** Normalises DNS v1 (one event per query or answer record), v2 and v3 into one shape. */
function decodeDns(dns: Json): DnsMessage | undefined {
  const type = dns.type;
  const isQuery = type === 'query' || type === 'request';
  if (!isQuery && type !== 'answer' && type !== 'response') return undefined;
  const out: { -readonly [K in keyof DnsMessage]: DnsMessage[K] } = { type: isQuery ? 'query' : 'response' };
  const id = integer(dns.id);
  if (id !== undefined) out.id = id;
  const firstQuery = Array.isArray(dns.queries) ? object(dns.queries[0]) : undefined; // v3
  setString(out, 'rrname', firstQuery?.rrname ?? dns.rrname);
  setString(out, 'rrtype', firstQuery?.rrtype ?? dns.rrtype);
  setString(out, 'rcode', dns.rcode);
  if (!isQuery) {
    const answers: DnsAnswer[] = [];
    if (Array.isArray(dns.answers)) {
      for (const item of dns.answers) {
        const answer = object(item);
        if (answer) pushAnswer(answers, answer);
      }
    } else if (dns.rdata !== undefined || (dns.version === undefined && dns.ttl !== undefined)) {
      pushAnswer(answers, dns); // v1: the answer record is the event itself
    }
    if (answers.length > 0) out.answers = answers;
  }
  return out;
}

function pushAnswer(answers: DnsAnswer[], record: Json): void {
  if (typeof record.rrname !== 'string') return;
  const answer: { -readonly [K in keyof DnsAnswer]: DnsAnswer[K] } = { rrname: record.rrname };
  setString(answer, 'rrtype', record.rrtype);
  const ttl = integer(record.ttl);
  if (ttl !== undefined) answer.ttl = ttl;
  if (typeof record.rdata === 'string') {
    answer.rdata = record.rrtype === 'AAAA' ? (canonicalIp(record.rdata) ?? record.rdata) : record.rdata;
  }
  answers.push(answer);
}

function object(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

function setString<T extends object>(target: T, key: keyof T, value: unknown): void {
  if (typeof value === 'string') (target as Record<keyof T, unknown>)[key] = value;
}
