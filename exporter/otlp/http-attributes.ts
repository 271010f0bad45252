import { canonicalIp } from '../../pipeline/ip.js';
import type { HttpHeader, HttpTransaction } from '../../pipeline/records.js';

/**
 * Pieces of the HTTP semantic conventions (docs/http/http-spans.md, semantic-conventions
 * 1.45) computed from what Suricata logged about a transaction. Pure functions.
 */

/** RFC 9110 methods, PATCH (RFC 5789) and QUERY: the conventions' default known list. */
const knownMethods: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
]);

export interface Method {
  /** `http.request.method`: a known method exactly as sent, else `_OTHER`. */
  readonly value: string;
  /** `http.request.method_original`, set only when the method is not a known one. */
  readonly original?: string;
  /** The span name's first word: the method, or `HTTP` for `_OTHER`. */
  readonly nameWord: string;
}

/** Methods are case-sensitive: `get` is not GET (conventions: "MUST match exactly"). */
export function method(sent: string | undefined): Method {
  if (sent !== undefined && knownMethods.has(sent)) return { value: sent, nameWord: sent };
  return sent === undefined || sent === ''
    ? { value: '_OTHER', nameWord: 'HTTP' }
    : { value: '_OTHER', original: sent, nameWord: 'HTTP' };
}

export interface RequestTarget {
  /** Present for the absolute form (`http://host/path`), as sent to proxies. */
  readonly scheme?: string;
  readonly authority?: string;
  readonly path?: string;
  /** Without the `?`; absent when the target has no query. */
  readonly query?: string;
}

/** Splits a request target (RFC 9112 §3.2: origin, absolute, authority or asterisk form). */
export function requestTarget(url: string | undefined): RequestTarget {
  if (url === undefined || url === '') return {};
  if (url.charCodeAt(0) === 0x2f && !url.includes('#')) {
    // Origin form (`/path?query`), by far the most common: no pattern matching needed.
    const question = url.indexOf('?');
    if (question < 0) return { path: url };
    const query = url.slice(question + 1);
    return query === '' ? { path: url.slice(0, question) } : { path: url.slice(0, question), query };
  }
  let rest = url;
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  let scheme: string | undefined;
  let authority: string | undefined;
  const absolute = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)/.exec(rest);
  if (absolute) {
    scheme = (absolute[1] ?? '').toLowerCase();
    authority = absolute[2];
    rest = rest.slice(absolute[0].length);
    if (rest === '' || rest.startsWith('?')) rest = `/${rest}`;
  }
  const question = rest.indexOf('?');
  const path = question >= 0 ? rest.slice(0, question) : rest;
  const query = question >= 0 ? rest.slice(question + 1) : undefined;
  return {
    ...(scheme !== undefined ? { scheme } : {}),
    ...(authority ? { authority } : {}),
    ...(path !== '' ? { path } : {}),
    ...(query !== undefined && query !== '' ? { query } : {}),
  };
}

/** Query parameters whose values the conventions say to redact by default (url.query). */
const redactedParameters: ReadonlySet<string> = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature']);

/** The query with the values of credential-carrying parameters replaced by `REDACTED`. */
export function redactQuery(query: string): string {
  if (!/AWSAccessKeyId|Signature|sig/.test(query)) return query;
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq >= 0 && redactedParameters.has(pair.slice(0, eq)) ? `${pair.slice(0, eq)}=REDACTED` : pair;
    })
    .join('&');
}

/** `network.protocol.version` from the request line's version (`HTTP/1.1` → `1.1`, `HTTP/2` → `2`). */
export function protocolVersion(protocol: string | undefined): string | undefined {
  if (protocol === 'HTTP/1.1') return '1.1';
  const match = /^HTTP\/(\d)(?:\.(\d))?$/i.exec(protocol?.trim() ?? '');
  if (!match) return undefined;
  const major = match[1] ?? '';
  const minor = match[2];
  // HTTP/2 and HTTP/3 have no minor version (the conventions write "2" and "3").
  return Number(major) >= 2 ? major : `${major}.${minor ?? '0'}`;
}

const transportNames: Readonly<Record<number, string>> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'ipv6-icmp',
  132: 'sctp',
};

