import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotatingFile } from './rotating-file.js';

let dir = '';
let umask = 0;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-debug-file-'));
  umask = process.umask(0o022); // the usual umask, which lets everyone read new files
});
afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('debug output files (docs/security.md)', () => {
  it('are created readable by their owner and group only, rotated ones too, in a directory to match', async () => {
    const path = join(dir, 'out', 'records.jsonl');
    const file = new RotatingFile(path, 1024, 2);
    await file.open();
    await file.write('x'.repeat(1000));
    await file.write('y'.repeat(1000)); // rotates: records.jsonl.1 and a new records.jsonl
    await file.close();
    expect(await mode(path)).toBe(0o640);
    expect(await mode(`${path}.1`)).toBe(0o640);
    expect(await mode(join(dir, 'out'))).toBe(0o750);
  });

  it('leave the mode of a file that exists alone (its owner chose it)', async () => {
    const path = join(dir, 'records.jsonl');
    await writeFile(path, '', { mode: 0o600 });
    const file = new RotatingFile(path, 1024, 2);
    await file.open();
    await file.write('line\n');
    await file.close();
    expect(await mode(path)).toBe(0o600);
  });
});
