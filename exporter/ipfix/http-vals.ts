import type { HttpEvent, HttpTransaction } from '../../pipeline/records.js';
import { longestPrefix } from './truncate.js';

/**
 * Antrea's `httpVals` (PEN 56506 IE 156): a JSON object keyed by transaction id whose
 * values hold exactly these keys, in this order (the Go struct Antrea marshals, reference
 * antrea.md §5-6). Go writes a field without `omitempty` even when it is the zero value, so
 * an absent string is "" and an absent number is 0.
 */
export interface HttpVal {
  hostname: string;
  url: string;
  http_user_agent: string;
  http_content_type: string;
  http_method: string;
  protocol: string;
  status: number;
  length: number;
}

/** The string keys shortened, in this order, when one transaction alone is too large. */
const truncationOrder = ['url', 'http_user_agent', 'hostname', 'http_content_type', 'http_method', 'protocol'] as const;

export function httpVal(http: HttpTransaction): HttpVal {
  return {
    hostname: http.hostname ?? '',
    url: http.url ?? '',
    http_user_agent: http.userAgent ?? '',
    http_content_type: http.contentType ?? '',
    http_method: http.method ?? '',
    protocol: http.protocol ?? '',
    status: integerOrZero(http.status),
    length: integerOrZero(http.length),
  };
}

function integerOrZero(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) ? Math.trunc(value) : 0;
}

/** `"key":{...}`, one member of the httpVals object. */
function member(key: string, v: HttpVal): string {
  return (
    `${JSON.stringify(key)}:{"hostname":${JSON.stringify(v.hostname)},"url":${JSON.stringify(v.url)},` +
    `"http_user_agent":${JSON.stringify(v.http_user_agent)},"http_content_type":${JSON.stringify(v.http_content_type)},` +
    `"http_method":${JSON.stringify(v.http_method)},"protocol":${JSON.stringify(v.protocol)},` +
    `"status":${v.status},"length":${v.length}}`
  );
}

/**
 * The key of each transaction: its `tx_id` as a string; events without one get "-1",
 * "-2", ... in arrival order (Suricata tx ids are never negative, and Antrea's aggregator
 * parses keys as int32).
 */
function keysOf(events: readonly HttpEvent[]): string[] {
  let withoutTxId = 0;
  return events.map((event) => (event.txId !== undefined ? String(event.txId) : String(-++withoutTxId)));
}

/**
 * All of a flow's transactions as one httpVals object, or undefined when two of them share
 * a key (planHttpVals() then splits them). The common case, measured only if it does not fit.
 */
export function httpValsObject(events: readonly HttpEvent[]): string | undefined {
  const keys = keysOf(events);
  if (new Set(keys).size !== keys.length) return undefined;
  return `{${events.map((event, i) => member(keys[i] as string, httpVal(event.http))).join(',')}}`;
}

export interface HttpValsPlan {
  /** One complete JSON object per record: the flow's record first, then its continuations. */
  readonly chunks: readonly string[];
  /** Transactions whose strings were shortened so that they fit one record. */
  readonly truncated: number;
  /** Transactions that could not fit a record even with every string emptied. */
  readonly dropped: number;
}

/**
 * Splits a flow's HTTP transactions into httpVals values of at most `capacity` UTF-8
 * bytes each, in arrival order, so that every record carries one valid JSON object and no
 * transaction is carried twice. A key (see keysOf) already present in the current object
 * starts a new object rather than overwrite the earlier transaction.
 *
 * A transaction that alone exceeds `capacity` has its strings shortened (url first, then
 * user agent, hostname, content type, method, protocol; whole characters kept); if it
 * still does not fit it is dropped. Both are reported in the plan for the caller to count.
 */
export function planHttpVals(events: readonly HttpEvent[], capacity: number): HttpValsPlan {
  const chunks: string[] = [];
  let truncated = 0;
  let dropped = 0;
  let members: string[] = [];
  let keys = new Set<string>();
  let size = 2; // "{}"
  const allKeys = keysOf(events);

  const close = () => {
    if (members.length > 0) chunks.push(`{${members.join(',')}}`);
    members = [];
    keys = new Set();
    size = 2;
  };

  for (const [i, event] of events.entries()) {
    const key = allKeys[i] as string;
    let text = member(key, httpVal(event.http));
    let bytes = Buffer.byteLength(text);
    if (bytes + 2 > capacity) {
      const shortened = shorten(key, httpVal(event.http), capacity - 2);
      if (shortened === undefined) {
        dropped++;
        continue;
      }
      truncated++;
      text = shortened;
      bytes = Buffer.byteLength(text);
    }
    if (members.length > 0 && (size + 1 + bytes > capacity || keys.has(key))) close();
    size += (members.length > 0 ? 1 : 0) + bytes;
    members.push(text);
    keys.add(key);
  }
  close();
  return { chunks, truncated, dropped };
}

/** The member text cut down to `limit` bytes, or undefined when even empty strings exceed it. */
function shorten(key: string, value: HttpVal, limit: number): string | undefined {
  for (const name of truncationOrder) {
    const text = member(key, value);
    const excess = Buffer.byteLength(text) - limit;
    if (excess <= 0) return text;
    const quoted = (s: string) => Buffer.byteLength(JSON.stringify(s));
    value[name] = longestPrefix(value[name], quoted(value[name]) - excess, quoted) ?? '';
  }
  const text = member(key, value);
  return Buffer.byteLength(text) <= limit ? text : undefined;
}

/**
 * The largest httpVals value that fits a record with `room` octets left for the field,
 * its variable-length prefix included (1 octet below 255 bytes, else 3; RFC 7011 §7).
 */
export function httpValsCapacity(room: number): number {
  return room - 3 >= 255 ? room - 3 : Math.max(0, Math.min(room - 1, 254));
}
