import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnSample } from '../../pipeline/records.js';
import { fixtureLine, fixtureLines, tuple } from '../../test/support/conntrack-fixtures.js';
import type { LineResult } from './line-result.js';
import { parseXmlLine, scanXmlLine } from './parse-xml.js';

// Expected values below are read off the captured lines in test/fixtures/conntrack.
const at = 1_800_000_000_000_000;

function sampleOf(result: LineResult): ConnSample {
  if (result.kind !== 'sample') throw new Error(`expected a sample, got ${JSON.stringify(result)}`);
  return result.sample;
}

const dumpLine = (...needles: string[]) => fixtureLine('dump.xml', ...needles);

describe('parseXmlLine on a captured `conntrack -L -o xml,id,ktimestamp,labels`', () => {
  it('reads all eight entries and skips the XML prologue and the closing tag', () => {
    const results = fixtureLines('dump.xml').map((line) => parseXmlLine(line, at));
    expect(results.map((r) => r.kind)).toEqual(['ignored', 'ignored', ...Array<string>(8).fill('sample'), 'ignored']);
  });

  it('IPv4 TCP in zone 7 with mark 42: both tuples, state, flags, counters, start in exact µs', () => {
    const sample = sampleOf(parseXmlLine(dumpLine('<dport>8081</dport>'), at));
    expect(sample).toEqual({
      kind: 'conn',
      timeUs: at,
      id: 2429984345,
      zone: 7,
      mark: 42,
      original: tuple(6, '127.0.0.1', 46290, '127.0.0.1', 8081),
      reply: tuple(6, '127.0.0.1', 8081, '127.0.0.1', 46290),
      tcpState: 'TIME_WAIT',
      assured: true,
      unreplied: false,
      startUs: 1795667143916442, // <start>1795667143916442230</start> ns, truncated
      counters: { packets: 7, bytes: 460, reversePackets: 6, reverseBytes: 510 },
      dying: false,
    });
    expect(sample.stopUs).toBeUndefined();
    expect(sample.labels).toBeUndefined();
  });

  it('IPv6 TCP, with canonical addresses', () => {
    const sample = sampleOf(parseXmlLine(dumpLine('<dport>8082</dport>'), at));
    expect(sample.original).toEqual(tuple(6, '::1', 46426, '::1', 8082));
    expect(sample.reply).toEqual(tuple(6, '::1', 8082, '::1', 46426));
    expect(sample.zone).toBe(0);
    expect(sample.id).toBe(2781108740);
    expect(sample.counters).toEqual({ packets: 7, bytes: 596, reversePackets: 5, reverseBytes: 558 });
    expect(sample.startUs).toBe(1795667143934579);
  });

  it('an ESTABLISHED connection held open', () => {
    const sample = sampleOf(parseXmlLine(dumpLine('<dport>8083</dport>'), at));
    expect(sample.tcpState).toBe('ESTABLISHED');
    expect(sample.assured).toBe(true);
    expect(sample.counters).toEqual({ packets: 2, bytes: 112, reversePackets: 1, reverseBytes: 60 });
  });

  it('ICMP and ICMPv6: IANA protocol numbers, ports 0, no TCP state', () => {
    const icmp = sampleOf(parseXmlLine(dumpLine('protoname="icmp"'), at));
    expect(icmp.original).toEqual(tuple(1, '127.0.0.1', 0, '127.0.0.1', 0));
    expect(icmp.tcpState).toBeUndefined();
    expect(icmp.counters).toEqual({ packets: 1, bytes: 84, reversePackets: 1, reverseBytes: 84 });
    const icmpv6 = sampleOf(parseXmlLine(dumpLine('protoname="icmpv6"'), at));
    expect(icmpv6.original).toEqual(tuple(58, '::1', 0, '::1', 0));
    expect(icmpv6.id).toBe(2426411404);
  });

  it('an UNREPLIED UDP flow with mark 17 and labels 5 and 9 (mask 0x220)', () => {
    const sample = sampleOf(parseXmlLine(dumpLine('<dport>9999</dport>'), at));
    expect(sample.unreplied).toBe(true);
    expect(sample.assured).toBe(false);
    expect(sample.mark).toBe(17);
    expect(sample.labels).toBe('0x220');
    expect(sample.original).toEqual(tuple(17, '127.0.0.1', 41677, '127.0.0.1', 9999));
    expect(sample.counters).toEqual({ packets: 1, bytes: 37, reversePackets: 0, reverseBytes: 0 });
  });

  it('an entry created while acct and timestamp were off has neither counters nor a start', () => {
    const sample = sampleOf(parseXmlLine(dumpLine('<dport>9996</dport>'), at));
    expect(sample.counters).toBeUndefined();
    expect(sample.startUs).toBeUndefined();
    expect(sample.unreplied).toBe(true);
    expect(sample.id).toBe(3859001933);
  });

  it('SCTP keeps its ports but no tcpState (the XML printer names SCTP states from the TCP table)', () => {
    const sample = sampleOf(parseXmlLine(dumpLine('protoname="sctp"'), at));
    expect(sample.original).toEqual(tuple(132, '10.1.0.1', 5000, '10.1.0.2', 6000));
    expect(sample.reply).toEqual(tuple(132, '10.1.0.2', 6000, '10.1.0.1', 5000));
    expect(sample.tcpState).toBeUndefined();
  });

  it('a zone-filtered dump (-w 7) holds just the zone 7 entry', () => {
    const samples = fixtureLines('dump-zone7.xml')
      .map((line) => parseXmlLine(line, at))
      .filter((r) => r.kind === 'sample');
    expect(samples.map((r) => sampleOf(r).zone)).toEqual([7]);
  });
});

