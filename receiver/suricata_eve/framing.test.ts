import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineSplitter } from './framing.js';

function collect(maxLineBytes: number, chunks: readonly Buffer[], emitPartial = false) {
  const lines: string[] = [];
  let oversize = 0;
  const splitter = new LineSplitter(maxLineBytes, { line: (l) => lines.push(l), oversize: () => oversize++ });
  for (const chunk of chunks) splitter.push(chunk);
  const partial = splitter.finish(emitPartial);
  return { lines, oversize, partial };
}

const fixture = Buffer.from('{"a":1}\r\n{"b":"café ☕ 😀"}\n\n{"c":[1,2,3]}\r\n{"d":"é"}\n', 'utf8');
const expected = ['{"a":1}', '{"b":"café ☕ 😀"}', '', '{"c":[1,2,3]}', '{"d":"é"}'];

describe('line framing', () => {
  it('yields the same lines whatever byte offset the stream is split at', () => {
    for (let at = 0; at <= fixture.length; at++) {
      expect(collect(1024, [fixture.subarray(0, at), fixture.subarray(at)]).lines).toEqual(expected);
    }
  });

  it('yields the same lines from one byte at a time', () => {
    const bytes = [...fixture].map((b) => Buffer.from([b]));
    expect(collect(1024, bytes)).toEqual({ lines: expected, oversize: 0, partial: false });
  });

  it('yields the same lines for any chunking (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(fixture.length), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = [0, ...points].map((start, i) => fixture.subarray(start, points[i] ?? fixture.length));
        expect(collect(1024, chunks).lines).toEqual(expected);
      }),
    );
  });

  it('skips an over-long line up to its newline, once, keeping its neighbours', () => {
    const text = Buffer.from(`short\n${'x'.repeat(40)}\nafter\n`);
    for (let at = 0; at <= text.length; at++) {
      expect(collect(16, [text.subarray(0, at), text.subarray(at)])).toEqual({
        lines: ['short', 'after'],
        oversize: 1,
        partial: false,
      });
    }
  });

  it('never holds more than the limit of an over-long line, however it arrives', () => {
    const lines: string[] = [];
    let oversize = 0;
    const splitter = new LineSplitter(64, { line: (l) => lines.push(l), oversize: () => oversize++ });
    for (let i = 0; i < 1000; i++) {
      splitter.push(Buffer.alloc(50, 0x61));
      expect(splitter.pendingBytes).toBeLessThanOrEqual(64);
    }
    splitter.push(Buffer.from('\nok\n'));
    expect({ lines, oversize }).toEqual({ lines: ['ok'], oversize: 1 });
  });

  it('accepts a line of exactly the limit', () => {
    expect(collect(8, [Buffer.from('12345678\n123456789\n')])).toEqual({
      lines: ['12345678'],
      oversize: 1,
      partial: false,
    });
  });

  it('holds a partial last line until more data comes', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(1024, { line: (l) => lines.push(l), oversize: () => {} });
    splitter.push(Buffer.from('{"a":1}\n{"b"'));
    expect(lines).toEqual(['{"a":1}']);
    splitter.push(Buffer.from(':2}\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('discards a partial last line at the end of a stream, or delivers it for a complete file', () => {
    const text = [Buffer.from('{"a":1}\n{"b":2}')];
    expect(collect(1024, text, false)).toEqual({ lines: ['{"a":1}'], oversize: 0, partial: true });
    expect(collect(1024, text, true)).toEqual({ lines: ['{"a":1}', '{"b":2}'], oversize: 0, partial: true });
  });
});
