import { describe, expect, it } from 'vitest';
import { IpfixDecoder, valueOf } from '../../../test/support/ipfix-decode.js';
import { SessionHeader } from '../session.js';
import { ByteWriter } from './byte-writer.js';
import { antreaFraming, MessageBuilder, rfcFraming, type EncodedMessage, type Framing } from './message.js';
import { antrea, iana, reverse, type InformationElement } from './registry.js';
import { field, Template } from './templates.js';

/**
 * Golden bytes written by hand from RFC 7011 (§3.1 header, §3.3.2 set header, §3.4.1
 * template record, §3.2 field specifier with E bit and PEN, §6.1 encodings, §7 variable
 * length), never copied from the encoder's output. Each line of a golden is one field.
 */
function hex(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '');
}

function build(
  framing: Framing,
  maxMessageSize: number,
  fill: (builder: MessageBuilder) => void,
  stamp = { exportTime: 0, sequence: 0 },
): EncodedMessage[] {
  const out: EncodedMessage[] = [];
  const builder = new MessageBuilder({ maxMessageSize, observationDomainId: 42, framing }, (m) => out.push(m));
  fill(builder);
  builder.flush();
  const session = new SessionHeader(stamp.sequence);
  for (const m of out) {
    session.stamp(m.bytes, stamp.exportTime * 1e6, 0);
    session.advance(m.dataRecords);
  }
  return out;
}

interface Row {
  ip: string;
  app: string;
}
const ipAndApp = new Template<Row>(256, [
  field(iana.sourceIPv4Address, (r: Row) => r.ip),
  field(antrea.appProtocolName, (r: Row) => r.app),
]);

