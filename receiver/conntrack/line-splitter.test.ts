import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixtureLines } from '../../test/support/conntrack-fixtures.js';
import { LineSplitter } from './line-splitter.js';

function split(chunks: readonly string[], maxLength = 65_536): { lines: string[]; tooLong: number } {
  const splitter = new LineSplitter(maxLength);
  const lines: string[] = [];
  let tooLong = 0;
  for (const chunk of chunks) tooLong += splitter.push(chunk, (line) => lines.push(line));
  const last = splitter.end();
  if (last !== undefined) lines.push(last);
  return { lines, tooLong };
}

describe('LineSplitter', () => {
  const captured = fixtureLines('dump.xml');
  const text = `${captured.join('\n')}\n`;

  it('gives the same lines wherever the chunks are cut', () => {
    for (let cut = 0; cut <= text.length; cut++) {
      expect(split([text.slice(0, cut), text.slice(cut)]).lines).toEqual(captured);
    }
  });

  it('gives the same lines for any cutting into many chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: text.length }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), text.length];
        const chunks = points.slice(1).map((end, i) => text.slice(points[i], end));
        expect(split(chunks).lines).toEqual(captured);
      }),
    );
  });

  it('returns a last line without a newline at the end', () => {
    expect(split(['a\nb']).lines).toEqual(['a', 'b']);
    expect(split(['a\n', '']).lines).toEqual(['a']);
  });

  it('skips and counts a line over the limit, once, however it is chunked, and keeps its neighbours', () => {
    const long = 'x'.repeat(25);
    for (const chunks of [
      [`ok\n${long}\nfine\n`],
      ['ok\nxxxxxxxxxx', 'xxxxxxxxxx', 'xxxxx\nfine\n'],
      ['ok\n', long, '\nfine'],
    ]) {
      expect(split(chunks, 20)).toEqual({ lines: ['ok', 'fine'], tooLong: 1 });
    }
  });

  it('keeps a line exactly at the limit', () => {
    expect(split(['x'.repeat(20), '\n'], 20)).toEqual({ lines: ['x'.repeat(20)], tooLong: 0 });
  });
});
