import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { allFactories } from '../config/components.js';
import { packageRoot } from '../config/paths.js';
import { debugExporterFactory } from '../exporter/debug/index.js';
import { flowJoinProcessorFactory } from '../processor/flow_join/index.js';
import { conntrackReceiverFactory } from '../receiver/conntrack/index.js';
import { suricataEveReceiverFactory } from '../receiver/suricata_eve/index.js';
import { otlpExporterFactory } from '../exporter/otlp/index.js';
import { k8sL7ProcessorFactory } from '../processor/k8s_l7/index.js';
import { ipfixExporterFactory } from '../exporter/ipfix/index.js';
import { httpEvent } from './support/components.js';
import { ipfixFlow } from './support/ipfix-records.js';
import { describeLifecycle, type LifecycleCase } from './support/lifecycle.js';
import { flow, httpTx, serverPod } from './support/otlp-records.js';

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
    // Nothing listens on port 1: the export fails at once and, without retries, is dropped.
    factory: otlpExporterFactory,
    config: () => ({ endpoint: '127.0.0.1:1', tls: { insecure: true }, retry_on_failure: { enabled: false } }),
    sample: [flow([httpTx()], { dstPod: serverPod('ingress') })],
  },
  // procfs from an empty file: no root, no conntrack-tools, and the real dump loop runs.
  { factory: conntrackReceiverFactory, config: () => ({ source: 'procfs', procfs_path: '/dev/null' }) },
  {
    factory: k8sL7ProcessorFactory,
    config: () => ({
      pods: 'file',
      pods_file: join(packageRoot, 'test', 'fixtures', 'k8s_l7', 'pods.yaml'),
      mirror: { mode: 'none' },
    }),
    sample: [httpEvent(0)],
  },
  {
    factory: ipfixExporterFactory,
    config: (dir) => ({ transport: 'file', path: join(dir, 'flows.ipfix') }),
    sample: [ipfixFlow({ l7: [httpEvent(0)] })],
  },
];

describe('lifecycle conformance', () => {
  it('covers every registered factory', () => {
    const covered = new Set(cases.map((c) => `${c.factory.kind}/${c.factory.type}`));
    expect([...covered].sort()).toEqual(allFactories.map((f) => `${f.kind}/${f.type}`).sort());
  });
});

for (const c of cases) describeLifecycle(c);
