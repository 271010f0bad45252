import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realClockSettings } from '../../../test/support/k8s-l7.js';
import { until } from '../../../test/support/until.js';
import { metricValue } from '../../../test/support/settings.js';
import { ClusterState } from '../cluster-state.js';
import { PodsFileSource } from './source.js';

const annotation = 'visibility.antrea.io/l7-export';
let dir: string;
let sources: PodsFileSource[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7k8s-file-'));
});
afterEach(async () => {
  await Promise.all(sources.map((s) => s.stop()));
  sources = [];
  await rm(dir, { recursive: true, force: true });
});

const podsYaml = (...pods: string[]) =>
  `pods:\n${pods.map((p) => `  - { name: ${p}, namespace: shop, ips: [10.9.0.${p.length}], annotations: { ${annotation}: both } }`).join('\n')}\n`;

async function start(text: string) {
  const path = join(dir, 'pods.yaml');
  await writeFile(path, text);
  const { settings, telemetry, logger } = realClockSettings('k8s_l7');
  const state = new ClusterState({ graceUs: 0, maxPods: 100 });
  const source = new PodsFileSource(settings, path, annotation, state);
  sources.push(source);
  await source.start();
  const names = () =>
    state
      .mirrorCandidates()
      .map((c) => c.name)
      .sort();
  const loads = (result: string) => metricValue(telemetry, 'l7flow_k8s_pods_file_loads_total', { result });
  return { path, source, names, logger, loads };
}

describe('pods file source', () => {
  it('loads the file at start and is synced at once', async () => {
    const { source, names } = await start(podsYaml('a', 'bb'));
    expect(source.synced).toBe(true);
    expect(names()).toEqual(['a', 'bb']);
  });

  it('reloads when the file is rewritten, and when it is replaced by rename', async () => {
    const { path, names } = await start(podsYaml('a'));
    await writeFile(path, podsYaml('a', 'bb'));
    await until(() => names().length === 2, 'the rewrite is loaded');
    const next = join(dir, '.pods.yaml.tmp');
    await writeFile(next, podsYaml('ccc'));
    await rename(next, path);
    await until(() => names().join() === 'ccc', 'the replacement is loaded');
  });

  it('keeps the last good file when a new version does not parse, and says so once', async () => {
    const { path, names, logger, loads } = await start(podsYaml('a'));
    await writeFile(path, 'pods: [{ name: x, ips: [nope] }]\n');
    await until(async () => (await loads('invalid')) >= 1, 'the bad version is seen');
    await writeFile(path, 'pods: [{ name: x, ips: [nope] }]\n\n');
    await until(async () => (await loads('invalid')) >= 2, 'the bad version is seen twice');
    expect(names()).toEqual(['a']);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.problem).toContain('not an IP address: "nope"');
    await writeFile(path, podsYaml('dd'));
    await until(() => names().join() === 'dd', 'the fixed file is loaded');
  });

  it('fails to start on a file that does not parse or does not exist', async () => {
    await expect(start('pods: 7\n')).rejects.toThrow(/pods file .*pods\.yaml: pods: must be a list/);
    const { settings } = realClockSettings('k8s_l7');
    const missing = new PodsFileSource(
      settings,
      join(dir, 'missing.yaml'),
      annotation,
      new ClusterState({ graceUs: 0, maxPods: 1 }),
    );
    await expect(missing.start()).rejects.toThrow(/ENOENT/);
  });
});
