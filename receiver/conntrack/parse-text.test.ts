import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConnSample } from '../../pipeline/records.js';
import { fixtureLine, fixtureLines, tuple } from '../../test/support/conntrack-fixtures.js';
import type { LineResult } from './line-result.js';
import { parseTextLine, scanTextLine } from './parse-text.js';
import { parseXmlLine } from './parse-xml.js';

// Expected values below are read off the captured lines in test/fixtures/conntrack.
const at = 1_800_000_000_000_000;

function sampleOf(result: LineResult): ConnSample {
  if (result.kind !== 'sample') throw new Error(`expected a sample, got ${JSON.stringify(result)}`);
  return result.sample;
}

/** `[start=Thu Nov 26 04:25:43 2026]` is ctime(3) output: local time, to the second. */
const localUs = (hours: number, minutes: number, seconds: number) =>
  new Date(2026, 10, 26, hours, minutes, seconds).getTime() * 1000;

describe('parseTextLine on a captured `conntrack -L -o extended,id,ktimestamp,labels`', () => {
  const line = (...needles: string[]) => fixtureLine('dump-extended.txt', ...needles);

  it('IPv4 TCP in zone 7 with mark 42', () => {
    const sample = sampleOf(parseTextLine(line('dport=8081 packets'), at));
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
      startUs: localUs(4, 25, 43),
      counters: { packets: 7, bytes: 460, reversePackets: 6, reverseBytes: 510 },
      dying: false,
    });
  });

  it('ICMP: the first id= in a tuple is the ICMP id, the last one the conntrack id', () => {
    const sample = sampleOf(parseTextLine(line('icmp '), at));
    expect(sample.id).toBe(2630844954);
    expect(sample.original).toEqual(tuple(1, '127.0.0.1', 0, '127.0.0.1', 0));
    expect(sample.reply).toEqual(tuple(1, '127.0.0.1', 0, '127.0.0.1', 0));
    expect(sample.counters).toEqual({ packets: 1, bytes: 84, reversePackets: 1, reverseBytes: 84 });
  });

  it('labels=5,9 becomes the bit mask 0x220; [UNREPLIED] sits between the tuples', () => {
    const sample = sampleOf(parseTextLine(line('labels=5,9'), at));
    expect(sample).toMatchObject({ labels: '0x220', mark: 17, unreplied: true, assured: false });
    expect(sample.reply).toEqual(tuple(17, '127.0.0.1', 9999, '127.0.0.1', 41677));
  });

  it('an entry created with acct and timestamp off: no counters, no start', () => {
    const sample = sampleOf(parseTextLine(line('dport=9996 '), at));
    expect(sample.counters).toBeUndefined();
    expect(sample.startUs).toBeUndefined();
  });

  it('SCTP: the state column is not a TCP state', () => {
    const sample = sampleOf(parseTextLine(line('sctp'), at));
    expect(sample.original).toEqual(tuple(132, '10.1.0.1', 5000, '10.1.0.2', 6000));
    expect(sample.tcpState).toBeUndefined();
  });

  it('agrees with the XML dump taken at the same moment, entry by entry', () => {
    const fromXml = new Map(
      fixtureLines('dump.xml')
        .map((l) => parseXmlLine(l, at))
        .filter((r) => r.kind === 'sample')
        .map((r) => [sampleOf(r).id, sampleOf(r)]),
    );
    const fromText = fixtureLines('dump-extended.txt').map((l) => sampleOf(parseTextLine(l, at)));
    expect(fromText).toHaveLength(fromXml.size);
    for (const text of fromText) {
      const xml = fromXml.get(text.id);
      const { startUs: xmlStart, ...xmlRest } = xml ?? ({} as ConnSample);
      const { startUs: textStart, ...textRest } = text;
      // The SCTP state aside (see parse-xml.ts), everything but the time resolution agrees.
      expect(textRest).toEqual(xmlRest);
      if (xmlStart !== undefined) expect(textStart).toBe(Math.floor(xmlStart / 1e6) * 1e6);
      else expect(textStart).toBeUndefined();
    }
  });
});

describe('parseTextLine on other captured text formats', () => {
  it('plain `conntrack -L`: no l3 columns, start from delta-time (seconds before now)', () => {
    const sample = sampleOf(parseTextLine(fixtureLine('dump-default.txt', 'dport=8081 packets'), at));
    expect(sample).toMatchObject({
      zone: 7,
      mark: 42,
      tcpState: 'TIME_WAIT',
      original: tuple(6, '127.0.0.1', 46290, '127.0.0.1', 8081),
      startUs: at - 1_000_000, // delta-time=1
    });
    expect(sample.id).toBeUndefined();
  });

  it('/proc/net/nf_conntrack: expanded IPv6 made canonical, zone=0 printed, no id', () => {
    const sample = sampleOf(parseTextLine(fixtureLine('procfs.txt', 'dport=8082 packets'), at));
    expect(sample.original).toEqual(tuple(6, '::1', 46426, '::1', 8082));
    expect(sample).toMatchObject({ zone: 0, mark: 0, tcpState: 'TIME_WAIT', startUs: at }); // delta-time=0
    expect(sample.id).toBeUndefined();
    expect(sample.counters).toEqual({ packets: 7, bytes: 596, reversePackets: 5, reverseBytes: 558 });
  });

  it('/proc/net/nf_conntrack: every line is an entry', () => {
    const results = fixtureLines('procfs.txt').map((l) => parseTextLine(l, at));
    expect(results.map((r) => r.kind)).toEqual(Array<string>(8).fill('sample'));
    expect(results.map((r) => sampleOf(r).original.proto).sort((a, b) => a - b)).toEqual([1, 6, 6, 6, 17, 17, 58, 132]);
  });
});

