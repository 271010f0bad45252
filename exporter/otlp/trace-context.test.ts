import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTraceparent, transactionIds } from './trace-context.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentId = '00f067aa0ba902b7';

describe('parseTraceparent (W3C Trace Context §3.2)', () => {
  it.each([
    ['the specification example, sampled', `00-${traceId}-${parentId}-01`, true],
    ['not sampled', `00-${traceId}-${parentId}-00`, false],
    ['other flag bits set besides sampled', `00-${traceId}-${parentId}-09`, true],
    ['surrounding whitespace', `  00-${traceId}-${parentId}-01 `, true],
    ['a future version with more fields', `cc-${traceId}-${parentId}-01-what-the-future-will-be-like`, true],
  ])('accepts %s', (_name, header, sampled) => {
    expect(parseTraceparent(header)).toEqual({ traceId, spanId: parentId, sampled });
  });

  it.each([
    ['version ff', `ff-${traceId}-${parentId}-01`],
    ['version 00 followed by more data', `00-${traceId}-${parentId}-01-extra`],
    ['a future version whose extra data does not start with "-"', `cc-${traceId}-${parentId}-01x`],
    ['upper-case hex', `00-${traceId.toUpperCase()}-${parentId}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${parentId}-01`],
    ['an all-zero parent id', `00-${traceId}-${'0'.repeat(16)}-01`],
    ['a short trace id', `00-${traceId.slice(1)}-${parentId}-01`],
    ['wrong separators', `00_${traceId}_${parentId}_01`],
    ['non-hex flags', `00-${traceId}-${parentId}-0x`],
    ['an empty value', ''],
  ])('rejects %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });
});

describe('transactionIds', () => {
  /** The derivation the README documents, computed independently. */
  const documented = (node: string, key: string) => {
    const digest = createHash('sha256').update(`l7flow\u0000${node}\u0000${key}\u00000`).digest();
    return {
      traceId: digest.subarray(0, 16).toString('hex'),
      clientSpanId: digest.subarray(16, 24).toString('hex'),
      serverSpanId: digest.subarray(24, 32).toString('hex'),
    };
  };

  it('derives the trace id and both span ids from SHA-256 of the node and the transaction key', () => {
    expect(transactionIds('node-a', 'f1234:0')).toEqual(documented('node-a', 'f1234:0'));
  });

  it('gives the same ids for the same input, and different ids for another node or transaction', () => {
    const ids = transactionIds('node-a', 'f1234:0');
    expect(transactionIds('node-a', 'f1234:0')).toEqual(ids);
    expect(transactionIds('node-b', 'f1234:0').traceId).not.toBe(ids.traceId);
    expect(transactionIds('node-a', 'f1234:1').traceId).not.toBe(ids.traceId);
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.clientSpanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ids.serverSpanId).not.toBe(ids.clientSpanId);
  });
});
