import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';
import { systemClock } from '../../pipeline/clock.js';
import type { PodInfo } from '../../processor/k8s_l7/cluster-state.js';
import { testSettings } from './settings.js';

/** Settings on a real clock, for tests that run real timers (informer backoff, file watch). */
export function realClockSettings(id: string) {
  return testSettings(id, systemClock);
}

/** A PodInfo with defaults: running, on node-a, no annotation. */
export function pod(name: string, overrides: Partial<PodInfo> = {}): PodInfo {
  return {
    name,
    namespace: 'shop',
    uid: `uid-${name}`,
    node: 'node-a',
    ips: [],
    labels: {},
    hostNetwork: false,
    terminated: false,
    ...overrides,
  };
}

/** A fixture of test/fixtures/k8s_l7 (real tool output captured for these tests). */
export function fixture(name: string): string {
  return readFileSync(join(packageRoot, 'test', 'fixtures', 'k8s_l7', name), 'utf8');
}
