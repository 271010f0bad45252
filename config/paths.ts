import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root directory, found by walking up from this module: the same answer from
 * the TypeScript sources (tests) and from the compiled `dist/` tree (the CLI).
 */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'l7flow')
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('l7flow: package.json not found above the installed modules');
    dir = parent;
  }
})();

export const packageVersion: string = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;

/** The configuration `l7flow run` uses when no --config is given. */
export const defaultConfigPath = join(packageRoot, 'config', 'examples', 'default.yaml');

/** The configuration `l7flow replay` uses when no --config is given. */
export const replayConfigPath = join(packageRoot, 'config', 'examples', 'replay.yaml');
