import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { allFactories } from '../config/components.js';
import { packageRoot } from '../config/paths.js';
import { debugExporterFactory } from '../exporter/debug/index.js';
import { flowJoinProcessorFactory } from '../processor/flow_join/index.js';
import { suricataEveReceiverFactory } from '../receiver/suricata_eve/index.js';
import { k8sL7ProcessorFactory } from '../processor/k8s_l7/index.js';
import { httpEvent } from './support/components.js';
import { describeLifecycle, type LifecycleCase } from './support/lifecycle.js';

/** One entry per registered factory: how to run it on a test machine. */
const cases: LifecycleCase[] = [
  { factory: suricataEveReceiverFactory, config: (dir) => ({ socket: { path: join(dir, 'eve.sock') } }) },
  {
    name: 'file source',
    factory: suricataEveReceiverFactory,
    config: (dir) => ({ source: 'file', file: { path: join(dir, 'eve.json'), follow: true } }),
  },
  { factory: flowJoinProcessorFactory, sample: [httpEvent(0)] },
  { factory: debugExporterFactory, config: (dir) => ({ path: join(dir, 'out.jsonl') }), sample: [httpEvent(0)] },
  {
    factory: k8sL7ProcessorFactory,
    config: () => ({
      pods: 'file',
      pods_file: join(packageRoot, 'test', 'fixtures', 'k8s_l7', 'pods.yaml'),
      mirror: { mode: 'none' },
    }),
    sample: [httpEvent(0)],
  },
];

describe('lifecycle conformance', () => {
  it('covers every registered factory', () => {
    const covered = new Set(cases.map((c) => `${c.factory.kind}/${c.factory.type}`));
    expect([...covered].sort()).toEqual(allFactories.map((f) => `${f.kind}/${f.type}`).sort());
  });
});

for (const c of cases) describeLifecycle(c);
