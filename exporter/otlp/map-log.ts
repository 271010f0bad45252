import type { SpanContext } from '@opentelemetry/api';
import { SeverityNumber, type LogAttributes } from '@opentelemetry/api-logs';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { ATTR_NETWORK_TRANSPORT, ATTR_NETWORK_TYPE } from '@opentelemetry/semantic-conventions';
import { isIpv6 } from '../../pipeline/ip.js';
import { FlowEndReason, FlowType, type FlowRecord, type PodRef, type TimeUs } from '../../pipeline/records.js';
import {
  ATTR_DESTINATION_ADDRESS,
  ATTR_DESTINATION_PORT,
  ATTR_SOURCE_ADDRESS,
  ATTR_SOURCE_PORT,
  DESTINATION_POD_PREFIX,
  FLOW_EVENT_NAME,
  FlowAttr,
  PodAttr,
  SOURCE_POD_PREFIX,
} from './attribute-names.js';
import { transportName } from './http-attributes.js';
import { exportSides, hrTime } from './map-span.js';
import type { ResourceCache } from './resources.js';

export interface LogMapping {
  readonly nodeName: string;
  readonly resources: ResourceCache;
  readonly scope: InstrumentationScope;
}

/** Which span of a transaction a flow log sits beside: the one on the log's resource. */
export type LogSide = 'server' | 'client';

/**
 * The resource a flow log is reported on, and the side it stands for: the destination Pod when
 * it is opted in for ingress, else the source Pod when opted in for egress, else a known Pod
 * (destination first), else the agent itself (`service.name: l7flow` on this node).
 */
export function logSubject(record: FlowRecord, mapping: LogMapping): { resource: Resource; side: LogSide } {
  const sides = exportSides(record, record.l7[0]);
  if (sides.server) return { resource: mapping.resources.pod(sides.server), side: 'server' };
  if (sides.client) return { resource: mapping.resources.pod(sides.client), side: 'client' };
  if (record.dstPod) return { resource: mapping.resources.pod(record.dstPod), side: 'server' };
  if (record.srcPod) return { resource: mapping.resources.pod(record.srcPod), side: 'client' };
  return { resource: mapping.resources.agent(mapping.nodeName), side: 'server' };
}

/**
 * One `l7flow.flow` event per flow record (reference/otel.md R4): timestamp = the record's end
 * (when this export was cut), observed = when the exporter mapped it, severity INFO, a short
 * display body, and the flow in attributes (attribute-names.ts). `span` correlates the log
 * with the span of the record's single transaction.
 */
export function mapFlowLog(
  record: FlowRecord,
  resource: Resource,
  observedUs: TimeUs,
  mapping: LogMapping,
  span?: SpanContext,
): ReadableLogRecord {
  return {
    hrTime: hrTime(record.endUs),
    hrTimeObserved: hrTime(observedUs),
    ...(span ? { spanContext: span } : {}),
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: displayLine(record),
    eventName: FLOW_EVENT_NAME,
    resource,
    instrumentationScope: mapping.scope,
    attributes: flowAttributes(record, mapping.resources),
    droppedAttributesCount: 0,
  };
}

function flowAttributes(record: FlowRecord, resources: ResourceCache): LogAttributes {
  const { tuple, totals, deltas } = record;
  const attributes: LogAttributes = {
    [ATTR_SOURCE_ADDRESS]: tuple.srcIp,
    [ATTR_SOURCE_PORT]: tuple.srcPort,
    [ATTR_DESTINATION_ADDRESS]: tuple.dstIp,
    [ATTR_DESTINATION_PORT]: tuple.dstPort,
    [ATTR_NETWORK_TRANSPORT]: transportName(tuple.proto),
    [ATTR_NETWORK_TYPE]: isIpv6(tuple.srcIp) ? 'ipv6' : 'ipv4',
    [FlowAttr.id]: record.flowKey,
    [FlowAttr.start]: isoTime(record.startUs),
    [FlowAttr.endReason]: endReasonNames[record.endReason] ?? String(record.endReason),
    [FlowAttr.type]: flowTypeNames[record.flowType] ?? String(record.flowType),
    [FlowAttr.packets]: totals.packets,
    [FlowAttr.bytes]: totals.bytes,
    [FlowAttr.reversePackets]: totals.reversePackets,
    [FlowAttr.reverseBytes]: totals.reverseBytes,
    [FlowAttr.packetsDelta]: deltas.packets,
    [FlowAttr.bytesDelta]: deltas.bytes,
    [FlowAttr.reversePacketsDelta]: deltas.reversePackets,
    [FlowAttr.reverseBytesDelta]: deltas.reverseBytes,
    [FlowAttr.l7Transactions]: record.l7.length,
    [FlowAttr.l7Dropped]: record.l7Dropped,
  };
  if (record.tcpState !== undefined) attributes[FlowAttr.tcpState] = record.tcpState;
  if (record.zone !== undefined) attributes[FlowAttr.zone] = record.zone;
  if (record.service) {
    attributes[FlowAttr.serviceAddress] = record.service.ip;
    attributes[FlowAttr.servicePort] = record.service.port;
    if (record.service.name !== undefined) attributes[FlowAttr.serviceName] = record.service.name;
  }
  if (record.srcPod) addPod(attributes, SOURCE_POD_PREFIX, record.srcPod, resources);
  if (record.dstPod) addPod(attributes, DESTINATION_POD_PREFIX, record.dstPod, resources);
  if (record.app !== '') attributes[FlowAttr.l7Protocol] = record.app;
  addL7Summary(attributes, record);
  return attributes;
}

