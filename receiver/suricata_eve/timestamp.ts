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

/**
 * parseSuricataTimestamp with a one-entry memo of the part up to the seconds plus the
 * offset: consecutive events share it, so most calls only read the fraction.
 */
export class TimestampParser {
  #prefix = '';
  #suffix = '';
  #baseUs = 0;

  parse(text: string): TimeUs | undefined {
    // Fast path: `YYYY-MM-DDTHH:MM:SS.ffffff±hhmm` with the same second and offset as before.
    const dot = 19;
    if (
      text.length > dot + 1 &&
      text.charCodeAt(dot) === 0x2e &&
      text.startsWith(this.#prefix) &&
      this.#prefix !== ''
    ) {
      let i = dot + 1;
      let micros = 0;
      let digits = 0;
      for (; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c < 0x30 || c > 0x39) break;
        if (digits < 6) micros = micros * 10 + (c - 0x30);
        digits++;
      }
      if (digits > 0 && text.length - i === this.#suffix.length && text.endsWith(this.#suffix)) {
        for (; digits < 6; digits++) micros *= 10;
        return this.#baseUs + micros;
      }
    }
    const us = parseSuricataTimestamp(text);
    if (us !== undefined && text.charCodeAt(dot) === 0x2e) {
      const fractionEnd = text.slice(dot + 1).search(/[^0-9]/);
      this.#prefix = text.slice(0, dot);
      this.#suffix = fractionEnd < 0 ? '' : text.slice(dot + 1 + fractionEnd);
      this.#baseUs =
        us - Number((text.slice(dot + 1, fractionEnd < 0 ? undefined : dot + 1 + fractionEnd) + '000000').slice(0, 6));
    }
    return us;
  }
}