/** `network.transport`: the IANA keyword in lower case, the number for others. */
export function transportName(proto: number): string {
  return transportNames[proto] ?? String(proto);
}

/** Header values in wire order; names compare case-insensitively (`name` is lower case). */
export function headerValues(headers: readonly HttpHeader[], name: string): string[] {
  const values: string[] = [];
  for (const header of headers) if (header.name.toLowerCase() === name) values.push(header.value);
  return values;
}

/**
 * The request header `name` (lower case). When Suricata did not dump the headers
 * (`dump-all-headers` off), the ones it logs as fields stand in: Host, User-Agent, Referer.
 */
export function requestHeader(http: HttpTransaction, name: string): string[] {
  if (http.requestHeaders) return headerValues(http.requestHeaders, name);
  switch (name) {
    case 'host':
      return http.hostname === undefined ? [] : [formatHost(http.hostname, http.httpPort)];
    case 'user-agent':
      return http.userAgent === undefined ? [] : [http.userAgent];
    case 'referer':
      return http.referer === undefined ? [] : [http.referer];
    default:
      return [];
  }
}

/** The response header `name`; without a dump, Content-Type and Location stand in. */
export function responseHeader(http: HttpTransaction, name: string): string[] {
  if (http.responseHeaders) return headerValues(http.responseHeaders, name);
  switch (name) {
    case 'content-type':
      return http.contentType === undefined ? [] : [http.contentType];
    case 'location':
      return http.redirect === undefined ? [] : [http.redirect];
    default:
      return [];
  }
}

export interface HostPort {
  readonly host: string;
  readonly port?: number;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port` (a Host header or an authority). */
export function parseHost(text: string): HostPort | undefined {
  const value = text.trim();
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]@/]+))(?::(\d{1,5}))?$/.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? (match[2] ?? '').toLowerCase();
  if (match[3] === undefined) return { host };
  const port = Number(match[3]);
  return port <= 65535 ? { host, port } : { host };
}

function formatHost(host: string, port: number | undefined): string {
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? bracketed : `${bracketed}:${port}`;
}

/**
 * The host the client asked for, in the conventions' order for server spans: Forwarded `host`,
 * X-Forwarded-Host, HTTP/2 `:authority`, Host (which Suricata logs as `hostname` and
 * `http_port`), then the absolute-form authority.
 */
export function requestedHost(http: HttpTransaction, target: RequestTarget): HostPort | undefined {
  const headers = http.requestHeaders;
  if (headers) {
    const candidates = [
      forwardedParameter(headers, 'host'),
      headerValues(headers, 'x-forwarded-host')[0]?.split(',')[0],
      headerValues(headers, ':authority')[0],
    ];
    for (const candidate of candidates) {
      const parsed = candidate === undefined ? undefined : parseHost(candidate);
      if (parsed) return parsed;
    }
  }
  if (http.hostname !== undefined && http.hostname !== '') {
    const host = http.hostname.toLowerCase();
    return http.httpPort === undefined ? { host } : { host, port: http.httpPort };
  }
  return target.authority === undefined ? undefined : parseHost(target.authority.replace(/^[^@]*@/, ''));
}

/**
 * The original client behind proxies: the first Forwarded `for` (RFC 7239), else the first
 * X-Forwarded-For hop. Only IP addresses count: `unknown` and obfuscated identifiers do not.
 */
export function forwardedClient(http: HttpTransaction): string | undefined {
  const headers = http.requestHeaders;
  if (!headers) return undefined;
  const candidates = [forwardedParameter(headers, 'for'), headerValues(headers, 'x-forwarded-for')[0]?.split(',')[0]];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    const ip = ipOfNode(candidate.trim());
    if (ip !== undefined) return ip;
  }
  return undefined;
}

/** The value of `parameter` in the first element of the first Forwarded header. */
function forwardedParameter(headers: readonly HttpHeader[], parameter: string): string | undefined {
  const first = headerValues(headers, 'forwarded')[0]?.split(',')[0];
  if (first === undefined) return undefined;
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== parameter) continue;
    return pair
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/** An RFC 7239 node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`) as a canonical IP. */
function ipOfNode(node: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
  if (bracketed) return canonicalIp(bracketed[1] ?? '');
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(node);
  return canonicalIp(v4WithPort ? (v4WithPort[1] ?? '') : node);
}
