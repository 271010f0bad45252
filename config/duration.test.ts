import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatDuration, parseDuration } from './duration.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['0s', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['5', '', 's', '5 s', '-1s', '5sec', '1d', '5S'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('formats any whole number of milliseconds into text that reads back the same', () => {
    fc.assert(fc.property(fc.nat(10 * 24 * 3_600_000), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});