describe('message, template and data set bytes (RFC 7011 §3)', () => {
  it('writes header, template with an enterprise field, and a data set with a short string', () => {
    const [message] = build(
      rfcFraming,
      1500,
      (b) => {
        b.addTemplate(ipAndApp);
        b.addRecord(ipAndApp, { ip: '192.168.0.1', app: 'http' });
      },
      { exportTime: 0x6925a480, sequence: 7 },
    );
    expect(message!.bytes.toString('hex')).toBe(
      hex(`
        000a       # version 10
        0031       # length 49 = 16 header + 20 template set + 13 data set
        6925a480   # export time
        00000007   # sequence number: data records before this message
        0000002a   # observation domain 42
        0002 0014  # template set (id 2), 20 octets
        0100 0002  # template 256, 2 fields
        0008 0004  # sourceIPv4Address, 4 octets
        809b ffff 0000dcba  # E=1 | 155 appProtocolName, variable length, PEN 56506
        0100 000d  # data set for template 256, 13 octets
        c0a80001   # 192.168.0.1
        04 68747470  # length 4, "http"
      `),
    );
    expect(message!.dataRecords).toBe(1);
    expect(message!.templateRecords).toBe(1);
  });

  it('writes RFC 5103 reverse elements with PEN 29305', () => {
    const t = new Template<number>(300, [field(reverse.octetDeltaCount, (v: number) => v)]);
    const [message] = build(rfcFraming, 1500, (b) => b.addTemplate(t));
    expect(message!.bytes.subarray(16).toString('hex')).toBe(
      hex(`
        0002 0010          # template set, 16 octets
        012c 0001          # template 300, 1 field
        8001 0008 00007279 # E=1 | 1 octetDeltaCount, 8 octets, PEN 29305
      `),
    );
  });

  it('writes an options template with its scope field count in set 3', () => {
    const t = new Template<number>(
      259,
      [
        field(iana.exportingProcessId, (v: number) => v),
        field(iana.notSentFlowTotalCount, (v: number) => v),
        field(iana.observationTimeMilliseconds, (v: number) => v),
      ],
      1,
    );
    const [message] = build(rfcFraming, 1500, (b) => {
      b.addTemplate(t);
      b.addRecord(t, 5);
    });
    expect(message!.bytes.subarray(16).toString('hex')).toBe(
      hex(`
        0003 0016   # options template set (id 3), 22 octets
        0103 0003 0001  # template 259, 3 fields, 1 scope field
        0090 0004   # exportingProcessId, 4
        00a6 0008   # notSentFlowTotalCount, 8
        0143 0008   # observationTimeMilliseconds, 8
        0103 0018   # data set 259, 24 octets
        00000005
        0000000000000005
        0000000000000005
      `),
    );
  });

  it('uses the one-octet length below 255 and 255 + two octets from 255 up (§7)', () => {
    const t = new Template<string>(256, [field(iana.applicationName, (s: string) => s)]);
    const lengths = [0, 1, 254, 255, 256, 300, 65535];
    const [message] = build(rfcFraming, 0xffff, (b) => {
      for (const n of lengths.slice(0, -1)) expect(b.addRecord(t, 'x'.repeat(n))).toBe('added');
    });
    const body = message!.bytes.subarray(20);
    const expected = [
      '00',
      `01${'78'}`,
      `fe${'78'.repeat(254)}`,
      `ff00ff${'78'.repeat(255)}`,
      `ff0100${'78'.repeat(256)}`,
      `ff012c${'78'.repeat(300)}`,
    ].join('');
    expect(body.toString('hex')).toBe(expected);
    // 65535 octets of value cannot fit any message: refused, never truncated silently.
    const [none] = build(rfcFraming, 0xffff, (b) => expect(b.addRecord(t, 'x'.repeat(65535))).toBe('too_large'));
    expect(none).toBeUndefined();
  });

  it('encodes every abstract type we support as §6.1 says', () => {
    const bool: InformationElement<'boolean'> = {
      name: 'dataRecordsReliability',
      pen: 0,
      id: 276,
      type: 'boolean',
      semantics: 'default',
    };
    const micro = iana.observationTimeMicroseconds;
    const signed: InformationElement<'signed32'> = antrea.ingressNetworkPolicyRulePriority;
    interface V {
      yes: boolean;
      no: boolean;
      v6: string;
      mapped: string;
      us: number;
      neg: number;
      reduced: number;
      ms: number;
    }
    const t = new Template<V>(256, [
      field(bool, (v: V) => v.yes),
      field(bool, (v: V) => v.no),
      field(iana.sourceIPv6Address, (v: V) => v.v6),
      field(iana.destinationIPv6Address, (v: V) => v.mapped),
      field(micro, (v: V) => v.us),
      field(signed, (v: V) => v.neg),
      field(iana.octetDeltaCount, (v: V) => v.reduced, 4),
      field(iana.flowStartMilliseconds, (v: V) => v.ms),
    ]);
    const [message] = build(rfcFraming, 1500, (b) =>
      b.addRecord(t, {
        yes: true,
        no: false,
        v6: '2001:db8::1',
        mapped: '::ffff:192.0.2.1',
        us: 1_500_000, // 1970-01-01T00:00:01.5Z
        neg: -2,
        reduced: 0xdeadbeef,
        ms: 1_764_158_400_123,
      }),
    );
    expect(message!.bytes.subarray(20).toString('hex')).toBe(
      hex(`
        01  # true
        02  # false
        20010db8000000000000000000000001
        00000000000000000000ffffc0000201
        83aa7e81 80000000  # NTP: 2208988801 s since 1900, fraction 1/2
        fffffffe           # -2, two's complement
        deadbeef           # unsigned64 in a reduced 4-octet field
        0000019ac008e67b   # 1764158400123 ms = 0x19ac008e67b
      `),
    );
  });

  it('refuses values a field cannot hold, leaving the message as it was', () => {
    const out = build(rfcFraming, 1500, (b) => {
      expect(b.addRecord(ipAndApp, { ip: '10.0.0.256', app: '' })).toBe('invalid');
      expect(b.addRecord(ipAndApp, { ip: '::1', app: '' })).toBe('invalid');
      expect(b.addRecord(ipAndApp, { ip: '10.0.0.1', app: 'ok' })).toBe('added');
    });
    expect(out).toHaveLength(1);
    expect(out[0]!.dataRecords).toBe(1);
    expect(out[0]!.bytes.subarray(20).toString('hex')).toBe('0a000001026f6b');
  });
});