describe('parseTextLine on a captured `conntrack -E -o extended,timestamp,id,ktimestamp,labels`', () => {
  const events = fixtureLines('events-extended.txt').map((l) => parseTextLine(l, at));

  it('reads the event type after the receive-time prefix', () => {
    const types = events.map((r) => (r.kind === 'sample' ? r.event : r.kind));
    expect(types.filter((t) => t === 'new')).toHaveLength(7);
    expect(types.filter((t) => t === 'update')).toHaveLength(14);
    expect(types.filter((t) => t === 'destroy')).toHaveLength(3);
  });

  it('DESTROY: final counters, [start=] and [stop=], no timeout column, dying', () => {
    const sample = sampleOf(parseTextLine(fixtureLine('events-extended.txt', '[DESTROY]', 'dport=8081 packets'), at));
    expect(sample).toMatchObject({
      dying: true,
      tcpState: 'TIME_WAIT',
      zone: 7,
      mark: 42,
      id: 2429984345,
      counters: { packets: 7, bytes: 460, reversePackets: 6, reverseBytes: 510 },
      startUs: localUs(4, 25, 43),
      stopUs: localUs(4, 25, 44),
    });
  });

  it('the [USERSPACE] portid= progname= suffix ends the entry', () => {
    const sample = sampleOf(parseTextLine(fixtureLine('events-extended.txt', '[NEW]', 'sctp'), at));
    expect(sample).toMatchObject({ id: 571807811, original: tuple(132, '10.1.0.1', 5000, '10.1.0.2', 6000) });
    const destroy = sampleOf(parseTextLine(fixtureLine('events-extended.txt', '[DESTROY]', 'dport=9999'), at));
    expect(destroy.id).toBe(4282358561);
  });

  it('ICMP event: `id=11314 id=2630844954` is the ICMP id, then the conntrack id', () => {
    const sample = sampleOf(parseTextLine(fixtureLine('events-extended.txt', '[NEW]', 'icmp '), at));
    expect(sample.id).toBe(2630844954);
    expect(sample.unreplied).toBe(true);
  });

  it('NEW and UPDATE carry no counters and the start is not guessed from them', () => {
    const sample = sampleOf(parseTextLine(fixtureLine('events-extended.txt', '[NEW]', 'dport=8081'), at));
    expect(sample.counters).toBeUndefined();
    expect(sample.startUs).toBeUndefined();
  });
});

describe('parseTextLine on bad input', () => {
  const good = fixtureLine('procfs.txt', 'dport=8081 packets');

  it.each([
    ['a cut-off line', good.slice(0, good.indexOf(' src=', 60)), 'bad_tuple'],
    ['an address that is not one', good.replace('src=127.0.0.1', 'src=127.0.0.x'), 'bad_address'],
    ['a port above 65535', good.replace('sport=46290', 'sport=65536'), 'bad_number'],
    ['a third tuple', `${good} src=1.2.3.4`, 'bad_tuple'],
    ['an unclosed bracket', good.replace('[ASSURED]', '[ASSURED'), 'truncated'],
    ['a stray word after the tuples', good.replace('[ASSURED]', 'ASSURED'), 'not_an_entry'],
    ['a conntrack notice', 'conntrack v1.4.7 (conntrack-tools): 8 flow entries have been shown.', 'not_an_entry'],
  ])('%s', (_, line, reason) => {
    expect(parseTextLine(line, at)).toEqual({ kind: 'invalid', reason });
  });

  it('an empty line is no entry and no error', () => {
    expect(parseTextLine('', at)).toEqual({ kind: 'ignored' });
  });

  it('never throws on damaged captured lines, and both paths agree', () => {
    const lines = [...fixtureLines('procfs.txt'), ...fixtureLines('events-extended.txt')];
    fc.assert(
      fc.property(fc.constantFrom(...lines), fc.nat(), fc.nat(), fc.string({ maxLength: 12 }), (line, a, b, insert) => {
        const from = a % (line.length + 1);
        const damaged = line.slice(0, from) + insert + line.slice(from + (b % 30));
        expect(parseTextLine(damaged, at)).toEqual(scanTextLine(damaged, at));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('the fast path (one regular expression) and the token scan agree', () => {
  it('on every captured line', () => {
    const files = ['procfs.txt', 'dump-default.txt', 'dump-extended.txt', 'events-extended.txt'];
    for (const line of files.flatMap(fixtureLines)) expect(parseTextLine(line, at)).toEqual(scanTextLine(line, at));
  });
});
