import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type HrTime,
  type Link,
  type SpanContext,
  type SpanStatus,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_NETWORK_TRANSPORT,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { FlowRecord, HttpEvent, L7Event, PodRef, TimeUs } from '../../pipeline/records.js';
import { ATTR_HTTP_RESPONSE_BODY_SIZE, ATTR_URL_TEMPLATE } from './attribute-names.js';
import {
  forwardedClient,
  method as httpMethod,
  type Method,
  protocolVersion,
  redactQuery,
  requestedHost,
  requestHeader,
  requestTarget,
  responseHeader,
  transportName,
} from './http-attributes.js';
import type { ResourceCache } from './resources.js';
import type { RouteTable } from './routes.js';
import { parseTraceparent, transactionIds } from './trace-context.js';

/** What to do with an HTTP transaction when neither Pod is opted in (or the Pods are unknown). */
export type UnattributedSpans = 'server' | 'none';

export interface SpanMapping {
  /** Part of every derived id: two agents never derive the same ids. */
  readonly nodeName: string;
  readonly routes: RouteTable;
  /** Allow-listed header names, lower case. */
  readonly requestHeaders: readonly string[];
  readonly responseHeaders: readonly string[];
  readonly unattributed: UnattributedSpans;
  readonly resources: ResourceCache;
  readonly scope: InstrumentationScope;
}

/** The Pods of a record that asked for L7 export, on the side they asked for. */
export interface ExportSides {
  /** The destination Pod, opted in for `ingress` or `both`: it gets SERVER spans. */
  readonly server?: PodRef;
  /** The source Pod, opted in for `egress` or `both`: it gets CLIENT spans. */
  readonly client?: PodRef;
}

export function exportSides(record: FlowRecord, event?: L7Event): ExportSides {
  const src = record.srcPod ?? event?.srcPod;
  const dst = record.dstPod ?? event?.dstPod;
  const server = dst?.l7Export === 'ingress' || dst?.l7Export === 'both' ? dst : undefined;
  const client = src?.l7Export === 'egress' || src?.l7Export === 'both' ? src : undefined;
  return { server, client };
}

/** The spans of one HTTP transaction: none, one, or a client span with its server child. */
export interface TransactionSpans {
  readonly client?: ReadableSpan;
  readonly server?: ReadableSpan;
  /** No Pod was opted in and `unattributed` is `none`: the transaction has no span. */
  readonly suppressed: boolean;
}

/**
 * Maps one HTTP transaction of a flow record to spans (reference/otel.md R3):
 * - SERVER on the destination Pod's resource when it is opted in for ingress; CLIENT on the
 *   source Pod's when it is opted in for egress; both in one trace, the server span a child
 *   of the client span.
 * - Neither opted in: with `unattributed: server`, one SERVER span on the destination Pod's
 *   resource when the Pod is known, else on a stand-in resource for the destination address;
 *   with `none`, no span.
 * - Times: Suricata logs a transaction once, when it completes, with one timestamp, so the
 *   span starts and ends at that time (zero duration). No duration is invented.
 * - Ids: a valid `traceparent` request header makes the top span a child of that remote
 *   parent, in its trace; otherwise the trace id is derived. Span ids are always derived
 *   (trace-context.ts), so re-processing the same input gives the same ids.
 */
export function mapTransaction(
  record: FlowRecord,
  event: HttpEvent,
  index: number,
  mapping: SpanMapping,
): TransactionSpans {
  const sides = exportSides(record, event);
  let serverResource: Resource | undefined = sides.server ? mapping.resources.pod(sides.server) : undefined;
  if (!sides.server && !sides.client) {
    if (mapping.unattributed === 'none') return { suppressed: true };
    const dst = record.dstPod ?? event.dstPod;
    serverResource = dst ? mapping.resources.pod(dst) : mapping.resources.address(record.tuple.dstIp);
  }

  const facts = transactionFacts(record, event, mapping);
  const ids = transactionIds(mapping.nodeName, transactionKey(event, index));
  const remote = singleTraceparent(event);
  const traceId = remote?.traceId ?? ids.traceId;
  const remoteParent: SpanContext | undefined = remote && {
    traceId: remote.traceId,
    spanId: remote.spanId,
    traceFlags: remote.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  };

  let client: ReadableSpan | undefined;
  let parent = remoteParent;
  if (sides.client) {
    const context = { traceId, spanId: ids.clientSpanId, traceFlags: TraceFlags.SAMPLED };
    client = new MappedSpan(
      facts.name,
      SpanKind.CLIENT,
      context,
      parent,
      facts.time,
      facts.clientError ? errorStatus : unsetStatus,
      clientAttributes(facts, mapping),
      mapping.resources.pod(sides.client),
      mapping.scope,
    );
    parent = { ...context, isRemote: false };
  }
  let server: ReadableSpan | undefined;
  if (serverResource) {
    server = new MappedSpan(
      facts.name,
      SpanKind.SERVER,
      { traceId, spanId: ids.serverSpanId, traceFlags: TraceFlags.SAMPLED },
      parent,
      facts.time,
      facts.serverError ? errorStatus : unsetStatus,
      serverAttributes(facts, mapping),
      serverResource,
      mapping.scope,
    );
  }
  return { client, server, suppressed: false };
}

