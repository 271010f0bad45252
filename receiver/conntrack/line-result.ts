import type { ConnSample, TimeUs } from '../../pipeline/records.js';

/** The conntrack event a line reports, when it comes from an event stream (`conntrack -E`). */
export type ConntrackEvent = 'new' | 'update' | 'destroy';

/** Why a line is not a conntrack entry; the `reason` label of the parse-error counter. */
export type InvalidReason =
  /** The line ends before the entry does (a cut-off write, a truncated file). */
  | 'truncated'
  /** An address that is neither IPv4 nor IPv6. */
  | 'bad_address'
  /** A port, counter, id, zone, mark or time that is not a non-negative integer in range. */
  | 'bad_number'
  /** A tuple without its source or destination, or a third tuple. */
  | 'bad_tuple'
  /** Something else entirely. */
  | 'not_an_entry'
  /** Longer than the line limit (the splitter reports it; the parser never sees the line). */
  | 'line_too_long';

/**
 * What one line of conntrack output is: an entry, a line that carries none (an XML prologue,
 * an empty line), or an invalid line. Parsers never throw: bad input is data.
 */
export type LineResult =
  | { readonly kind: 'sample'; readonly sample: ConnSample; readonly event?: ConntrackEvent }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'invalid'; readonly reason: InvalidReason };

/** Parses one line (without its newline); `timeUs` becomes the sample's observation time. */
export type LineParser = (line: string, timeUs: TimeUs) => LineResult;

export const ignoredLine: LineResult = { kind: 'ignored' };

const invalidResults = new Map<InvalidReason, LineResult>();

/** The (shared, immutable) result for an invalid line. */
export function invalidLine(reason: InvalidReason): LineResult {
  let result = invalidResults.get(reason);
  if (!result) {
    result = { kind: 'invalid', reason };
    invalidResults.set(reason, result);
  }
  return result;
}