describe('message size boundary: a record is never split across messages', () => {
  const t = new Template<string>(256, [field(iana.applicationName, (s: string) => s)]);

  it('puts a record that exactly fits the maximum into the message', () => {
    // 512 = 16 header + 4 set header + 3 length octets + 489 octets of value
    const out = build(rfcFraming, 512, (b) => expect(b.addRecord(t, 'a'.repeat(489))).toBe('added'));
    expect(out).toHaveLength(1);
    expect(out[0]!.bytes.length).toBe(512);
    expect(out[0]!.bytes.readUInt16BE(2)).toBe(512);
  });

  it('refuses a record one octet larger than any message can hold', () => {
    const out = build(rfcFraming, 512, (b) => expect(b.addRecord(t, 'a'.repeat(490))).toBe('too_large'));
    expect(out).toHaveLength(0);
  });

  it('fills a message to the last octet, then carries the next record whole into a new one', () => {
    // Two records of 246 octets (1 + 245) fill 16 + 4 + 492 = 512 exactly.
    const out = build(rfcFraming, 512, (b) => {
      for (const c of 'abc') expect(b.addRecord(t, c.repeat(245))).toBe('added');
    });
    expect(out.map((m) => m.bytes.length)).toEqual([512, 16 + 4 + 246]);
    expect(out.map((m) => m.dataRecords)).toEqual([2, 1]);
    const decoder = new IpfixDecoder();
    decoder.decodeMessage(build(rfcFraming, 512, (b) => b.addTemplate(t))[0]!.bytes);
    const names = out.flatMap((m) => {
      const d = decoder.decodeMessage(m.bytes);
      if (!d.ok) throw new Error(d.error);
      return d.value.records.map((r) => String(valueOf(r, 'applicationName')).slice(0, 1));
    });
    expect(names).toEqual(['a', 'b', 'c']);
  });

  it('closes the message when a record one octet too long for the space left arrives', () => {
    const out = build(rfcFraming, 512, (b) => {
      b.addRecord(t, 'a'.repeat(245));
      b.addRecord(t, 'b'.repeat(246)); // 247 octets, 246 left
    });
    expect(out.map((m) => m.bytes.length)).toEqual([16 + 4 + 246, 16 + 4 + 247]);
  });
});

describe('framing profiles', () => {
  const other = new Template<Row>(257, ipAndApp.fields);

  it('antrea: one set per message and one template per template set', () => {
    const out = build(antreaFraming, 1500, (b) => {
      b.addTemplate(ipAndApp);
      b.addTemplate(other);
      b.addRecord(ipAndApp, { ip: '10.0.0.1', app: '' });
      b.addRecord(other, { ip: '10.0.0.2', app: '' });
      b.addRecord(other, { ip: '10.0.0.3', app: '' });
    });
    const decoder = new IpfixDecoder();
    const sets = out.map((m) => {
      const d = decoder.decodeMessage(m.bytes);
      if (!d.ok) throw new Error(d.error);
      return d.value.sets.map((s) => s.id);
    });
    expect(sets).toEqual([[2], [2], [256], [257]]);
    expect(out.map((m) => m.dataRecords)).toEqual([0, 0, 1, 2]);
  });

  it('rfc: templates share a set, data sets share the message', () => {
    const out = build(rfcFraming, 1500, (b) => {
      b.addTemplate(ipAndApp);
      b.addTemplate(other);
      b.addRecord(ipAndApp, { ip: '10.0.0.1', app: '' });
      b.addRecord(other, { ip: '10.0.0.2', app: '' });
    });
    expect(out).toHaveLength(1);
    const d = new IpfixDecoder().decodeMessage(out[0]!.bytes);
    if (!d.ok) throw new Error(d.error);
    expect(d.value.sets.map((s) => s.id)).toEqual([2, 256, 257]);
    expect(d.value.templates.map((t) => t.id)).toEqual([256, 257]);
  });
});

