import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The sysctls without which conntrack entries carry no packet/byte counters
 * (nf_conntrack_acct) or start/stop times (nf_conntrack_timestamp). Both are per network
 * namespace, default to 0, and apply only to connections created after they are set.
 */
export const conntrackSysctls = ['nf_conntrack_acct', 'nf_conntrack_timestamp'] as const;

export const netfilterSysctlDir = '/proc/sys/net/netfilter';

/**
 * Sets each sysctl to 1 in this process's network namespace. Returns the ones it changed;
 * throws (naming the file) when one cannot be read or written.
 */
export async function enableConntrackSysctls(dir = netfilterSysctlDir): Promise<string[]> {
  const changed: string[] = [];
  for (const name of conntrackSysctls) {
    const path = join(dir, name);
    try {
      if ((await readFile(path, 'utf8')).trim() === '1') continue;
      await writeFile(path, '1\n');
      changed.push(name);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new Error(`set_sysctls: cannot set ${path} to 1 (${code}); set it on the node or run privileged`);
    }
  }
  return changed;
}
