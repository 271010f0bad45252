import { describe, expect, it } from 'vitest';
import type { L7Direction } from '../../pipeline/records.js';
import { effectiveOptIn, l7Wanted, parseAnnotation } from './annotations.js';

describe('annotation values', () => {
  it.each([
    ['ingress', 'ingress'],
    ['egress', 'egress'],
    ['both', 'both'],
    ['Ingress', 'ingress'],
    ['BOTH', 'both'],
    [' egress\n', 'egress'],
    ['\tBoth  ', 'both'],
  ])('%j is %s (case-insensitive, surrounding whitespace ignored)', (raw, direction) => {
    expect(parseAnnotation(raw)).toEqual({ kind: 'valid', direction });
  });

  it.each(['', ' ', 'in', 'ingress,egress', 'ingress egress', 'true', 'none', 'bothh', 'ïngress'])(
    '%j is invalid and kept as written',
    (raw) => {
      expect(parseAnnotation(raw)).toEqual({ kind: 'invalid', raw });
    },
  );

  it('is absent when the key is not set', () => {
    expect(parseAnnotation(undefined)).toEqual({ kind: 'absent' });
  });
});

describe("a Pod's effective opt-in", () => {
  const cases: {
    name: string;
    pod?: string;
    namespace?: string | null;
    hostNetwork?: boolean;
    expected: ReturnType<typeof effectiveOptIn>;
  }[] = [
    { name: 'neither annotated', expected: { source: 'none' } },
    { name: 'its own value', pod: 'egress', expected: { direction: 'egress', source: 'pod' } },
    { name: "its Namespace's value", namespace: 'ingress', expected: { direction: 'ingress', source: 'namespace' } },
    {
      name: "its own value over its Namespace's",
      pod: 'ingress',
      namespace: 'both',
      expected: { direction: 'ingress', source: 'pod' },
    },
    {
      name: 'its own value when the Namespace is not known yet (Antrea dropped the Pod)',
      pod: 'both',
      namespace: null,
      expected: { direction: 'both', source: 'pod' },
    },
    {
      name: 'off, and reported on the Pod, when its own value is invalid, whatever the Namespace says',
      pod: 'sideways',
      namespace: 'both',
      expected: { source: 'pod', invalid: 'sideways' },
    },
    {
      name: 'off, and reported on the Namespace, when the inherited value is invalid',
      namespace: 'all',
      expected: { source: 'namespace', invalid: 'all' },
    },
    {
      name: 'a valid own value is untouched by an invalid Namespace value',
      pod: 'egress',
      namespace: 'all',
      expected: { direction: 'egress', source: 'pod' },
    },
    {
      name: 'never for a host-network Pod',
      pod: 'both',
      namespace: 'both',
      hostNetwork: true,
      expected: { source: 'none' },
    },
  ];
  it.each(cases)('$name', ({ pod, namespace, hostNetwork, expected }) => {
    const ns = namespace === null ? undefined : namespace === undefined ? {} : { annotation: namespace };
    const podInfo = { hostNetwork: hostNetwork ?? false, ...(pod === undefined ? {} : { annotation: pod }) };
    expect(effectiveOptIn(podInfo, ns)).toEqual(expected);
  });
});

describe('which L7 transactions are exported', () => {
  const table: [L7Direction | undefined, L7Direction | undefined, boolean][] = [
    // [client Pod's direction, server Pod's direction, exported]
    [undefined, 'ingress', true],
    [undefined, 'egress', false],
    [undefined, 'both', true],
    ['egress', undefined, true],
    ['ingress', undefined, false],
    ['both', undefined, true],
    ['ingress', 'egress', false],
    ['egress', 'ingress', true],
    [undefined, undefined, false],
  ];
  it.each(table)('client %s, server %s: %s', (src, dst, exported) => {
    expect(l7Wanted(src, dst)).toBe(exported);
  });
});
