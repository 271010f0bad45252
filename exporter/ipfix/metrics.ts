import type { Settings } from '../../pipeline/component.js';
import type { BoundCounter, BoundGauge } from '../../pipeline/telemetry.js';

/**
 * Why records were lost, as the `reason` label of l7flow_records_dropped_total (flows) and
 * l7flow_ipfix_data_records_dropped_total (IPFIX data records).
 */
export type DropReason =
  | 'queue_full' // the send queue was full while no session was up
  | 'send_failed' // a UDP send failed outright: that datagram is lost
  | 'shutdown_timeout' // still queued when the shutdown deadline passed
  | 'collector_unreachable'; // still queued at shutdown, and no session could be opened

export interface Metrics {
  readonly messagesSent: BoundCounter;
  readonly dataRecordsSent: BoundCounter;
  readonly bytesSent: BoundCounter;
  readonly templateRecordsSent: BoundCounter;
  readonly dataRecordsDropped: (reason: DropReason) => BoundCounter;
  readonly continuations: BoundCounter;
  readonly transactionsTruncated: BoundCounter;
  readonly transactionsDropped: BoundCounter;
  readonly connectFailures: BoundCounter;
  readonly reconnects: BoundCounter;
  readonly sessionUp: BoundGauge;
  readonly udpErrors: BoundCounter;
}

/** The exporter's own metric families, children bound to this component and transport. */
export function createMetrics(settings: Settings, transport: string): Metrics {
  const t = settings.telemetry;
  const byTransport = { transport };
  const dropped = t.counter(
    'l7flow_ipfix_data_records_dropped_total',
    'IPFIX data records (flow, continuation, HTTP, options) encoded but not sent, by reason.',
    ['reason'],
  );
  return {
    messagesSent: t.counter('l7flow_ipfix_messages_sent_total', 'IPFIX messages written to the transport.', [
      'transport',
    ])(byTransport),
    dataRecordsSent: t.counter(
      'l7flow_ipfix_data_records_sent_total',
      'IPFIX data records written (flow, continuation, HTTP and options data records).',
      ['transport'],
    )(byTransport),
    bytesSent: t.counter('l7flow_ipfix_sent_bytes_total', 'Octets of IPFIX messages written.', ['transport'])(
      byTransport,
    ),
    templateRecordsSent: t.counter(
      'l7flow_ipfix_template_records_sent_total',
      'Template and options template records sent (at each session start and UDP refresh).',
      ['transport'],
    )(byTransport),
    dataRecordsDropped: (reason) => dropped({ reason }),
    continuations: t.counter(
      'l7flow_ipfix_continuation_records_total',
      'Extra flow records carrying HTTP transactions that did not fit the flow record (zero deltas).',
    )(),
    transactionsTruncated: t.counter(
      'l7flow_ipfix_http_transactions_truncated_total',
      'HTTP transactions whose strings were shortened to fit one IPFIX record.',
    )(),
    transactionsDropped: t.counter(
      'l7flow_ipfix_http_transactions_dropped_total',
      'HTTP transactions too large for one IPFIX record even with empty strings.',
    )(),
    connectFailures: t.counter('l7flow_ipfix_connect_failures_total', 'Failed attempts to open a session.', [
      'transport',
    ])(byTransport),
    reconnects: t.counter('l7flow_ipfix_reconnects_total', 'Sessions opened after the first one.', ['transport'])(
      byTransport,
    ),
    sessionUp: t.gauge('l7flow_ipfix_session_up', '1 while a transport session is open.', ['transport'])(byTransport),
    udpErrors: t.counter(
      'l7flow_ipfix_udp_errors_total',
      'Errors the UDP socket reported, e.g. ICMP port unreachable from the collector host; the datagram concerned cannot be known.',
    )(),
  };
}
