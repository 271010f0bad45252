import os from 'node:os';
import {
  benchmarksDocPath,
  captureStdout,
  describeMachine,
  writeBenchmarksDoc,
  type BenchSection,
} from './benchmarks-doc.js';
import { conntrackBench } from './conntrack.bench.js';
import { eveBench } from './eve.bench.js';
import { flowJoinBench } from './flow-join.bench.js';
import { otlpBench } from './otlp.bench.js';
import { k8sL7Bench } from './k8s-l7.bench.js';
import { ipfixBench } from './ipfix.bench.js';
import { pipelineBench } from './pipeline.bench.js';
import { wholePipelineBench } from './whole-pipeline.bench.js';

/** A benchmark prints its own rows with report(); it is never run by `npm test`. */
export interface Bench {
  readonly name: string;
  run(): Promise<void> | void;
}

const benches: readonly Bench[] = [
  pipelineBench,
  eveBench,
  conntrackBench,
  k8sL7Bench,
  flowJoinBench,
  ipfixBench,
  otlpBench,
  wholePipelineBench,
];

const args = process.argv.slice(2);
// --write-docs: also write what each benchmark printed into docs/benchmarks.md (benchmarks-doc.ts).
const writeDocs = args.includes('--write-docs');
const only = args.filter((arg) => !arg.startsWith('--'));
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
process.stdout.write(`l7flow benchmarks on node ${process.versions.node}, ${os.cpus().length} x ${cpu}\n`);
const sections: BenchSection[] = [];
for (const bench of benches) {
  if (only.length > 0 && !only.includes(bench.name)) continue;
  process.stdout.write(`\n${bench.name}\n`);
  const machine = describeMachine();
  const output = await captureStdout(() => bench.run());
  sections.push({ name: bench.name, output, machine });
}
if (writeDocs) {
  writeBenchmarksDoc(
    sections,
    benches.map((b) => b.name),
  );
  process.stdout.write(`\nwrote ${benchmarksDocPath}\n`);
}
