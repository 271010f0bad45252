import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { allFactories } from '../config/components.js';
import { debugExporterFactory } from '../exporter/debug/index.js';
import { ipfixExporterFactory } from '../exporter/ipfix/index.js';
import { httpEvent } from './support/components.js';
import { ipfixFlow } from './support/ipfix-records.js';
import { describeLifecycle, type LifecycleCase } from './support/lifecycle.js';

/** One entry per registered factory: how to run it on a test machine. */
const cases: LifecycleCase[] = [
  { factory: debugExporterFactory, config: (dir) => ({ path: join(dir, 'out.jsonl') }), sample: [httpEvent(0)] },
  {
    factory: ipfixExporterFactory,
    config: (dir) => ({ transport: 'file', path: join(dir, 'flows.ipfix') }),
    sample: [ipfixFlow({ l7: [httpEvent(0)] })],
  },
];

describe('lifecycle conformance', () => {
  it('covers every registered factory', () => {
    expect(cases.map((c) => `${c.factory.kind}/${c.factory.type}`).sort()).toEqual(
      allFactories.map((f) => `${f.kind}/${f.type}`).sort(),
    );
  });
});

for (const c of cases) describeLifecycle(c);
