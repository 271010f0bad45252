import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enableConntrackSysctls } from './sysctls.js';

describe('enableConntrackSysctls', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'l7ct-sysctl-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sets nf_conntrack_acct and nf_conntrack_timestamp to 1 and says which it changed', async () => {
    await writeFile(join(dir, 'nf_conntrack_acct'), '0\n');
    await writeFile(join(dir, 'nf_conntrack_timestamp'), '1\n');
    expect(await enableConntrackSysctls(dir)).toEqual(['nf_conntrack_acct']);
    expect(await readFile(join(dir, 'nf_conntrack_acct'), 'utf8')).toBe('1\n');
    expect(await enableConntrackSysctls(dir)).toEqual([]);
  });

  it('names the file it cannot set', async () => {
    await expect(enableConntrackSysctls(dir)).rejects.toThrow(/nf_conntrack_acct to 1 \(ENOENT\)/);
  });
});
