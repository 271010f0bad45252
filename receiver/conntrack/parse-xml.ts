import { canonicalIp } from '../../pipeline/ip.js';
import type { ConnSample, Counters, TimeUs, Tuple } from '../../pipeline/records.js';
import { capturedDecimal, decimalAt, labelsFromNames, nanosecondsAt, tcp } from './fields.js';
import { ignoredLine, invalidLine, type ConntrackEvent, type InvalidReason, type LineResult } from './line-result.js';

/**
 * conntrack-tools' XML output (`-o xml,id,ktimestamp,labels`), one `<flow>` per line, for
 * dumps (`-L`) and event streams (`-E`, where `<flow type="destroy">`):
 *
 *   <flow [type="new|update|destroy"]>
 *     <meta direction="original"><layer3 ...><src>A</src><dst>B</dst></layer3>
 *       <layer4 protonum="6" ...>[<sport>P</sport><dport>Q</dport>]</layer4>
 *       [<counters><packets>N</packets><bytes>M</bytes></counters>]</meta>
 *     <meta direction="reply"> ...the same... </meta>
 *     <meta direction="independent">[<state>S</state>][<timeout>T</timeout>][<mark>M</mark>]
 *       [<zone>Z</zone>][<labels><label>5</label>...</labels>][<use>U</use>][<id>I</id>]
 *       [<unreplied/>][<assured/>][<timestamp><start>ns</start>[<stop>ns</stop>]</timestamp>]
 *       [<deltatime>s</deltatime>]</meta>
 *     [<when>...</when>]
 *   </flow>[ [USERSPACE] portid=N]
 *
 * One pass over the tags (no tree, no allocation per tag): each tag is told apart by its
 * first characters, and the element text runs to the next `<`. The sections come in a fixed
 * order (libnetfilter_conntrack); unknown elements are skipped. Counters are
 * present only with nf_conntrack_acct=1, timestamps only with nf_conntrack_timestamp=1, zone
 * only when non-zero. Events caused by a userspace request carry a ` [USERSPACE] portid=N`
 * suffix after `</flow>`, which makes the stream ill-formed XML; it is ignored.
 * Quirk: for SCTP the library prints the SCTP state through the TCP state table (ESTABLISHED
 * comes out as FIN_WAIT), which is why `tcpState` is set for TCP only.
 */
export function parseXmlLine(line: string, timeUs: TimeUs): LineResult {
  const match = flowPattern.exec(line);
  if (match) {
    const sample = sampleFromMatch(match, timeUs);
    if (typeof sample === 'string') return invalidLine(sample);
    const event = match[1] === undefined ? undefined : eventNames[match[1]];
    if (match[1] !== undefined && event === undefined) return invalidLine('not_an_entry');
    return event === undefined ? { kind: 'sample', sample } : { kind: 'sample', sample, event };
  }
  return scanXmlLine(line, timeUs);
}

/*
 * The fast path: one regular expression for the layout conntrack-tools prints (irregexp
 * runs it as native code, several times faster than walking the tags in JavaScript). Lines
 * it does not match (other elements, another order, damage) take the tag walk below, which
 * reads any order, skips unknown elements and says what is wrong with a bad line; tests
 * hold both paths to the same results.
 */
const directionPattern = (name: string) =>
  `<meta direction="${name}"><layer3 protonum="\\d+" protoname="[a-z0-9]*"><src>([^<]*)</src><dst>([^<]*)</dst></layer3>` +
  `<layer4 protonum="(\\d+)" protoname="[a-z0-9]*">(?:<sport>(\\d+)</sport><dport>(\\d+)</dport>)?</layer4>` +
  `(?:<counters><packets>(\\d+)</packets><bytes>(\\d+)</bytes></counters>)?</meta>`;
const flowPattern = new RegExp(
  '^<flow(?: type="([a-z]+)")?>' +
    directionPattern('original') +
    directionPattern('reply') +
    '<meta direction="independent">(?:<state>([A-Z_0-9]+)</state>)?(?:<timeout>\\d+</timeout>)?' +
    '(?:<mark>(\\d+)</mark>)?(?:<zone>(\\d+)</zone>)?(?:<labels>((?:<label>[^<]*</label>)*)</labels>)?' +
    '(?:<use>\\d+</use>)?(?:<id>(\\d+)</id>)?(<unreplied/>)?(<assured/>)?' +
    '(?:<timestamp>(?:<start>(\\d+)</start>)?(?:<stop>(\\d+)</stop>)?</timestamp>)?' +
    '(?:<deltatime>\\d+</deltatime>)?</meta>(?:<when>(?:<[a-z]+>\\d+</[a-z]+>)*</when>)?</flow>',
);