/**
 * Identifies a transaction within this node's input: Suricata's flow_id and tx_id when
 * present, else the tuple, the time and the position in the record.
 */
function transactionKey(event: HttpEvent, index: number): string {
  if (event.flowId !== undefined && event.txId !== undefined) return `f${event.flowId}:${event.txId}`;
  const t = event.tuple;
  return `t${t.proto}|${t.srcIp}|${t.srcPort}|${t.dstIp}|${t.dstPort}|${event.timeUs}|${index}`;
}

/** A traceparent counts only when the request carried exactly one (W3C Trace Context §3.2). */
function singleTraceparent(event: HttpEvent) {
  const values = event.http.requestHeaders ? requestHeader(event.http, 'traceparent') : [];
  return values.length === 1 ? parseTraceparent(values[0] ?? '') : undefined;
}

/** What both spans of a transaction share. Built without object spreads: this is the hot path. */
interface TransactionFacts {
  readonly event: HttpEvent;
  readonly name: string;
  readonly time: HrTime;
  readonly method: Method;
  readonly scheme: string;
  readonly path: string | undefined;
  /** Redacted. */
  readonly query: string | undefined;
  readonly route: string | undefined;
  readonly statusCode: number | undefined;
  readonly serverError: boolean;
  readonly clientError: boolean;
  readonly errorType: string | undefined;
  readonly serverAddress: string;
  readonly serverPort: number;
  /** Whether the request named the host, and the port (Host header, absolute URI, ...). */
  readonly hostInRequest: boolean;
  readonly portInRequest: boolean;
  /** The address and port the client connected to: the Service address before DNAT. */
  readonly addressedIp: string;
  readonly addressedPort: number;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly transport: string;
  readonly protocolVersion: string | undefined;
}

function transactionFacts(record: FlowRecord, event: HttpEvent, mapping: SpanMapping): TransactionFacts {
  const http = event.http;
  const method = httpMethod(http.method);
  const target = requestTarget(http.url);
  const route = target.path === undefined ? undefined : mapping.routes.match(target.path);
  const statusCode = http.status;
  // Conventions: a status that cannot be interpreted is an error for both kinds.
  const uninterpretable =
    (statusCode === undefined && http.statusString !== undefined) ||
    (statusCode !== undefined && (statusCode < 100 || statusCode > 599));
  const serverError = uninterpretable || (statusCode !== undefined && statusCode >= 500);
  const clientError = uninterpretable || (statusCode !== undefined && statusCode >= 400);
  const addressedIp = record.service?.ip ?? record.tuple.dstIp;
  const addressedPort = record.service?.port ?? record.tuple.dstPort;
  const host = requestedHost(http, target);
  return {
    event,
    name: route === undefined ? method.nameWord : `${method.nameWord} ${route}`,
    time: hrTime(event.timeUs),
    method,
    scheme: target.scheme ?? 'http',
    path: target.path,
    query: target.query === undefined ? undefined : redactQuery(target.query),
    route,
    statusCode,
    serverError,
    clientError,
    errorType: !serverError && !clientError ? undefined : uninterpretable ? '_OTHER' : String(statusCode),
    serverAddress: host?.host ?? addressedIp,
    serverPort: host?.port ?? addressedPort,
    hostInRequest: host !== undefined,
    portInRequest: host?.port !== undefined,
    addressedIp,
    addressedPort,
    clientIp: record.tuple.srcIp,
    clientPort: record.tuple.srcPort,
    transport: transportName(record.tuple.proto),
    // Suricata writes `version: "2"` for HTTP/2 transactions, which may lack a request-line protocol.
    protocolVersion: http.version === '2' ? '2' : protocolVersion(http.protocol),
  };
}

