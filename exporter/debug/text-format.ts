import type { ConnSample, FlowRecord, L7Event, PipelineRecord, PodRef, Tuple } from '../../pipeline/records.js';

const protocolNames: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp' };
const endReasons: Readonly<Record<number, string>> = { 1: 'idle', 2: 'active', 3: 'end', 4: 'forced', 5: 'evicted' };

/**
 * One line per record for people reading a terminal: when, who talked to whom, what was said,
 * and how much. Flow records list their transactions (`GET /api/cart 200`); the machine form
 * is the JSON format.
 */
export function formatRecord(record: PipelineRecord): string {
  return escapeControls(formatLine(record));
}

/**
 * Host names, URLs, SNI and DNS names come from the network: a control character in one would
 * forge a line of this output or drive the terminal showing it (escape sequences). They are
 * written as `\xNN` (C0, DEL, C1) or `\uNNNN` (line and paragraph separators); see
 * docs/security.md. The JSON format escapes them by itself.
 */
function escapeControls(line: string): string {
  return line.replace(controlCharacters, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function formatLine(record: PipelineRecord): string {
  switch (record.kind) {
    case 'flow':
      return formatFlow(record);
    case 'http':
    case 'tls':
    case 'dns':
      return `${time(record.timeUs)} ${record.kind} ${endpoints(record.tuple, record.srcPod, record.dstPod)} ${transaction(record)}`;
    case 'conn':
      return formatConn(record);
    case 'conn_dump_end':
      return `${time(record.timeUs)} conntrack dump ${record.complete ? 'complete' : 'INCOMPLETE'}: ${record.entries} entries`;
  }
}

function formatFlow(flow: FlowRecord): string {
  const parts = [time(flow.endUs), `flow#${flow.flowKey}`, endpoints(flow.tuple, flow.srcPod, flow.dstPod)];
  if (flow.service) parts.push(`via ${address(flow.service.ip, flow.service.port)}`);
  if (flow.l7.length > 0) parts.push(`${flow.app}: ${flow.l7.map(transaction).join(', ')}`);
  else if (flow.app !== '') parts.push(flow.app);
  const { deltas } = flow;
  if (deltas.packets + deltas.reversePackets > 0 || flow.l7.length === 0) {
    parts.push(`${bytes(deltas.bytes)} -> ${bytes(deltas.reverseBytes)} <-`);
  }
  parts.push(`[${endReasons[flow.endReason] ?? flow.endReason}${flow.tcpState ? ` ${flow.tcpState}` : ''}]`);
  return parts.join(' ');
}

function formatConn(conn: ConnSample): string {
  const counters = conn.counters ? ` ${bytes(conn.counters.bytes)} -> ${bytes(conn.counters.reverseBytes)} <-` : '';
  const state = conn.tcpState ? ` ${conn.tcpState}` : '';
  return `${time(conn.timeUs)} conn${conn.dying ? ' destroyed' : ''} ${endpoints(conn.original, conn.srcPod, conn.dstPod)}${state}${counters}`;
}

/** What a transaction said, in a few words: `GET host/path 200`, `sni example.org TLS 1.3`, `A example.org NOERROR`. */
function transaction(event: L7Event): string {
  switch (event.kind) {
    case 'http': {
      const { method, hostname, url, status, statusString } = event.http;
      const outcome = status ?? statusString ?? 'no response';
      return [method ?? '?', `${hostname ?? ''}${url ?? ''}` || '?', outcome].join(' ');
    }
    case 'tls':
      return [event.tls.sni ? `sni ${event.tls.sni}` : 'no sni', event.tls.version].filter(Boolean).join(' ');
    case 'dns':
      return [event.dns.type, event.dns.rrtype, event.dns.rrname, event.dns.rcode].filter(Boolean).join(' ');
  }
}

function endpoints(tuple: Tuple, src: PodRef | undefined, dst: PodRef | undefined): string {
  const proto = protocolNames[tuple.proto] ?? `proto ${tuple.proto}`;
  return `${side(tuple.srcIp, tuple.srcPort, src)} -> ${side(tuple.dstIp, tuple.dstPort, dst)} ${proto}`;
}

function side(ip: string, port: number, pod: PodRef | undefined): string {
  const where = address(ip, port);
  return pod ? `${pod.namespace}/${pod.name}(${where})` : where;
}

function address(ip: string, port: number): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === 0 ? host : `${host}:${port}`;
}

function time(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

function bytes(count: number): string {
  if (count < 1000) return `${count} B`;
  if (count < 1e6) return `${(count / 1e3).toFixed(1)} kB`;
  if (count < 1e9) return `${(count / 1e6).toFixed(1)} MB`;
  return `${(count / 1e9).toFixed(1)} GB`;
}
