import type { TimeUs } from '../../pipeline/records.js';

/**
 * Field decoders shared by the conntrack parsers. All are pure and allocation-light: the
 * dump parsers call them a few million times for a large table.
 */

/**
 * The decimal integer in `text[start, end)`, or -1 when that is empty, holds anything but
 * digits, or exceeds 2^53 - 1 (records carry counters as exact numbers).
 */
export function decimalAt(text: string, start: number, end: number): number {
  if (end <= start || end - start > 16) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= Number.MAX_SAFE_INTEGER ? value : -1;
}

export function decimal(text: string): number {
  return decimalAt(text, 0, text.length);
}

/** A regular-expression capture as a decimal of at most `max`: 0 when absent, -1 when bad. */
export function capturedDecimal(text: string | undefined, max: number): number {
  if (text === undefined) return 0;
  const value = decimalAt(text, 0, text.length);
  return value <= max ? value : -1;
}

/**
 * Nanoseconds since the epoch in `text[start, end)` (conntrack's `ktimestamp`) as exact
 * microseconds, truncated; -1 when not a number. Nanoseconds exceed 2^53, so the last three
 * digits are cut as text rather than divided as a float.
 */
export function nanosecondsAt(text: string, start: number, end: number): TimeUs {
  if (end - start <= 3) return decimalAt(text, start, end) < 0 ? -1 : 0;
  if (decimalAt(text, end - 3, end) < 0) return -1;
  return decimalAt(text, start, end - 3);
}

/** IANA protocol numbers of the names conntrack-tools and OVS print. */
const protocolNumbers: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  dccp: 33,
  gre: 47,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

/** The protocol number of a name (`tcp`) or of a number printed as text (`253`), or -1. */
export function protocolNumber(text: string): number {
  const known = protocolNumbers[text];
  if (known !== undefined) return known;
  const value = decimal(text);
  return value <= 255 ? value : -1;
}

export const tcp = 6;
export const icmp = 1;
export const icmpv6 = 58;

/**
 * Labels as a hex bit mask (`0x220` for bits 5 and 9). conntrack-tools prints label *names*
 * from connlabel.conf; with the usual map that names every bit by its number they convert
 * exactly. Names that are not bit numbers cannot be mapped back, so they are kept as
 * printed, comma-separated.
 */
export function labelsFromNames(names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  let mask = 0n;
  for (const name of names) {
    const bit = decimal(name);
    if (bit < 0 || bit > 127) return names.join(',');
    mask |= 1n << BigInt(bit);
  }
  return `0x${mask.toString(16)}`;
}

/** OVS prints labels as hex (`0x1234`); the same canonical form as labelsFromNames(). */
export function labelsFromHex(text: string): string | undefined {
  if (!/^0x[0-9a-fA-F]{1,32}$/.test(text)) return undefined;
  const mask = BigInt(text);
  return mask === 0n ? undefined : `0x${mask.toString(16)}`;
}

const monthIndex: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/**
 * conntrack-tools' `[start=Thu Nov 26 04:24:47 2026]` (ctime format, local time, seconds) in
 * microseconds, or undefined. Local time is the process's time zone, which the conntrack
 * child inherits from us, so the two agree.
 */
export function ctimeToUs(text: string): TimeUs | undefined {
  const match = /^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(text);
  const month = match ? monthIndex[match[1] ?? ''] : undefined;
  if (!match || month === undefined) return undefined;
  const [, , day, hours, minutes, seconds, year] = match.map(Number);
  return localTimeUs(year ?? 0, month, day ?? 0, hours ?? 0, minutes ?? 0, seconds ?? 0, 0);
}

/** OVS's `start=2026-11-26T04:24:47.123` (local time, milliseconds) in microseconds. */
export function ovsTimeToUs(text: string): TimeUs | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})$/.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hours, minutes, seconds, ms] = match.map(Number);
  return localTimeUs(year ?? 0, (month ?? 1) - 1, day ?? 0, hours ?? 0, minutes ?? 0, seconds ?? 0, ms ?? 0);
}

function localTimeUs(
  year: number,
  month: number,
  day: number,
  hours: number,
  minutes: number,
  seconds: number,
  ms: number,
): TimeUs | undefined {
  const date = new Date(year, month, day, hours, minutes, seconds, ms);
  return date.getDate() === day && date.getMonth() === month ? date.getTime() * 1000 : undefined;
}
