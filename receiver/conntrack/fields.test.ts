import { describe, expect, it } from 'vitest';
import { ctimeToUs, decimal, labelsFromHex, labelsFromNames, nanosecondsAt, protocolNumber } from './fields.js';

describe('decimal', () => {
  it.each([
    ['0', 0],
    ['65535', 65535],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['9007199254740992', -1], // beyond 2^53 - 1 counters would not be exact
    ['', -1],
    ['-1', -1],
    ['1e3', -1],
    [' 1', -1],
  ])('%j is %i', (text, value) => {
    expect(decimal(text)).toBe(value);
  });
});

describe('nanosecondsAt', () => {
  it('cuts nanoseconds to microseconds exactly, beyond what a float division keeps', () => {
    const ns = '1795667143916442230';
    expect(nanosecondsAt(ns, 0, ns.length)).toBe(1_795_667_143_916_442);
    expect(nanosecondsAt('1795667143916442999', 0, 19)).toBe(1_795_667_143_916_442);
  });

  it('rejects what is not a number', () => {
    expect(nanosecondsAt('17956671439164422x0', 0, 19)).toBe(-1);
    expect(nanosecondsAt('', 0, 0)).toBe(-1);
  });
});

describe('labels', () => {
  it('bit names that are bit numbers become a mask', () => {
    expect(labelsFromNames(['5', '9'])).toBe('0x220');
    expect(labelsFromNames(['127'])).toBe('0x80000000000000000000000000000000');
    expect(labelsFromNames([])).toBeUndefined();
  });

  it('other names cannot be mapped back to bits and are kept as printed', () => {
    expect(labelsFromNames(['web', '3'])).toBe('web,3');
    expect(labelsFromNames(['128'])).toBe('128');
  });

  it('OVS hex is normalised; zero is no labels', () => {
    expect(labelsFromHex('0x0000000000000000000000000000ABCD')).toBe('0xabcd');
    expect(labelsFromHex('0x0')).toBeUndefined();
    expect(labelsFromHex('1234')).toBeUndefined();
  });
});

describe('protocolNumber', () => {
  it('knows the names conntrack and OVS print, and takes numbers for the rest', () => {
    expect(['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', '253'].map(protocolNumber)).toEqual([6, 17, 1, 58, 132, 253]);
    expect(protocolNumber('256')).toBe(-1);
    expect(protocolNumber('quic')).toBe(-1);
  });
});

describe('ctimeToUs', () => {
  it('reads ctime(3) text as local time', () => {
    expect(ctimeToUs('Thu Nov 26 04:25:43 2026')).toBe(new Date(2026, 10, 26, 4, 25, 43).getTime() * 1000);
    expect(ctimeToUs('Sun Mar  1 00:00:00 2026')).toBe(new Date(2026, 2, 1).getTime() * 1000);
  });

  it('rejects anything else', () => {
    expect(ctimeToUs('Thu Foo 26 04:25:43 2026')).toBeUndefined();
    expect(ctimeToUs('Thu Feb 30 04:25:43 2026')).toBeUndefined();
    expect(ctimeToUs('2026-11-26T04:25:43Z')).toBeUndefined();
  });
});
