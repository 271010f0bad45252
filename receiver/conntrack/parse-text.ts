import { canonicalIp } from '../../pipeline/ip.js';
import type { ConnSample, Counters, TimeUs, Tuple } from '../../pipeline/records.js';
import { capturedDecimal, ctimeToUs, decimalAt, icmp, icmpv6, labelsFromNames, tcp } from './fields.js';
import { ignoredLine, invalidLine, type ConntrackEvent, type InvalidReason, type LineResult } from './line-result.js';

/**
 * conntrack's text format: `/proc/net/nf_conntrack`, `conntrack -L [-o extended,id,ktimestamp,
 * labels]` and `conntrack -E -o extended,timestamp,...`:
 *
 *   [[1795667087.742606]\t [DESTROY] ]ipv4 2 tcp 6 [431999] [ESTABLISHED]
 *     src=A dst=B sport=P dport=Q [packets=N bytes=M] [UNREPLIED]
 *     src=B dst=A sport=Q dport=P [packets=N bytes=M] [ASSURED] mark=42 [zone=7]
 *     [delta-time=1] [start=Thu Nov 26 04:24:47 2026] [stop=...] use=1 [id=3013982512]
 *     [labels=5,9] [ [USERSPACE] portid=N progname=conntrack]
 *
 * The l3 columns appear with `-o extended` and in procfs; the timeout is absent in DESTROY
 * events; ICMP tuples hold `type= code= id=` instead of ports, so the first `id=` inside an
 * ICMP tuple is the ICMP id and the next one is the conntrack id. procfs always prints
 * `zone=` and IPv6 fully expanded, never `id=` or start times.
 *
 * Times: `[start=...]`/`[stop=...]` (with `ktimestamp`) are local time at one-second
 * resolution. Without them a dump's `delta-time=` (seconds since the start) gives the start
 * at the same resolution; in events delta-time is the duration, so it is not used there.
 */
export function parseTextLine(line: string, timeUs: TimeUs): LineResult {
  const match = entryPattern.exec(line);
  const sample = match ? sampleFromMatch(match, timeUs) : undefined;
  if (sample === undefined) return scanTextLine(line, timeUs);
  return typeof sample === 'string' ? invalidLine(sample) : { kind: 'sample', sample };
}

/*
 * The fast path: one regular expression for procfs and plain `conntrack -L` lines (no event
 * prefix, no bracketed times, no labels). Anything else takes scanTextLine(); tests hold
 * both to the same results.
 */
const tuplePattern =
  'src=(\\S+) dst=(\\S+) (?:sport=(\\d+) dport=(\\d+)|type=\\d+ code=\\d+ id=\\d+)(?: packets=(\\d+) bytes=(\\d+))?';
const entryPattern = new RegExp(
  `^(?:ipv[46] +\\d+ +)?[a-z0-9]+ +(\\d+) +(?:\\d+ +)?(?:([A-Z_][A-Z_0-9]*) +)?${tuplePattern}( \\[UNREPLIED\\])? ` +
    `${tuplePattern}( \\[ASSURED\\])? mark=(\\d+)(?: zone=(\\d+))?(?: delta-time=(\\d+))? use=\\d+(?: id=(\\d+))?$`,
);
/** Capture groups of entryPattern; a tuple's six groups start at `original` or `reply`. */
const group = {
  proto: 1,
  state: 2,
  original: 3,
  unreplied: 9,
  reply: 10,
  assured: 16,
  mark: 17,
  zone: 18,
  delta: 19,
  id: 20,
} as const;

