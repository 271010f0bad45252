import { canonicalIp } from '../../pipeline/ip.js';
import type { ConnSample, Counters, TimeUs, Tuple } from '../../pipeline/records.js';
import { capturedDecimal, decimal, labelsFromHex, ovsTimeToUs, protocolNumber, tcp } from './fields.js';
import { ignoredLine, invalidLine, type InvalidReason, type LineResult } from './line-result.js';

/**
 * `ovs-appctl dpctl/dump-conntrack [-m] [-s]` (lib/ct-dpif.c, ct_dpif_format_entry):
 *
 *   tcp,orig=(src=A,dst=B,sport=P,dport=Q[,packets=N,bytes=M]),reply=(...)
 *     [,start=2026-11-26T04:24:47.123[,stop=...]][,id=N][,zone=N][,status=F|G][,timeout=N]
 *     [,mark=N][,labels=0x1234][,protoinfo=(state_orig=S,state_reply=S,...)][,helper=H]
 *     [,master=(...)]
 *
 * `-m` adds id, status and the two per-direction TCP states (`state=` without it); `-s` adds
 * counters (only when non-zero), times (local, milliseconds) and the timeout. ICMP tuples
 * hold `id=,type=,code=` instead of ports. The userspace datapath keeps no counters and no
 * times, and prints `id=0` and `status=0`: such samples carry neither counters nor an id.
 */
export function parseOvsLine(line: string, timeUs: TimeUs): LineResult {
  const match = entryPattern.exec(line);
  if (match) {
    const sample = sampleFromMatch(match, timeUs);
    return typeof sample === 'string' ? invalidLine(sample) : { kind: 'sample', sample };
  }
  return scanOvsLine(line, timeUs);
}

/*
 * The fast path: one regular expression for the usual layout (ports or ICMP ids, optional
 * counters, the optional fields in ct_dpif_format_entry's order). Anything else (times,
 * helper, master tuple, damage) takes scanOvsLine(); tests hold both to the same results.
 */
const tuplePattern =
  '\\(src=([^,)]+),dst=([^,)]+),(?:sport=(\\d+),dport=(\\d+)|id=\\d+(?:,type=\\d+,code=\\d+)?)(?:,packets=(\\d+),bytes=(\\d+))?\\)';
const entryPattern = new RegExp(
  `^([a-z0-9]+),orig=${tuplePattern},reply=${tuplePattern}(?:,id=(\\d+))?(?:,zone=(\\d+))?(?:,status=([A-Z0-9_|]*))?` +
    '(?:,timeout=\\d+)?(?:,mark=(\\d+))?(?:,labels=(0x[0-9a-fA-F]+))?' +
    '(?:,protoinfo=\\((?:state=([A-Z_0-9]+)|state_orig=([A-Z_0-9]+),state_reply=([A-Z_0-9]+))(?:,[^)]*)?\\))?$',
);
/** Capture groups of entryPattern; a tuple's six groups start at `original` or `reply`. */
const group = {
  proto: 1,
  original: 2,
  reply: 8,
  id: 14,
  zone: 15,
  status: 16,
  mark: 17,
  labels: 18,
  state: 19,
  stateOrig: 20,
  stateReply: 21,
} as const;

function sampleFromMatch(m: RegExpExecArray, timeUs: TimeUs): ConnSample | InvalidReason {
  const proto = protocolNumber(m[group.proto] ?? '');
  if (proto < 0) return 'not_an_entry';
  const original = tupleFromMatch(m, group.original, proto);
  const reply = tupleFromMatch(m, group.reply, proto);
  if (typeof original === 'string') return original;
  if (typeof reply === 'string') return reply;
  const zone = capturedDecimal(m[group.zone], 65535);
  const mark = capturedDecimal(m[group.mark], 0xffffffff);
  const id = capturedDecimal(m[group.id], 0xffffffff);
  if (zone < 0 || mark < 0 || id < 0) return 'bad_number';
  const labelsText = m[group.labels];
  const status = m[group.status] ?? '';
  const statusKnown = /[A-Z]/.test(status);
  const orig = m[group.stateOrig];
  const replyState = m[group.stateReply];
  return {
    kind: 'conn',
    timeUs,
    id: id === 0 ? undefined : id,
    zone,
    mark,
    labels: labelsText === undefined ? undefined : labelsFromHex(labelsText),
    original: original.tuple,
    reply: reply.tuple,
    tcpState:
      proto !== tcp
        ? undefined
        : orig !== undefined && replyState !== undefined
          ? mergeTcpStates(orig, replyState)
          : m[group.state],
    assured: statusKnown && status.split('|').includes('ASSURED'),
    unreplied: statusKnown && !status.split('|').includes('SEEN_REPLY'),
    startUs: undefined,
    stopUs: undefined,
    counters: countersOf(original, reply),
    dying: false,
  };
}

