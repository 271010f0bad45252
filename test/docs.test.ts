import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { allFactories } from '../config/components.js';
import { packageRoot } from '../config/paths.js';
import { configurationReference, documentKeys } from '../config/reference.js';

/**
 * The documentation cannot drift from the code: the configuration reference is generated from
 * the schemas, the commented example shows every key, and the metrics page names exactly the
 * metrics the code defines. `npm run docs` (L7FLOW_WRITE_DOCS=1) regenerates what is generated.
 */
const root = (...parts: string[]) => join(packageRoot, ...parts);
const writing = process.env.L7FLOW_WRITE_DOCS === '1';

describe('documentation', () => {
  it('describes every configuration key', () => {
    const undocumented = allFactories.flatMap((f) =>
      documentKeys(f.configSchema)
        .filter((k) => k.description === '')
        .map((k) => `${f.kind}s.${f.type}.${k.path}`),
    );
    expect(undocumented).toEqual([]);
  });

  it('docs/configuration.md is the reference generated from the schemas', () => {
    const generated = configurationReference(allFactories);
    if (writing) writeFileSync(root('docs', 'configuration.md'), generated);
    expect(readFileSync(root('docs', 'configuration.md'), 'utf8')).toBe(generated);
  });

  it('config/examples/l7flow.yaml shows every key of every component', () => {
    const example = parseYaml(readFileSync(root('config', 'examples', 'l7flow.yaml'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    const missing: string[] = [];
    for (const factory of allFactories) {
      const section = example[`${factory.kind}s`]?.[factory.type];
      if (section === undefined) {
        missing.push(`${factory.kind}s.${factory.type}`);
        continue;
      }
      for (const { path } of documentKeys(factory.configSchema)) {
        if (lookup(section, path) === undefined) missing.push(`${factory.kind}s.${factory.type}.${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('docs/metrics.md names exactly the metrics the code defines', () => {
    const inCode = new Set<string>();
    for (const file of sourceFiles(packageRoot)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/'(l7flow_[a-z0-9_]+)'/g)) inCode.add(match[1] ?? '');
    }
    const inDocs = new Set(readFileSync(root('docs', 'metrics.md'), 'utf8').match(/\bl7flow_[a-z0-9_]+/g) ?? []);
    expect({
      undocumented: [...inCode].filter((m) => !inDocs.has(m)).sort(),
      unknown: [...inDocs].filter((m) => !inCode.has(m)).sort(),
    }).toEqual({
      undocumented: [],
      unknown: [],
    });
  });
});

function lookup(section: unknown, path: string): unknown {
  let node: unknown = section;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The agent's own TypeScript sources (tests, benchmarks and test support left out). */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const rel = relative(packageRoot, path);
    if (['node_modules', 'dist', 'test', '.git'].includes(rel)) return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}
