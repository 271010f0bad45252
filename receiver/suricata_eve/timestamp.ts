import type { TimeUs } from '../../pipeline/records.js';

const timestampPattern = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses Suricata's `timestamp` (`2017-04-07T22:24:37.251547+0100`: a `±hhmm` offset without a
 * colon) into microseconds since the epoch, keeping the microseconds that Date.parse drops.
 * Also accepts `±hh:mm`, `Z`, and no offset at all (Suricata 4.x documentation examples),
 * which is read as UTC. Returns undefined for anything else or an impossible date.
 */
export function parseSuricataTimestamp(text: string): TimeUs | undefined {
  const m = timestampPattern.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(ms).getUTCDate() !== day) return undefined; // e.g. 31 April
  const micros = Number(((m[7] ?? '') + '000000').slice(0, 6));
  let offsetMinutes = 0;
  const offset = m[8];
  if (offset !== undefined && offset !== 'Z') {
    const digits = offset.replace(':', '');
    offsetMinutes = (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))) * (digits[0] === '-' ? -1 : 1);
  }
  return (ms - offsetMinutes * 60_000) * 1000 + micros;
}