/** Capture group numbers of flowPattern; a direction's groups start at Original or Reply. */
const group = {
  type: 1,
  original: 2,
  reply: 9,
  state: 16,
  mark: 17,
  zone: 18,
  labels: 19,
  id: 20,
  unreplied: 21,
  assured: 22,
  start: 23,
  stop: 24,
} as const;
/** Offsets within a direction's groups. */
const src = 0;
const dst = 1;
const proto = 2;
const sport = 3;
const dport = 4;
const packets = 5;
const bytes = 6;

const eventNames: Readonly<Record<string, ConntrackEvent>> = { new: 'new', update: 'update', destroy: 'destroy' };

function sampleFromMatch(m: RegExpExecArray, timeUs: TimeUs): ConnSample | InvalidReason {
  const protocol = capturedDecimal(m[group.original + proto], 255);
  const original = tupleFromMatch(m, group.original, protocol);
  if (typeof original === 'string') return original;
  const reply = tupleFromMatch(m, group.reply, protocol, original);
  if (typeof reply === 'string') return reply;
  const zone = capturedDecimal(m[group.zone], 65535);
  const mark = capturedDecimal(m[group.mark], 0xffffffff);
  const idText = m[group.id];
  const id = idText === undefined ? undefined : capturedDecimal(idText, 0xffffffff);
  const startText = m[group.start];
  const stopText = m[group.stop];
  const startUs = startText === undefined ? undefined : nanosecondsAt(startText, 0, startText.length);
  const stopUs = stopText === undefined ? undefined : nanosecondsAt(stopText, 0, stopText.length);
  if (protocol < 0 || zone < 0 || mark < 0 || (id ?? 0) < 0 || (startUs ?? 0) < 0 || (stopUs ?? 0) < 0)
    return 'bad_number';

  let counters: Counters | undefined;
  const originalPackets = m[group.original + packets];
  const replyPackets = m[group.reply + packets];
  if (originalPackets !== undefined || replyPackets !== undefined) {
    counters = {
      packets: capturedDecimal(originalPackets, Number.MAX_SAFE_INTEGER),
      bytes: capturedDecimal(m[group.original + bytes], Number.MAX_SAFE_INTEGER),
      reversePackets: capturedDecimal(replyPackets, Number.MAX_SAFE_INTEGER),
      reverseBytes: capturedDecimal(m[group.reply + bytes], Number.MAX_SAFE_INTEGER),
    };
    if (counters.packets < 0 || counters.bytes < 0 || counters.reversePackets < 0 || counters.reverseBytes < 0)
      return 'bad_number';
  }
  const labelsText = m[group.labels];
  return {
    kind: 'conn',
    timeUs,
    id,
    zone,
    mark,
    labels: labelsText ? labelsFromNames(labelsText.slice(7, -8).split('</label><label>')) : undefined,
    original,
    reply,
    tcpState: protocol === tcp ? m[group.state] : undefined,
    assured: m[group.assured] !== undefined,
    unreplied: m[group.unreplied] !== undefined,
    startUs,
    stopUs,
    counters,
    dying: m[group.type] === 'destroy',
  };
}

function tupleFromMatch(m: RegExpExecArray, at: number, protocol: number, original?: Tuple): Tuple | InvalidReason {
  const srcText = m[at + src] ?? '';
  const dstText = m[at + dst] ?? '';
  // Without NAT the reply mirrors the original: reuse its canonical addresses.
  const srcIp = original && srcText === m[group.original + dst] ? original.dstIp : canonicalIp(srcText);
  const dstIp = original && dstText === m[group.original + src] ? original.srcIp : canonicalIp(dstText);
  if (srcIp === undefined || dstIp === undefined) return 'bad_address';
  const srcPort = capturedDecimal(m[at + sport], 65535);
  const dstPort = capturedDecimal(m[at + dport], 65535);
  if (srcPort < 0 || dstPort < 0) return 'bad_number';
  return { proto: protocol, srcIp, srcPort, dstIp, dstPort };
}

