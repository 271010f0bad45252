import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalIp, parseIpv6Groups } from './ip.js';

describe('canonical IP text', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['010.000.000.001', '10.0.0.1'],
    ['fe80:0000:0000:0000:fada:0cff:fedc:87f1', 'fe80::fada:cff:fedc:87f1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs (RFC 5952 §4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group stays
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:ffff:c000:0280', '::ffff:192.0.2.128'],
    ['::ffff:192.0.2.128', '::ffff:192.0.2.128'],
  ])('%s -> %s', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.256',
    '1.2.3.4.5',
    'a.b.c.d',
    '1::2::3',
    '12345::',
    'fe80::1%eth0',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    'g::1',
  ])('refuses %j', (input) => {
    expect(canonicalIp(input)).toBeUndefined();
  });

  it('canonicalises any expanded IPv6 address to text with the same groups, idempotently', () => {
    const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(groups, (g) => {
        const expanded = g.map((x) => x.toString(16).padStart(4, '0')).join(':');
        const canonical = canonicalIp(expanded);
        return (
          canonical !== undefined &&
          canonicalIp(canonical) === canonical &&
          (canonical.includes('.') || parseIpv6Groups(canonical)?.join() === g.join())
        );
      }),
    );
  });
});
