import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';
import { systemClock, type Clock } from '../../pipeline/clock.js';
import type { Settings } from '../../pipeline/component.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import type { PodInfo } from '../../processor/k8s_l7/cluster-state.js';
import { CaptureLogger } from './capture-logger.js';

/** Settings on a real clock, for tests that run real timers (informer backoff, file watch). */
export function realClockSettings(id: string, clock: Clock = systemClock) {
  const telemetry = new Telemetry();
  const logger = new CaptureLogger();
  const settings: Settings = { id, logger, clock, telemetry: telemetry.forComponent(id, logger, clock) };
  return { settings, telemetry, logger };
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