/** The general path: any element order, unknown elements skipped, precise failure reasons. */
export function scanXmlLine(line: string, timeUs: TimeUs): LineResult {
  if (!line.startsWith('<flow')) return isFrame(line) ? ignoredLine : invalidLine('not_an_entry');
  let event: ConntrackEvent | undefined;
  if (line.startsWith(' type="', 5)) {
    event = eventAt(line, 12);
    if (event === undefined) return invalidLine('not_an_entry');
  }
  const scan = flowScan;
  scan.reset();
  const failure = scanTags(line, scan);
  if (failure !== undefined) return invalidLine(failure);
  const [original, reply] = scan.directions;
  if (!original.complete() || !reply.complete() || scan.proto < 0) return invalidLine('bad_tuple');

  let counters: Counters | undefined;
  if (original.packets >= 0 || reply.packets >= 0) {
    // With accounting on both directions carry counters; a missing one would be a zero.
    counters = {
      packets: Math.max(0, original.packets),
      bytes: Math.max(0, original.bytes),
      reversePackets: Math.max(0, reply.packets),
      reverseBytes: Math.max(0, reply.bytes),
    };
  }
  const sample: ConnSample = {
    kind: 'conn',
    timeUs,
    id: scan.id,
    zone: scan.zone,
    mark: scan.mark,
    labels: scan.labelNames.length > 0 ? labelsFromNames(scan.labelNames) : undefined,
    original: original.tuple(scan.proto),
    reply: reply.tuple(scan.proto),
    tcpState: scan.proto === tcp ? scan.state : undefined,
    assured: scan.assured,
    unreplied: scan.unreplied,
    startUs: scan.startUs,
    stopUs: scan.stopUs,
    counters,
    dying: event === 'destroy',
  };
  return event === undefined ? { kind: 'sample', sample } : { kind: 'sample', sample, event };
}

function isFrame(line: string): boolean {
  return line === '' || line.startsWith('<?xml') || line === '<conntrack>' || line === '</conntrack>';
}

function eventAt(line: string, at: number): ConntrackEvent | undefined {
  if (line.startsWith('destroy"', at)) return 'destroy';
  if (line.startsWith('new"', at)) return 'new';
  if (line.startsWith('update"', at)) return 'update';
  return undefined;
}

class DirectionScan {
  src: string | undefined;
  dst: string | undefined;
  srcPort = 0;
  dstPort = 0;
  packets = -1;
  bytes = -1;

  reset(): void {
    this.src = undefined;
    this.dst = undefined;
    this.srcPort = 0;
    this.dstPort = 0;
    this.packets = -1;
    this.bytes = -1;
  }

  complete(): boolean {
    return this.src !== undefined && this.dst !== undefined;
  }

  tuple(proto: number): Tuple {
    return { proto, srcIp: this.src ?? '', srcPort: this.srcPort, dstIp: this.dst ?? '', dstPort: this.dstPort };
  }
}

/** What one `<flow>` line holds; a single instance is reused (parsing is synchronous). */
class FlowScan {
  readonly directions: [DirectionScan, DirectionScan] = [new DirectionScan(), new DirectionScan()];
  proto = -1;
  state: string | undefined;
  id: number | undefined;
  zone = 0;
  mark = 0;
  labelNames: string[] = [];
  assured = false;
  unreplied = false;
  startUs: TimeUs | undefined;
  stopUs: TimeUs | undefined;

  reset(): void {
    this.directions[0].reset();
    this.directions[1].reset();
    this.proto = -1;
    this.state = undefined;
    this.id = undefined;
    this.zone = 0;
    this.mark = 0;
    if (this.labelNames.length > 0) this.labelNames = [];
    this.assured = false;
    this.unreplied = false;
    this.startUs = undefined;
    this.stopUs = undefined;
  }
}

const flowScan = new FlowScan();

const enum Section {
  None,
  Original,
  Reply,
  Independent,
}

/**
 * Walks the tags of a `<flow>` line into `scan`; returns why the line is invalid, if it is.
 * `name` is where a tag's name starts and `next` where the following tag starts, so an
 * element's text is [name + tag length, next).
 */