function tupleFromMatch(m: RegExpExecArray, at: number, proto: number): TupleScan | InvalidReason {
  const srcIp = canonicalIp(m[at] ?? '');
  const dstIp = canonicalIp(m[at + 1] ?? '');
  if (srcIp === undefined || dstIp === undefined) return 'bad_address';
  const srcPort = capturedDecimal(m[at + 2], 65535);
  const dstPort = capturedDecimal(m[at + 3], 65535);
  const packetsText = m[at + 4];
  const packets = packetsText === undefined ? undefined : capturedDecimal(packetsText, Number.MAX_SAFE_INTEGER);
  const bytesText = m[at + 5];
  const bytes = bytesText === undefined ? undefined : capturedDecimal(bytesText, Number.MAX_SAFE_INTEGER);
  if (srcPort < 0 || dstPort < 0 || (packets ?? 0) < 0 || (bytes ?? 0) < 0) return 'bad_number';
  return { tuple: { proto, srcIp, srcPort, dstIp, dstPort }, packets, bytes };
}

function countersOf(original: TupleScan, reply: TupleScan): Counters | undefined {
  return original.packets === undefined && reply.packets === undefined
    ? undefined
    : {
        packets: original.packets ?? 0,
        bytes: original.bytes ?? 0,
        reversePackets: reply.packets ?? 0,
        reverseBytes: reply.bytes ?? 0,
      };
}

/** The general path: any field order, times, helper and master tuples, precise failure reasons. */
export function scanOvsLine(line: string, timeUs: TimeUs): LineResult {
  if (line.trim() === '') return ignoredLine;
  const comma = line.indexOf(',');
  const proto = comma < 0 ? -1 : protocolNumber(line.slice(0, comma));
  if (proto < 0) return invalidLine('not_an_entry');

  const fields = topLevelFields(line, comma + 1);
  if (fields === undefined) return invalidLine('truncated');
  const originalText = fields.get('orig');
  const replyText = fields.get('reply');
  if (originalText === undefined || replyText === undefined) return invalidLine('bad_tuple');
  const original = parseTuple(originalText, proto);
  const reply = parseTuple(replyText, proto);
  if (typeof original === 'string') return invalidLine(original);
  if (typeof reply === 'string') return invalidLine(reply);

  const zone = numberField(fields, 'zone', 65535);
  const mark = numberField(fields, 'mark', 0xffffffff);
  const id = numberField(fields, 'id', 0xffffffff);
  if (zone < 0 || mark < 0 || id < 0) return invalidLine('bad_number');
  const labelsText = fields.get('labels');
  const labels = labelsText === undefined ? undefined : labelsFromHex(labelsText);
  if (labelsText !== undefined && labels === undefined && !/^0x0+$/.test(labelsText)) return invalidLine('bad_number');

  const startText = fields.get('start');
  const stopText = fields.get('stop');
  const startUs = startText === undefined ? undefined : ovsTimeToUs(startText);
  const stopUs = stopText === undefined ? undefined : ovsTimeToUs(stopText);
  if ((startText !== undefined && startUs === undefined) || (stopText !== undefined && stopUs === undefined))
    return invalidLine('bad_number');

  // Flags only mean something when OVS reports any (the userspace datapath prints status=0).
  const status = fields.get('status') ?? '';
  const statusKnown = /[A-Z]/.test(status);
  const flags = status.split('|');

  const sample: ConnSample = {
    kind: 'conn',
    timeUs,
    id: id === 0 ? undefined : id,
    zone,
    mark,
    labels,
    original: original.tuple,
    reply: reply.tuple,
    tcpState: proto === tcp ? tcpStateOf(fields.get('protoinfo')) : undefined,
    assured: statusKnown && flags.includes('ASSURED'),
    unreplied: statusKnown && !flags.includes('SEEN_REPLY'),
    startUs,
    stopUs,
    counters: countersOf(original, reply),
    dying: false,
  };
  return { kind: 'sample', sample };
}