/** The sample of a matched line; undefined leaves the line to the token scan. */
function sampleFromMatch(m: RegExpExecArray, timeUs: TimeUs): ConnSample | InvalidReason | undefined {
  const proto = capturedDecimal(m[group.proto], 255);
  // A protocol number out of range, or ICMP-style tuples (type, code, id) under another
  // protocol: not what conntrack prints; the token scan says what is wrong.
  const hasPorts = m[group.original + 2] !== undefined; // the original sport
  if (proto < 0 || (!hasPorts && proto !== icmp && proto !== icmpv6)) return undefined;
  const zone = capturedDecimal(m[group.zone], 65535);
  const mark = capturedDecimal(m[group.mark], 0xffffffff);
  const delta = capturedDecimal(m[group.delta], Number.MAX_SAFE_INTEGER);
  const idText = m[group.id];
  const id = idText === undefined ? undefined : capturedDecimal(idText, 0xffffffff);
  if (zone < 0 || mark < 0 || delta < 0 || (id ?? 0) < 0) return 'bad_number';
  const original = tupleFromMatch(m, group.original, proto);
  const reply = tupleFromMatch(m, group.reply, proto);
  if (typeof original === 'string') return original;
  if (typeof reply === 'string') return reply;
  const counters: Counters | undefined =
    original.packets < 0 && reply.packets < 0
      ? undefined
      : {
          packets: Math.max(0, original.packets),
          bytes: Math.max(0, original.bytes),
          reversePackets: Math.max(0, reply.packets),
          reverseBytes: Math.max(0, reply.bytes),
        };
  return {
    kind: 'conn',
    timeUs,
    id,
    zone,
    mark,
    labels: undefined,
    original: original.tuple,
    reply: reply.tuple,
    tcpState: proto === tcp ? m[group.state] : undefined,
    assured: m[group.assured] !== undefined,
    unreplied: m[group.unreplied] !== undefined,
    startUs: m[group.delta] === undefined ? undefined : timeUs - delta * 1_000_000,
    stopUs: undefined,
    counters,
    dying: false,
  };
}

function tupleFromMatch(
  m: RegExpExecArray,
  at: number,
  proto: number,
): { tuple: Tuple; packets: number; bytes: number } | InvalidReason {
  const srcIp = canonicalIp(m[at] ?? '');
  const dstIp = canonicalIp(m[at + 1] ?? '');
  if (srcIp === undefined || dstIp === undefined) return 'bad_address';
  const srcPort = capturedDecimal(m[at + 2], 65535);
  const dstPort = capturedDecimal(m[at + 3], 65535);
  const packets = m[at + 4] === undefined ? -1 : capturedDecimal(m[at + 4], Number.MAX_SAFE_INTEGER);
  const bytes = m[at + 5] === undefined ? -1 : capturedDecimal(m[at + 5], Number.MAX_SAFE_INTEGER);
  if (srcPort < 0 || dstPort < 0 || (m[at + 4] !== undefined && (packets < 0 || bytes < 0))) return 'bad_number';
  return { tuple: { proto, srcIp, srcPort, dstIp, dstPort }, packets, bytes };
}

/** The general path: event prefixes, bracketed times, labels, any field order. */
export function scanTextLine(line: string, timeUs: TimeUs): LineResult {
  const scan = new TextScan();
  const failure = scan.run(line);
  if (failure !== undefined) return failure;
  if (scan.proto < 0) return scan.sawAnything ? invalidLine('not_an_entry') : ignoredLine;
  if (scan.tupleIndex < 2 || !scan.tuples[0].complete() || !scan.tuples[1].complete()) return invalidLine('bad_tuple');

  const [original, reply] = scan.tuples;
  const counters: Counters | undefined =
    original.packets >= 0 || reply.packets >= 0
      ? {
          packets: Math.max(0, original.packets),
          bytes: Math.max(0, original.bytes),
          reversePackets: Math.max(0, reply.packets),
          reverseBytes: Math.max(0, reply.bytes),
        }
      : undefined;
  let startUs = scan.startUs;
  if (startUs === undefined && scan.event === undefined && scan.deltaSeconds >= 0)
    startUs = timeUs - scan.deltaSeconds * 1_000_000;

  const sample: ConnSample = {
    kind: 'conn',
    timeUs,
    id: scan.id,
    zone: scan.zone,
    mark: scan.mark,
    labels: scan.labels,
    original: original.tuple(scan.proto),
    reply: reply.tuple(scan.proto),
    tcpState: scan.proto === tcp ? scan.state : undefined,
    assured: scan.assured,
    unreplied: scan.unreplied,
    startUs,
    stopUs: scan.stopUs,
    counters,
    dying: scan.event === 'destroy',
  };
  return scan.event === undefined ? { kind: 'sample', sample } : { kind: 'sample', sample, event: scan.event };
}

