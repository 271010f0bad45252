import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe } from 'vitest';

export interface Requirements {
  /** Needs uid 0 (network namespaces, OVS, kernel conntrack). */
  readonly root?: boolean;
  /** Commands that must be on PATH (Debian packages that .ci/run installs). */
  readonly commands?: readonly string[];
  /** Files or directories that must exist (e.g. ../shared/corpus). */
  readonly paths?: readonly string[];
}

/** Why the requirements are not met, or undefined when they are. */
export function unmet(requirements: Requirements): string | undefined {
  return [unmetOnThisMachine(requirements), unmetPaths(requirements)].filter(Boolean).join('; ') || undefined;
}

/** Root and commands: what .ci/run provides, so CI may not skip for want of them. */
function unmetOnThisMachine(requirements: Requirements): string | undefined {
  const reasons: string[] = [];
  if (requirements.root && process.getuid?.() !== 0) reasons.push('needs root');
  for (const command of requirements.commands ?? []) {
    try {
      execFileSync('sh', ['-c', 'command -v "$0"', command], { stdio: 'ignore' });
    } catch {
      reasons.push(`needs the command ${command} (see .ci/apt-packages.txt)`);
    }
  }
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/** Data outside the repository (the shared corpus) may be absent anywhere, CI included. */
function unmetPaths(requirements: Requirements): string | undefined {
  const missing = (requirements.paths ?? []).filter((path) => !existsSync(path));
  return missing.length > 0 ? `needs ${missing.join(', ')}` : undefined;
}

/**
 * describe() for tests that need the machine to have something. When it does not, the suite
 * is skipped and the reason printed, except under L7FLOW_REQUIRE_ALL=1 (set by .ci/run):
 * there a missing root or command fails the run instead, since CI installs them.
 */
export function describeWith(requirements: Requirements, name: string, body: () => void): void {
  const reason = unmet(requirements);
  const machineReason = unmetOnThisMachine(requirements);
  if (machineReason !== undefined && process.env.L7FLOW_REQUIRE_ALL === '1') {
    describe(name, () => {
      throw new Error(`${name}: ${machineReason}, and L7FLOW_REQUIRE_ALL=1 forbids skipping`);
    });
    return;
  }
  if (reason !== undefined) process.stderr.write(`SKIPPED "${name}": ${reason}\n`);
  describe.skipIf(reason !== undefined)(name, body);
}