/** `k=v,k=(...),...` from `from` on, as a map; undefined when a parenthesis is not closed. */
function topLevelFields(line: string, from: number): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  let at = from;
  while (at < line.length) {
    const eq = line.indexOf('=', at);
    if (eq < 0) return fields.size > 0 ? fields : undefined;
    const key = line.slice(at, eq);
    let end: number;
    let value: string;
    if (line.charCodeAt(eq + 1) === 40 /* ( */) {
      end = line.indexOf(')', eq);
      if (end < 0) return undefined;
      value = line.slice(eq + 2, end);
      end++;
    } else {
      end = line.indexOf(',', eq);
      if (end < 0) end = line.length;
      value = line.slice(eq + 1, end);
    }
    fields.set(key, value);
    at = end + 1;
  }
  return fields;
}

function numberField(fields: Map<string, string>, key: string, max: number): number {
  const text = fields.get(key);
  if (text === undefined) return 0;
  const value = decimal(text);
  return value > max ? -1 : value;
}

interface TupleScan {
  readonly tuple: Tuple;
  readonly packets: number | undefined;
  readonly bytes: number | undefined;
}

function parseTuple(text: string, proto: number): TupleScan | InvalidReason {
  const values = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) values.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const srcText = values.get('src');
  const dstText = values.get('dst');
  if (srcText === undefined || dstText === undefined) return 'bad_tuple';
  const srcIp = canonicalIp(srcText);
  const dstIp = canonicalIp(dstText);
  if (srcIp === undefined || dstIp === undefined) return 'bad_address';
  const port = (key: string) => {
    const value = values.get(key);
    return value === undefined ? 0 : decimal(value);
  };
  const srcPort = port('sport');
  const dstPort = port('dport');
  if (srcPort < 0 || srcPort > 65535 || dstPort < 0 || dstPort > 65535) return 'bad_number';
  const packetsText = values.get('packets');
  const bytesText = values.get('bytes');
  const packets = packetsText === undefined ? undefined : decimal(packetsText);
  const bytes = bytesText === undefined ? undefined : decimal(bytesText);
  if ((packets ?? 0) < 0 || (bytes ?? 0) < 0) return 'bad_number';
  return { tuple: { proto, srcIp, srcPort, dstIp, dstPort }, packets, bytes };
}

/** OVS's TCP states in its enum order (lib/ct-dpif.h, CT_DPIF_TCP_STATES). */
const ovsTcpStates = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'CLOSE_WAIT',
  'FIN_WAIT_1',
  'CLOSING',
  'LAST_ACK',
  'FIN_WAIT_2',
  'TIME_WAIT',
];

/**
 * One TCP state for the connection. OVS's userspace tracker keeps one per direction; its
 * own short output merges them as the later of the two, with FIN_WAIT_2 shown as TIME_WAIT
 * and SYN_RECV as ESTABLISHED, to match the kernel's single state (ct-dpif.c,
 * coalesce_tcp_state). The same merge here keeps `-m` and short output in agreement.
 */
function tcpStateOf(protoinfo: string | undefined): string | undefined {
  if (protoinfo === undefined) return undefined;
  const values = new Map(protoinfo.split(',').map((part) => part.split('=', 2) as [string, string]));
  const merged = values.get('state');
  if (merged !== undefined) return merged;
  const orig = values.get('state_orig');
  const reply = values.get('state_reply');
  return orig === undefined || reply === undefined ? (orig ?? reply) : mergeTcpStates(orig, reply);
}

function mergeTcpStates(orig: string, reply: string): string {
  const origIndex = ovsTcpStates.indexOf(orig);
  const replyIndex = ovsTcpStates.indexOf(reply);
  if (origIndex < 0 || replyIndex < 0) return orig;
  const state = ovsTcpStates[Math.max(origIndex, replyIndex)] ?? orig;
  return state === 'FIN_WAIT_2' ? 'TIME_WAIT' : state === 'SYN_RECV' ? 'ESTABLISHED' : state;
}