describe('sequence numbers (RFC 7011 §3.1)', () => {
  const stampAll = (session: SessionHeader, counts: readonly number[], skipped: readonly number[] = []) =>
    counts.map((n, i) => {
      const bytes = Buffer.alloc(16);
      session.stamp(bytes, 0, skipped[i] ?? 0);
      session.advance((skipped[i] ?? 0) + n);
      return bytes.readUInt32BE(8);
    });

  it('counts data records sent before each message', () => {
    expect(stampAll(new SessionHeader(), [0, 3, 2, 0, 5])).toEqual([0, 0, 3, 5, 5]);
  });

  it('wraps modulo 2^32', () => {
    expect(stampAll(new SessionHeader(0xfffffffe), [3, 1])).toEqual([0xfffffffe, 1]);
  });

  it('jumps past dropped records so the collector sees the gap', () => {
    // 4 records sent, then 6 dropped, then a message of 2, then one of 1
    expect(stampAll(new SessionHeader(), [4, 2, 1], [0, 6, 0])).toEqual([0, 10, 12]);
    expect(stampAll(new SessionHeader(0xfffffffc), [4, 2], [0, 6])).toEqual([0xfffffffc, 6]);
  });

  it('never moves the export time backwards within a session', () => {
    const session = new SessionHeader();
    const times = [100e6, 99e6, 101.5e6].map((us) => {
      const bytes = Buffer.alloc(16);
      session.stamp(bytes, us, 0);
      return bytes.readUInt32BE(4);
    });
    expect(times).toEqual([100, 100, 101]);
  });
});

describe('byte writer', () => {
  it('parses IPv6 text in every RFC 4291 form', () => {
    const cases: [string, string | undefined][] = [
      ['::', '00000000000000000000000000000000'],
      ['::1', '00000000000000000000000000000001'],
      ['1::', '00010000000000000000000000000000'],
      ['fe80::1:2', 'fe800000000000000000000000010002'],
      ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
      ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
      ['::ffff:10.1.2.3', '00000000000000000000ffff0a010203'],
      ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
      ['ABCD::EF', 'abcd00000000000000000000000000ef'],
      ['1:2:3:4:5:6:7:8:9', undefined],
      ['::1:2:3:4:5:6:7:8', undefined],
      ['1::2::3', undefined],
      ['12345::', undefined],
      [':1::', undefined],
      ['1:', undefined],
      ['g::', undefined],
      ['', undefined],
      ['1.2.3.4', undefined],
    ];
    for (const [text, expected] of cases) {
      const w = new ByteWriter(4);
      const ok = w.ipv6(text);
      expect({ text, bytes: ok ? w.copyOut(0, w.offset).toString('hex') : undefined }).toEqual({
        text,
        bytes: expected,
      });
    }
  });

  it('parses dotted-quad IPv4 and refuses anything else', () => {
    const cases: [string, string | undefined][] = [
      ['0.0.0.0', '00000000'],
      ['255.255.255.255', 'ffffffff'],
      ['10.1.2.3', '0a010203'],
      ['256.0.0.1', undefined],
      ['1.2.3', undefined],
      ['1.2.3.4.5', undefined],
      ['1..2.3', undefined],
      ['1.2.3.4 ', undefined],
      ['::1', undefined],
      ['', undefined],
    ];
    for (const [text, expected] of cases) {
      const w = new ByteWriter(2);
      const ok = w.ipv4(text);
      expect({ text, bytes: ok ? w.copyOut(0, w.offset).toString('hex') : undefined }).toEqual({
        text,
        bytes: expected,
      });
    }
  });

  it('writes lone surrogates as U+FFFD, so strings are always well-formed UTF-8', () => {
    const w = new ByteWriter(0);
    expect(w.varlenString('a\ud800b')).toBe(true);
    expect(w.copyOut(0, w.offset).toString('hex')).toBe('0561efbfbd62');
  });

  it('refuses integers outside their field and accepts the largest that fit', () => {
    const w = new ByteWriter(1);
    expect(w.unsigned(256, 1)).toBe(false);
    expect(w.unsigned(-1, 4)).toBe(false);
    expect(w.unsigned(1.5, 4)).toBe(false);
    expect(w.unsigned(Number.NaN, 8)).toBe(false);
    expect(w.unsigned(2 ** 53, 8)).toBe(false);
    expect(w.signed(128, 1)).toBe(false);
    expect(w.offset).toBe(0);
    expect(w.unsigned(2 ** 53 - 1, 8)).toBe(true);
    expect(w.unsigned(0xffffff, 3)).toBe(true);
    expect(w.signed(-128, 1)).toBe(true);
    expect(w.signed(-(2 ** 40), 8)).toBe(true);
    expect(w.copyOut(0, w.offset).toString('hex')).toBe('001fffffffffffff' + 'ffffff' + '80' + 'ffffff0000000000');
  });
});