function scanTags(line: string, scan: FlowScan): InvalidReason | undefined {
  let section = Section.None;
  let direction: DirectionScan | undefined;
  for (let at = line.indexOf('<', 1); at >= 0;) {
    const name = at + 1;
    const next = line.indexOf('<', name);
    if (next < 0 && !line.startsWith('/flow>', name)) return 'truncated';
    switch (line.charCodeAt(name)) {
      case 47 /* / */:
        if (line.startsWith('/flow>', name)) return section === Section.Independent ? undefined : 'truncated';
        break;
      case 109 /* m */:
        if (line.startsWith('meta direction="', name)) {
          const which = line.charCodeAt(name + 16);
          section =
            which === 111 /* o */ ? Section.Original : which === 114 /* r */ ? Section.Reply : Section.Independent;
          direction =
            section === Section.Original
              ? scan.directions[0]
              : section === Section.Reply
                ? scan.directions[1]
                : undefined;
        } else if (section === Section.Independent && line.startsWith('mark>', name)) {
          scan.mark = decimalAt(line, name + 5, next);
          if (scan.mark < 0 || scan.mark > 0xffffffff) return 'bad_number';
        }
        break;
      case 108 /* l */:
        if (section === Section.Original && line.startsWith('layer4 protonum="', name)) {
          scan.proto = decimalAt(line, name + 17, line.indexOf('"', name + 17));
          if (scan.proto < 0 || scan.proto > 255) return 'bad_number';
        } else if (section === Section.Independent && line.startsWith('label>', name)) {
          scan.labelNames.push(line.slice(name + 6, next));
        }
        break;
      case 115 /* s */:
        if (direction) {
          if (line.startsWith('src>', name)) {
            direction.src = canonicalIp(line.slice(name + 4, next));
            if (direction.src === undefined) return 'bad_address';
          } else if (line.startsWith('sport>', name)) {
            direction.srcPort = decimalAt(line, name + 6, next);
            if (direction.srcPort < 0 || direction.srcPort > 65535) return 'bad_number';
          }
        } else if (section === Section.Independent) {
          if (line.startsWith('state>', name)) {
            scan.state = line.slice(name + 6, next);
          } else if (line.startsWith('start>', name)) {
            scan.startUs = nanosecondsAt(line, name + 6, next);
            if (scan.startUs < 0) return 'bad_number';
          } else if (line.startsWith('stop>', name)) {
            scan.stopUs = nanosecondsAt(line, name + 5, next);
            if (scan.stopUs < 0) return 'bad_number';
          }
        }
        break;
      case 100 /* d */:
        if (!direction) break;
        if (line.startsWith('dst>', name)) {
          direction.dst = canonicalIp(line.slice(name + 4, next));
          if (direction.dst === undefined) return 'bad_address';
        } else if (line.startsWith('dport>', name)) {
          direction.dstPort = decimalAt(line, name + 6, next);
          if (direction.dstPort < 0 || direction.dstPort > 65535) return 'bad_number';
        }
        break;
      case 112 /* p */:
        if (direction && line.startsWith('packets>', name)) {
          direction.packets = decimalAt(line, name + 8, next);
          if (direction.packets < 0) return 'bad_number';
        }
        break;
      case 98 /* b */:
        if (direction && line.startsWith('bytes>', name)) {
          direction.bytes = decimalAt(line, name + 6, next);
          if (direction.bytes < 0) return 'bad_number';
        }
        break;
      case 122 /* z */:
        if (section === Section.Independent && line.startsWith('zone>', name)) {
          scan.zone = decimalAt(line, name + 5, next);
          if (scan.zone < 0 || scan.zone > 65535) return 'bad_number';
        }
        break;
      case 105 /* i */:
        if (section === Section.Independent && line.startsWith('id>', name)) {
          scan.id = decimalAt(line, name + 3, next);
          if (scan.id < 0) return 'bad_number';
        }
        break;
      case 97 /* a */:
        if (section === Section.Independent && line.startsWith('assured/>', name)) scan.assured = true;
        break;
      case 117 /* u */:
        if (section === Section.Independent && line.startsWith('unreplied/>', name)) scan.unreplied = true;
        break;
    }
    at = next;
  }
  return 'truncated';
}
