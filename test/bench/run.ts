import os from 'node:os';
import { ipfixBench } from './ipfix.bench.js';
import { pipelineBench } from './pipeline.bench.js';

/** A benchmark prints its own rows with report(); it is never run by `npm test`. */
export interface Bench {
  readonly name: string;
  run(): Promise<void>;
}

const benches: readonly Bench[] = [pipelineBench, ipfixBench];

const only = process.argv.slice(2);
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
process.stdout.write(`l7flow benchmarks on node ${process.versions.node}, ${os.cpus().length} x ${cpu}\n`);
for (const bench of benches) {
  if (only.length > 0 && !only.includes(bench.name)) continue;
  process.stdout.write(`\n${bench.name}\n`);
  await bench.run();
}
