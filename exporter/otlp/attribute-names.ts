/**
 * Attribute names this exporter writes that are not stable semantic conventions. Stable names
 * come from @opentelemetry/semantic-conventions; incubating ones are copied here, as that
 * package advises, so a minor release cannot rename them under us. Flow attributes have no
 * convention yet (reference/otel.md §3.3): they live under `l7flow.` and only in this table.
 */

// Incubating semantic conventions (semantic-conventions 1.45.0).
export const ATTR_URL_TEMPLATE = 'url.template';
export const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';
export const ATTR_SOURCE_ADDRESS = 'source.address';
export const ATTR_SOURCE_PORT = 'source.port';
export const ATTR_DESTINATION_ADDRESS = 'destination.address';
export const ATTR_DESTINATION_PORT = 'destination.port';

/** The log record's EventName (OTLP LogRecord.event_name, field 12). */
export const FLOW_EVENT_NAME = 'l7flow.flow';

/** Flow record attributes of the `l7flow.flow` event. */
export const FlowAttr = {
  id: 'l7flow.flow.id',
  start: 'l7flow.flow.start',
  endReason: 'l7flow.flow.end_reason',
  type: 'l7flow.flow.type',
  tcpState: 'l7flow.flow.tcp_state',
  zone: 'l7flow.flow.zone',
  packets: 'l7flow.flow.packets',
  bytes: 'l7flow.flow.bytes',
  reversePackets: 'l7flow.flow.reverse_packets',
  reverseBytes: 'l7flow.flow.reverse_bytes',
  packetsDelta: 'l7flow.flow.packets_delta',
  bytesDelta: 'l7flow.flow.bytes_delta',
  reversePacketsDelta: 'l7flow.flow.reverse_packets_delta',
  reverseBytesDelta: 'l7flow.flow.reverse_bytes_delta',
  serviceAddress: 'l7flow.service.address',
  servicePort: 'l7flow.service.port',
  serviceName: 'l7flow.service.name',
  l7Protocol: 'l7flow.l7.protocol',
  l7Transactions: 'l7flow.l7.transactions',
  l7Dropped: 'l7flow.l7.dropped',
  httpMethods: 'l7flow.http.methods',
  httpStatusCodes: 'l7flow.http.status_codes',
  httpHosts: 'l7flow.http.hosts',
  tlsServerNames: 'l7flow.tls.server_names',
  tlsVersions: 'l7flow.tls.versions',
  dnsQueries: 'l7flow.dns.queries',
  dnsResponseCodes: 'l7flow.dns.response_codes',
} as const;

/** Prefixes of the two Pods' attributes on a flow log: `l7flow.source.k8s.pod.name`, ... */
export const SOURCE_POD_PREFIX = 'l7flow.source.';
export const DESTINATION_POD_PREFIX = 'l7flow.destination.';

/** Per-Pod attribute suffixes under those prefixes. */
export const PodAttr = {
  podName: 'k8s.pod.name',
  podUid: 'k8s.pod.uid',
  namespace: 'k8s.namespace.name',
  node: 'k8s.node.name',
  serviceName: 'service.name',
  l7Export: 'l7_export',
} as const;
