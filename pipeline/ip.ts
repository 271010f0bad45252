/**
 * Canonical text for IP addresses, so that the same address written by different sources
 * (Suricata writes IPv6 fully expanded, conntrack compressed) compares equal as a string.
 * IPv4: dotted decimal without leading zeros. IPv6: RFC 5952 (lower case, no leading zeros,
 * the longest run of two or more zero groups compressed, the first on a tie, IPv4-mapped
 * addresses as ::ffff:a.b.c.d).
 */

/** Memo of IPv6 canonical forms: decoders see the same few addresses over and over. */
const ipv6Memo = new Map<string, string | undefined>();
const ipv6MemoLimit = 4096;

/** Returns the canonical form, or undefined when `text` is not an IPv4 or IPv6 address. */
export function canonicalIp(text: string): string | undefined {
  if (!text.includes(':')) return canonicalIpv4(text);
  if (ipv6Memo.has(text)) return ipv6Memo.get(text);
  const groups = parseIpv6Groups(text);
  const canonical = groups === undefined ? undefined : formatIpv6(groups);
  if (ipv6Memo.size >= ipv6MemoLimit) ipv6Memo.clear();
  ipv6Memo.set(text, canonical);
  return canonical;
}

/** One pass over the characters; returns `text` itself when it is already canonical. */
function canonicalIpv4(text: string): string | undefined {
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let canonical = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || octet > 255) return undefined;
      dots++;
      octet = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && octet === 0) canonical = false; // a leading zero
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0 || octet > 255) return undefined;
  return canonical ? text : parseIpv4(text)?.join('.');
}

export function isIpv6(canonical: string): boolean {
  return canonical.includes(':');
}

/** The four octets of a dotted-decimal IPv4 address, or undefined. */
export function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const octets: number[] = [];
  for (const part of parts) {
    if (part.length === 0 || part.length > 3 || !/^\d+$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    octets.push(value);
  }
  return octets;
}

/** The eight 16-bit groups of an IPv6 address, or undefined. A zone (`%eth0`) is rejected. */
export function parseIpv6Groups(text: string): number[] | undefined {
  if (text.includes('%')) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroupList(halves[0] ?? '');
  const tail = halves.length === 2 ? parseGroupList(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function parseGroupList(text: string): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

function formatIpv6(groups: readonly number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const a = groups[6] ?? 0;
    const b = groups[7] ?? 0;
    return `::ffff:${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
  }
  let bestStart = -1;
  let bestLength = 1; // RFC 5952 §4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