class TupleScan {
  src: string | undefined;
  dst: string | undefined;
  srcPort = 0;
  dstPort = 0;
  packets = -1;
  bytes = -1;
  icmpIdSeen = false;

  complete(): boolean {
    return this.src !== undefined && this.dst !== undefined;
  }

  tuple(proto: number): Tuple {
    return { proto, srcIp: this.src ?? '', srcPort: this.srcPort, dstIp: this.dst ?? '', dstPort: this.dstPort };
  }
}

const eventNames: Readonly<Record<string, ConntrackEvent>> = { NEW: 'new', UPDATE: 'update', DESTROY: 'destroy' };

class TextScan {
  readonly tuples: [TupleScan, TupleScan] = [new TupleScan(), new TupleScan()];
  /** 0 before the first tuple, 1 in the original, 2 in the reply, 3 after it. */
  tupleIndex = 0;
  readonly words: string[] = [];
  proto = -1;
  state: string | undefined;
  event: ConntrackEvent | undefined;
  id: number | undefined;
  zone = 0;
  mark = 0;
  labels: string | undefined;
  assured = false;
  unreplied = false;
  startUs: TimeUs | undefined;
  stopUs: TimeUs | undefined;
  deltaSeconds = -1;
  sawAnything = false;

  /** Walks the tokens; returns an invalid result, or undefined when the line scanned cleanly. */
  run(line: string): LineResult | undefined {
    const length = line.length;
    let at = 0;
    while (at < length) {
      const c = line.charCodeAt(at);
      if (c === 32 || c === 9) {
        at++;
        continue;
      }
      this.sawAnything = true;
      if (c === 91 /* [ */) {
        const close = line.indexOf(']', at);
        if (close < 0) return invalidLine('truncated');
        const outcome = this.#bracket(line.slice(at + 1, close));
        if (outcome === 'stop') return undefined;
        if (outcome !== undefined) return outcome;
        at = close + 1;
        continue;
      }
      let end = at;
      while (end < length && line.charCodeAt(end) !== 32 && line.charCodeAt(end) !== 9) end++;
      const eq = line.indexOf('=', at);
      const outcome =
        eq < 0 || eq >= end ? this.#word(line.slice(at, end)) : this.#field(line.slice(at, eq), line, eq + 1, end);
      if (outcome !== undefined) return outcome;
      at = end;
    }
    return undefined;
  }