describe('parseXmlLine on a captured `conntrack -E` stream', () => {
  it('DESTROY caused by `conntrack -D`: the [USERSPACE] portid suffix is ignored', () => {
    const line = fixtureLine('events-destroy.xml', '[USERSPACE] portid=');
    const result = parseXmlLine(line, at);
    expect(result).toMatchObject({ kind: 'sample', event: 'destroy' });
    const sample = sampleOf(result);
    expect(sample.dying).toBe(true);
    expect(sample.original).toEqual(tuple(17, '127.0.0.1', 41677, '127.0.0.1', 9999));
    expect(sample.startUs).toBe(1795667143948461);
    expect(sample.stopUs).toBe(1795667144289888);
    expect(sample.counters).toEqual({ packets: 1, bytes: 37, reversePackets: 0, reverseBytes: 0 });
  });

  it('DESTROY of an expired TIME_WAIT connection: final counters, start and stop', () => {
    const sample = sampleOf(parseXmlLine(fixtureLine('events-destroy.xml', '<dport>8081</dport>'), at));
    expect(sample).toMatchObject({
      dying: true,
      zone: 7,
      mark: 42,
      id: 2429984345,
      tcpState: 'TIME_WAIT',
      startUs: 1795667143916442,
      stopUs: 1795667144921772,
      counters: { packets: 7, bytes: 460, reversePackets: 6, reverseBytes: 510 },
    });
  });

  it('tells NEW, UPDATE and DESTROY apart; only DESTROY is dying', () => {
    const results = fixtureLines('events.xml').map((line) => parseXmlLine(line, at));
    const events = results.flatMap((r) => (r.kind === 'sample' ? [r.event] : []));
    expect(events.filter((e) => e === 'new')).toHaveLength(7);
    expect(events.filter((e) => e === 'update')).toHaveLength(14);
    expect(events.filter((e) => e === 'destroy')).toHaveLength(3);
    expect(results.filter((r) => r.kind === 'sample' && r.sample.dying)).toHaveLength(3);
    expect(results.filter((r) => r.kind === 'invalid')).toEqual([]);
  });

  it('NEW events carry labels; a SYN_SENT is UNREPLIED', () => {
    const labelled = sampleOf(parseXmlLine(fixtureLine('events.xml', 'type="new"', '<dport>9999</dport>'), at));
    expect(labelled.labels).toBe('0x220');
    const syn = sampleOf(parseXmlLine(fixtureLine('events.xml', 'type="new"', '<dport>8081</dport>'), at));
    expect(syn).toMatchObject({ tcpState: 'SYN_SENT', unreplied: true, assured: false });
    expect(syn.counters).toBeUndefined();
  });
});

describe('parseXmlLine on bad input', () => {
  const good = fixtureLine('dump.xml', '<dport>8081</dport>');

  it.each([40, 200, 400, good.indexOf('</flow>')])('a line cut at %i is truncated', (cut) => {
    expect(parseXmlLine(good.slice(0, cut), at)).toEqual({ kind: 'invalid', reason: 'truncated' });
  });

  it.each([
    ['an address that is not one', good.replace('<src>127.0.0.1</src>', '<src>127.0.0.300</src>'), 'bad_address'],
    ['a port above 65535', good.replace('<sport>46290</sport>', '<sport>70000</sport>'), 'bad_number'],
    ['a zone above 65535', good.replace('<zone>7</zone>', '<zone>70000</zone>'), 'bad_number'],
    ['a tuple without its destination', good.replace('<dst>127.0.0.1</dst>', ''), 'bad_tuple'],
    ['an unknown event type', good.replace('<flow>', '<flow type="resurrect">'), 'not_an_entry'],
    ['not XML at all', 'conntrack v1.4.7 (conntrack-tools): 8 flow entries have been shown.', 'not_an_entry'],
  ])('%s', (_, line, reason) => {
    expect(parseXmlLine(line, at)).toEqual({ kind: 'invalid', reason });
  });

  it('never throws, whatever is cut out of or spliced into a captured line, and both paths agree', () => {
    const lines = fixtureLines('events.xml');
    fc.assert(
      fc.property(fc.constantFrom(...lines), fc.nat(), fc.nat(), fc.string({ maxLength: 20 }), (line, a, b, insert) => {
        const from = a % (line.length + 1);
        const to = from + (b % 40);
        const damaged = line.slice(0, from) + insert + line.slice(to);
        const result = parseXmlLine(damaged, at);
        expect(['sample', 'ignored', 'invalid']).toContain(result.kind);
        expect(scanXmlLine(damaged, at)).toEqual(result);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the fast path (one regular expression) and the tag walk agree', () => {
  const captured = ['dump.xml', 'dump-zone7.xml', 'events.xml', 'events-destroy.xml'].flatMap(fixtureLines);

  it('on every captured line', () => {
    for (const line of captured) expect(parseXmlLine(line, at)).toEqual(scanXmlLine(line, at));
  });

  it('lines with elements the fast path does not know still parse, through the tag walk', () => {
    const line = fixtureLine('dump.xml', '<dport>8081</dport>');
    const expected = parseXmlLine(line, at);
    const withExtras = line
      .replace('<mark>42</mark>', '<mark>42</mark><secmark>0</secmark>')
      .replace('<use>1</use>', '<use>1</use><helper>ftp</helper>');
    expect(withExtras).not.toBe(line);
    expect(parseXmlLine(withExtras, at)).toEqual(expected);
  });
});
