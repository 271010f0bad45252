import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTransport } from './transport-file.js';

let dir = '';
let umask = 0;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-ipfix-file-'));
  umask = process.umask(0o022); // the usual umask, which lets everyone read new files
});
afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('IPFIX files (docs/security.md)', () => {
  it('are created readable by their owner and group only, in a directory to match', async () => {
    const path = join(dir, 'flows', 'flows.ipfix');
    await new FileTransport({ path, maxBytes: 65536, maxBackups: 1 }).check();
    expect(await mode(path)).toBe(0o640);
    expect(await mode(join(dir, 'flows'))).toBe(0o750);
  });

  it('keep the mode of a file that exists (its owner chose it)', async () => {
    const path = join(dir, 'flows.ipfix');
    await writeFile(path, '', { mode: 0o600 });
    await new FileTransport({ path, maxBytes: 65536, maxBackups: 1 }).check();
    expect(await mode(path)).toBe(0o600);
  });
});