function serverAttributes(facts: TransactionFacts, mapping: SpanMapping): Attributes {
  const http = facts.event.http;
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: facts.method.value,
    [ATTR_URL_SCHEME]: facts.scheme,
    [ATTR_SERVER_ADDRESS]: facts.serverAddress,
    [ATTR_SERVER_PORT]: facts.serverPort,
    [ATTR_CLIENT_ADDRESS]: forwardedClient(http) ?? facts.clientIp,
    [ATTR_NETWORK_PEER_ADDRESS]: facts.clientIp,
    [ATTR_NETWORK_PEER_PORT]: facts.clientPort,
    [ATTR_NETWORK_TRANSPORT]: facts.transport,
  };
  if (facts.path !== undefined) attributes[ATTR_URL_PATH] = facts.path;
  if (facts.query !== undefined) attributes[ATTR_URL_QUERY] = facts.query;
  if (facts.route !== undefined) attributes[ATTR_HTTP_ROUTE] = facts.route;
  if (facts.errorType !== undefined && facts.serverError) attributes[ATTR_ERROR_TYPE] = facts.errorType;
  addShared(attributes, facts, mapping);
  return attributes;
}

function clientAttributes(facts: TransactionFacts, mapping: SpanMapping): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: facts.method.value,
    [ATTR_SERVER_ADDRESS]: facts.serverAddress,
    [ATTR_SERVER_PORT]: facts.serverPort,
    [ATTR_URL_FULL]: urlFull(facts),
    [ATTR_NETWORK_PEER_ADDRESS]: facts.addressedIp,
    [ATTR_NETWORK_PEER_PORT]: facts.addressedPort,
    [ATTR_NETWORK_TRANSPORT]: facts.transport,
  };
  if (facts.route !== undefined) attributes[ATTR_URL_TEMPLATE] = facts.route;
  if (facts.errorType !== undefined && facts.clientError) attributes[ATTR_ERROR_TYPE] = facts.errorType;
  addShared(attributes, facts, mapping);
  return attributes;
}

function addShared(attributes: Attributes, facts: TransactionFacts, mapping: SpanMapping): void {
  const http = facts.event.http;
  if (facts.method.original !== undefined) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = facts.method.original;
  if (facts.statusCode !== undefined) {
    attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = facts.statusCode;
    // Suricata's `length` is the response body seen; without a response it is 0 and meaningless.
    if (http.length !== undefined) attributes[ATTR_HTTP_RESPONSE_BODY_SIZE] = http.length;
  }
  if (facts.protocolVersion !== undefined) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = facts.protocolVersion;
  if (http.userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = http.userAgent;
  for (const name of mapping.requestHeaders) {
    const values = requestHeader(http, name);
    if (values.length > 0) attributes[`http.request.header.${name}`] = values;
  }
  for (const name of mapping.responseHeaders) {
    const values = responseHeader(http, name);
    if (values.length > 0) attributes[`http.response.header.${name}`] = values;
  }
}

const defaultPorts: Readonly<Record<string, number>> = { http: 80, https: 443 };

/**
 * `url.full` as the client asked: scheme, the requested host with the port when the request
 * named one (else the address it connected to, with a non-default port), path, redacted query.
 */
function urlFull(facts: TransactionFacts): string {
  const host = facts.serverAddress.includes(':') ? `[${facts.serverAddress}]` : facts.serverAddress;
  const showPort = facts.hostInRequest ? facts.portInRequest : facts.serverPort !== defaultPorts[facts.scheme];
  const port = showPort ? `:${facts.serverPort}` : '';
  const query = facts.query === undefined ? '' : `?${facts.query}`;
  return `${facts.scheme}://${host}${port}${facts.path ?? '/'}${query}`;
}

/**
 * Microseconds since the epoch as an OTel HrTime: exact, unlike a number of milliseconds.
 * A non-finite time is refused: it would reach the backend as a garbage timestamp.
 */
export function hrTime(us: TimeUs): HrTime {
  if (!Number.isFinite(us)) throw new RangeError(`time is not a finite number (got ${us})`);
  const seconds = Math.floor(us / 1_000_000);
  return [seconds, (us - seconds * 1_000_000) * 1000];
}

const unsetStatus: SpanStatus = { code: SpanStatusCode.UNSET };
const errorStatus: SpanStatus = { code: SpanStatusCode.ERROR };
const zeroDuration: HrTime = [0, 0];
const noLinks: Link[] = [];
const noEvents: TimedEvent[] = [];

/** A finished span built from data, handed straight to the OTLP exporter (the "bypass", otel.md §1.5). */
class MappedSpan implements ReadableSpan {
  readonly endTime: HrTime;
  readonly duration = zeroDuration;
  readonly links = noLinks;
  readonly events = noEvents;
  readonly ended = true;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly #context: SpanContext;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly startTime: HrTime,
    readonly status: SpanStatus,
    readonly attributes: Attributes,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
  ) {
    this.#context = context;
    this.endTime = startTime;
  }

  spanContext(): SpanContext {
    return this.#context;
  }
}
