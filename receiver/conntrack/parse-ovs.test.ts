import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnSample } from '../../pipeline/records.js';
import { fixtureLine, fixtureLines, tuple } from '../../test/support/conntrack-fixtures.js';
import type { LineResult } from './line-result.js';
import { parseOvsLine, scanOvsLine } from './parse-ovs.js';

// Expected values below are read off the captured lines in test/fixtures/conntrack.
const at = 1_800_000_000_000_000;

function sampleOf(result: LineResult): ConnSample {
  if (result.kind !== 'sample') throw new Error(`expected a sample, got ${JSON.stringify(result)}`);
  return result.sample;
}

const line = (...needles: string[]) => fixtureLine('ovs-dump-ms.txt', ...needles);

describe('parseOvsLine on a captured `ovs-appctl dpctl/dump-conntrack -m -s` (userspace datapath)', () => {
  it('HTTP connection committed with ct_mark 42 and ct_label 0x1234, closed', () => {
    const sample = sampleOf(parseOvsLine(line('dport=8080', '10.20.0.1'), at));
    expect(sample).toEqual({
      kind: 'conn',
      timeUs: at,
      zone: 65520,
      mark: 42,
      labels: '0x1234',
      original: tuple(6, '10.20.0.1', 37244, '10.20.0.2', 8080),
      reply: tuple(6, '10.20.0.2', 8080, '10.20.0.1', 37244),
      tcpState: 'TIME_WAIT', // state_orig=FIN_WAIT_2,state_reply=FIN_WAIT_2, merged as OVS does
      assured: false,
      unreplied: false,
      dying: false,
    });
  });

  it('the userspace datapath has no counters, no times, and id=0 is no id', () => {
    for (const entry of fixtureLines('ovs-dump-ms.txt')) {
      const sample = sampleOf(parseOvsLine(entry, at));
      expect(sample.counters).toBeUndefined();
      expect(sample.startUs).toBeUndefined();
      expect(sample.id).toBeUndefined();
      expect(sample.zone).toBe(65520);
    }
  });

  it('an ESTABLISHED connection held open', () => {
    const sample = sampleOf(parseOvsLine(line('dport=8081'), at));
    expect(sample.tcpState).toBe('ESTABLISHED');
    expect(sample.mark).toBe(0);
    expect(sample.labels).toBeUndefined();
  });

  it('IPv6 TCP, ICMP and ICMPv6 (ids and types are not ports), UDP', () => {
    expect(sampleOf(parseOvsLine(line('src=fd20::1', 'tcp'), at)).original).toEqual(
      tuple(6, 'fd20::1', 35290, 'fd20::2', 8080),
    );
    expect(sampleOf(parseOvsLine(line('icmp,'), at)).original).toEqual(tuple(1, '10.20.0.1', 0, '10.20.0.2', 0));
    expect(sampleOf(parseOvsLine(line('icmpv6,'), at)).reply).toEqual(tuple(58, 'fd20::2', 0, 'fd20::1', 0));
    expect(sampleOf(parseOvsLine(line('udp,'), at)).original).toEqual(tuple(17, '10.20.0.1', 39940, '10.20.0.2', 9999));
  });

  it('agrees with the short form taken at the same moment, whose merged TCP state is OVS’s own', () => {
    const key = (s: ConnSample) => JSON.stringify(s.original);
    const verbose = new Map(
      fixtureLines('ovs-dump-ms.txt')
        .map((l) => sampleOf(parseOvsLine(l, at)))
        .map((s) => [key(s), s]),
    );
    const short = fixtureLines('ovs-dump-short.txt').map((l) => sampleOf(parseOvsLine(l, at)));
    expect(short.length).toBeGreaterThan(0);
    for (const sample of short) expect(verbose.get(key(sample))).toEqual(sample);
  });

  it('a zone-filtered dump parses the same entries', () => {
    const all = fixtureLines('ovs-dump-ms.txt').map((l) => parseOvsLine(l, at));
    const zone = fixtureLines('ovs-dump-ms-zone.txt').map((l) => parseOvsLine(l, at));
    expect(zone.map((r) => sampleOf(r).zone)).toEqual(all.map(() => 65520));
  });
});

describe('parseOvsLine on the kernel-datapath layout', () => {
  // Written from lib/ct-dpif.c (ct_dpif_format_entry) rather than captured: it needs the
  // openvswitch kernel module, which the test machines lack. -s prints counters when
  // non-zero, start/stop in local time with milliseconds, status flags by name.
  const kernelLine =
    'tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80,packets=5,bytes=400),' +
    'reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=40000,packets=4,bytes=1200),' +
    'start=2026-11-26T04:24:47.123,id=3013982512,zone=65520,status=SEEN_REPLY|ASSURED|CONFIRMED,' +
    'timeout=431999,mark=42,labels=0x0000000000000000000000000000000a,protoinfo=(state=ESTABLISHED),helper=ftp';

  it('reads counters, start time, id, flags and labels', () => {
    const sample = sampleOf(parseOvsLine(kernelLine, at));
    expect(sample).toMatchObject({
      id: 3013982512,
      counters: { packets: 5, bytes: 400, reversePackets: 4, reverseBytes: 1200 },
      startUs: new Date(2026, 10, 26, 4, 24, 47, 123).getTime() * 1000,
      assured: true,
      unreplied: false,
      labels: '0xa',
      tcpState: 'ESTABLISHED',
    });
  });

  it('an entry without SEEN_REPLY is unreplied', () => {
    const sample = sampleOf(parseOvsLine(kernelLine.replace('SEEN_REPLY|ASSURED|', ''), at));
    expect(sample).toMatchObject({ assured: false, unreplied: true });
  });
});

describe('parseOvsLine on bad input', () => {
  const good = line('dport=8081');

  it.each([
    ['a cut-off tuple', good.slice(0, 40), 'truncated'],
    ['no reply tuple', good.replace(/,reply=\([^)]*\)/, ''), 'bad_tuple'],
    ['an address that is not one', good.replace('src=10.20.0.1', 'src=10.20.0'), 'bad_address'],
    ['a zone above 65535', good.replace('zone=65520', 'zone=65536'), 'bad_number'],
    ['OVS’s own complaint', 'Unsupported address family: 7. HEX:', 'not_an_entry'],
    ['an ovs-appctl error', 'ovs-appctl: cannot connect to "/var/run/openvswitch/ovs-vswitchd.1.ctl"', 'not_an_entry'],
  ])('%s', (_, text, reason) => {
    expect(parseOvsLine(text, at)).toEqual({ kind: 'invalid', reason });
  });

  it('never throws on damaged captured lines, and both paths agree', () => {
    const lines = fixtureLines('ovs-dump-ms.txt');
    fc.assert(
      fc.property(
        fc.constantFrom(...lines),
        fc.nat(),
        fc.nat(),
        fc.string({ maxLength: 12 }),
        (entry, a, b, insert) => {
          const from = a % (entry.length + 1);
          const damaged = entry.slice(0, from) + insert + entry.slice(from + (b % 30));
          expect(parseOvsLine(damaged, at)).toEqual(scanOvsLine(damaged, at));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('the fast path (one regular expression) and the field scan agree', () => {
  it('on every captured line', () => {
    const files = ['ovs-dump-ms.txt', 'ovs-dump-ms-zone.txt', 'ovs-dump-short.txt'];
    for (const entry of files.flatMap(fixtureLines)) expect(parseOvsLine(entry, at)).toEqual(scanOvsLine(entry, at));
  });
});
