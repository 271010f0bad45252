/**
 * The longest prefix of `value`, cut between whole characters (never inside a surrogate
 * pair), whose `size` is at most `limit`. `size` must grow with the prefix length.
 * Returns undefined when even the empty string is too large.
 */
export function longestPrefix(value: string, limit: number, size: (text: string) => number): string | undefined {
  if (size(value) <= limit) return value;
  if (size('') > limit) return undefined;
  let fits = 0;
  let tooLong = value.length;
  while (tooLong - fits > 1) {
    const middle = (fits + tooLong) >> 1;
    if (size(prefix(value, middle)) <= limit) fits = middle;
    else tooLong = middle;
  }
  return prefix(value, fits);
}

function prefix(value: string, length: number): string {
  const code = value.charCodeAt(length - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

/** Octets of a variable-length field holding `text` as UTF-8, length prefix included (RFC 7011 §7). */
export function varlenSize(text: string): number {
  const bytes = Buffer.byteLength(text);
  return (bytes < 255 ? 1 : 3) + bytes;
}
