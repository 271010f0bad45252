import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One private Open vSwitch at a time on a machine. Every userspace datapath is named
 * `ovs-netdev` and owns a tap device of that name in the root network namespace, so two
 * ovs-vswitchd instances (two test files, or two checkouts testing at once) fight over it and
 * the second one's ports never appear. Test files that start OVS hold this lock from start to
 * stop; a lock left by a process that died is taken over.
 */
const lockDir = join(tmpdir(), 'l7flow-ovs.lock');

/** How long a test file may wait for the others: give the beforeAll hook at least this. */
export const ovsLockWaitMs = 5 * 60_000;

export async function acquireOvsLock(): Promise<() => Promise<void>> {
  const deadline = Date.now() + ovsLockWaitMs;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'pid'), String(process.pid));
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await holderIsGone()) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`waited ${ovsLockWaitMs / 1000} s for ${lockDir}: another test holds Open vSwitch`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function holderIsGone(): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(await readFile(join(lockDir, 'pid'), 'utf8'));
  } catch {
    return false; // being created right now
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