function addPod(attributes: LogAttributes, prefix: string, pod: PodRef, resources: ResourceCache): void {
  attributes[prefix + PodAttr.podName] = pod.name;
  attributes[prefix + PodAttr.podUid] = pod.uid;
  attributes[prefix + PodAttr.namespace] = pod.namespace;
  if (pod.node !== '') attributes[prefix + PodAttr.node] = pod.node;
  attributes[prefix + PodAttr.serviceName] = resources.serviceName(pod);
  if (pod.l7Export !== undefined) attributes[prefix + PodAttr.l7Export] = pod.l7Export;
}

/** At most this many values per summary list (the join already caps transactions per record). */
const maxSummaryValues = 32;

/**
 * A summary of the record's transactions: HTTP methods and status codes per transaction
 * (0 = no response), distinct hosts; TLS server names and versions; DNS queries and
 * response codes. Lists keep the transactions' order.
 */
function addL7Summary(attributes: LogAttributes, record: FlowRecord): void {
  const methods: string[] = [];
  const statusCodes: number[] = [];
  const hosts = new Set<string>();
  const serverNames = new Set<string>();
  const versions = new Set<string>();
  const queries = new Set<string>();
  const responseCodes = new Set<string>();
  for (const event of record.l7) {
    switch (event.kind) {
      case 'http':
        if (methods.length < maxSummaryValues) {
          methods.push(event.http.method ?? '');
          statusCodes.push(event.http.status ?? 0);
        }
        addBounded(hosts, event.http.hostname);
        break;
      case 'tls':
        addBounded(serverNames, event.tls.sni);
        addBounded(versions, event.tls.version);
        break;
      case 'dns':
        addBounded(queries, event.dns.rrname);
        addBounded(responseCodes, event.dns.rcode);
        break;
    }
  }
  if (methods.length > 0) {
    attributes[FlowAttr.httpMethods] = methods;
    attributes[FlowAttr.httpStatusCodes] = statusCodes;
  }
  if (hosts.size > 0) attributes[FlowAttr.httpHosts] = [...hosts];
  if (serverNames.size > 0) attributes[FlowAttr.tlsServerNames] = [...serverNames];
  if (versions.size > 0) attributes[FlowAttr.tlsVersions] = [...versions];
  if (queries.size > 0) attributes[FlowAttr.dnsQueries] = [...queries];
  if (responseCodes.size > 0) attributes[FlowAttr.dnsResponseCodes] = [...responseCodes];
}

function addBounded(set: Set<string>, value: string | undefined): void {
  if (value !== undefined && value !== '' && set.size < maxSummaryValues) set.add(value);
}

const endReasonNames: Readonly<Record<number, string>> = {
  [FlowEndReason.idleTimeout]: 'idle_timeout',
  [FlowEndReason.activeTimeout]: 'active_timeout',
  [FlowEndReason.endOfFlow]: 'end_of_flow',
  [FlowEndReason.forcedEnd]: 'forced_end',
  [FlowEndReason.lackOfResources]: 'lack_of_resources',
};

const flowTypeNames: Readonly<Record<number, string>> = {
  [FlowType.unknown]: 'unknown',
  [FlowType.intraNode]: 'intra_node',
  [FlowType.interNode]: 'inter_node',
  [FlowType.toExternal]: 'to_external',
  [FlowType.fromExternal]: 'from_external',
};

/** RFC 3339 UTC with microseconds: `2026-11-26T12:00:00.123456Z`. */
export function isoTime(us: TimeUs): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 23)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}

/** `tcp 10.0.0.1:40000 -> 10.0.0.2:80 http`, for people reading the log in a backend. */
function displayLine(record: FlowRecord): string {
  const { tuple } = record;
  const endpoint = (ip: string, port: number) => (isIpv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`);
  const app = record.app === '' ? '' : ` ${record.app}`;
  return `${transportName(tuple.proto)} ${endpoint(tuple.srcIp, tuple.srcPort)} -> ${endpoint(tuple.dstIp, tuple.dstPort)}${app}`;
}