  #bracket(content: string): LineResult | 'stop' | undefined {
    switch (content) {
      case 'UNREPLIED':
        this.unreplied = true;
        return undefined;
      case 'ASSURED':
        this.assured = true;
        this.#leaveReply();
        return undefined;
      case 'USERSPACE':
        // ` [USERSPACE] portid=N progname=X`: who caused the event; nothing after it is ours.
        return 'stop';
    }
    this.#leaveReply();
    const event = eventNames[content];
    if (event !== undefined) {
      this.event = event;
      return undefined;
    }
    if (content.startsWith('start=') || content.startsWith('stop=')) {
      const us = ctimeToUs(content.slice(content.indexOf('=') + 1));
      if (us === undefined) return invalidLine('bad_number');
      if (content.startsWith('start=')) this.startUs = us;
      else this.stopUs = us;
    }
    // Anything else: the event stream's `[1795667087.742606]` receive time (we stamp samples
    // with our own clock), `[OFFLOAD]`, `[HW_OFFLOAD]`, future flags.
    return undefined;
  }

  /** A bare word: the columns before the first tuple (l3, l4, timeout, state). */
  #word(word: string): LineResult | undefined {
    if (this.tupleIndex > 0) return invalidLine('not_an_entry');
    this.words.push(word);
    return undefined;
  }

  #leaveReply(): void {
    if (this.tupleIndex === 2) this.tupleIndex = 3;
  }

  #field(key: string, line: string, from: number, to: number): LineResult | undefined {
    if (key === 'src') {
      if (this.tupleIndex === 0 && !this.#columns()) return invalidLine('not_an_entry');
      if (this.tupleIndex >= 2) return invalidLine('bad_tuple');
      const opened = this.tupleIndex === 0 ? this.tuples[0] : this.tuples[1];
      this.tupleIndex++;
      return setAddress(opened, 'src', line.slice(from, to));
    }
    const tuple = this.tupleIndex === 1 || this.tupleIndex === 2 ? this.tuples[this.tupleIndex - 1] : undefined;
    if (tuple) {
      switch (key) {
        case 'dst':
          return setAddress(tuple, 'dst', line.slice(from, to));
        case 'sport':
        case 'dport': {
          const port = decimalAt(line, from, to);
          if (port < 0 || port > 65535) return invalidLine('bad_number');
          if (key === 'sport') tuple.srcPort = port;
          else tuple.dstPort = port;
          return undefined;
        }
        case 'packets':
        case 'bytes': {
          const value = decimalAt(line, from, to);
          if (value < 0) return invalidLine('bad_number');
          if (key === 'packets') tuple.packets = value;
          else tuple.bytes = value;
          return undefined;
        }
        case 'type':
        case 'code':
          return undefined; // ICMP type and code: not part of a record's tuple
        case 'id':
          if ((this.proto === icmp || this.proto === icmpv6) && !tuple.icmpIdSeen) {
            tuple.icmpIdSeen = true;
            return undefined;
          }
      }
    }
    this.#leaveReply();
    const value = decimalAt(line, from, to);
    switch (key) {
      case 'id':
        if (value < 0) return invalidLine('bad_number');
        this.id = value;
        return undefined;
      case 'zone':
        if (value < 0 || value > 65535) return invalidLine('bad_number');
        this.zone = value;
        return undefined;
      case 'mark':
        if (value < 0 || value > 0xffffffff) return invalidLine('bad_number');
        this.mark = value;
        return undefined;
      case 'delta-time':
        if (value < 0) return invalidLine('bad_number');
        this.deltaSeconds = value;
        return undefined;
      case 'labels':
        this.labels = labelsFromNames(line.slice(from, to).split(','));
        return undefined;
    }
    return undefined; // use=, secctx=, helper=, zone-orig=, ...: not needed
  }

  /** Interprets the leading columns once the first tuple starts; false when they make no sense. */
  #columns(): boolean {
    const words = this.words;
    let at = 0;
    // `ipv4 2` / `ipv6 10`: the l3 name and number (procfs, -o extended).
    if (words.length >= 4 && numberWord(words[1]) >= 0 && numberWord(words[3]) >= 0) at = 2;
    const proto = numberWord(words[at + 1]);
    if (proto < 0 || proto > 255) return false;
    this.proto = proto;
    for (const word of words.slice(at + 2)) {
      if (numberWord(word) < 0) this.state = word; // else the remaining timeout, in seconds
    }
    return true;
  }
}

function setAddress(tuple: TupleScan, which: 'src' | 'dst', text: string): LineResult | undefined {
  const address = canonicalIp(text);
  if (address === undefined) return invalidLine('bad_address');
  tuple[which] = address;
  return undefined;
}

function numberWord(word: string | undefined): number {
  return word === undefined ? -1 : decimalAt(word, 0, word.length);
}
