import { describe, expect, it } from 'vitest';
import { FakeOvs } from '../../../test/support/k8s-l7-fake-ovs.js';
import { ManualClock } from '../../../test/support/manual-clock.js';
import { metricValue, testSettings } from '../../../test/support/settings.js';
import type { MirrorCandidate } from '../cluster-state.js';
import { OvsCommandError } from './ovs-client.js';
import type { MirrorSettings } from './plan.js';
import { MirrorReconciler } from './reconciler.js';
import { mirrorSettings } from '../../../test/support/k8s-l7-mirror-settings.js';

const web: MirrorCandidate = { namespace: 'shop', name: 'web', ips: ['10.0.0.2'], direction: 'ingress' };

function setup(
  options: { mode?: MirrorSettings['mode']; cleanupOnExit?: boolean; candidates?: MirrorCandidate[] } = {},
) {
  const clock = new ManualClock();
  const { settings, telemetry, logger } = testSettings('k8s_l7', clock);
  const ovs = new FakeOvs();
  ovs.addPodPort('v-web', { namespace: 'shop', name: 'web' }, 11);
  let candidates = options.candidates ?? [web];
  const reconciler = new MirrorReconciler({
    client: ovs,
    settings: mirrorSettings(options.mode),
    clock,
    logger,
    telemetry: settings.telemetry,
    resyncMs: 30_000,
    cleanupOnExit: options.cleanupOnExit ?? false,
    candidates: () => candidates,
  });
  const setCandidates = (next: MirrorCandidate[]) => {
    candidates = next;
    reconciler.request();
  };
  /** Moves the clock and waits for the runs it triggers. */
  const advance = async (ms: number) => {
    clock.advance(ms);
    await reconciler.idle();
  };
  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(telemetry, name, { component: 'k8s_l7', ...labels });
  return { reconciler, ovs, clock, logger, advance, setCandidates, metric };
}

describe('mirror reconciler', () => {
  it('waits for start (a complete Pod state), then converges', async () => {
    const { reconciler, ovs } = setup();
    reconciler.request();
    await reconciler.idle();
    expect(ovs.reads).toBe(0);
    reconciler.start();
    await reconciler.idle();
    expect(ovs.mirrors.map((m) => ovs.selectedPortNames(m))).toEqual([['v-web']]);
  });

  it('coalesces the requests made during a run into one more run', async () => {
    const { reconciler, ovs, setCandidates } = setup({ candidates: [] });
    reconciler.start();
    for (let i = 0; i < 5; i++) setCandidates([web]);
    await reconciler.idle();
    expect(ovs.reads).toBe(2);
    expect(ovs.mirrors).toHaveLength(1);
  });

  it('repairs what a restarted ovs-vswitchd lost within one resync period', async () => {
    const { reconciler, ovs, advance } = setup({ mode: 'openflow' });
    reconciler.start();
    await reconciler.idle();
    const installed = [...ovs.flows];
    expect(installed.map((f) => f.match).sort()).toEqual(['in_port=11', 'ip,nw_dst=10.0.0.2']);
    ovs.restartVswitchd();
    await advance(29_999);
    expect(ovs.flows).toEqual([]);
    await advance(1);
    expect(ovs.flows).toEqual(installed);
    expect(ovs.targetNoFlood).toBe(true);
  });

  it('treats a missing target port as an error: counted, logged once, retried with backoff', async () => {
    const { reconciler, ovs, advance, logger, metric } = setup();
    ovs.removePort('antrea-l7-tap0');
    reconciler.start();
    await reconciler.idle();
    expect(await metric('l7flow_k8s_mirror_reconcile_errors_total', { reason: 'target_port_missing' })).toBe(1);
    const readsAt = [ovs.reads];
    for (const ms of [1000, 2000, 4000]) {
      await advance(ms - 1);
      readsAt.push(ovs.reads);
      await advance(1);
      readsAt.push(ovs.reads);
    }
    expect(readsAt).toEqual([1, 1, 2, 2, 3, 3, 4]);
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.problems).toEqual([expect.stringContaining('target port "antrea-l7-tap0" is not on bridge')]);

    ovs.addPort('antrea-l7-tap0', { ofport: 3 });
    await advance(8000);
    expect(ovs.mirrors).toHaveLength(1);
    expect(logger.lines.at(-1)?.msg).toBe('mirror reconcile recovered');
    expect(await metric('l7flow_k8s_mirror_pods', { state: 'installed' })).toBe(1);
    // Healthy again: the next run is a resync period away.
    await advance(29_999);
    expect(ovs.reads).toBe(5);
  });

  it('retries after an OVS command fails', async () => {
    const { reconciler, ovs, advance, metric } = setup();
    ovs.failNext(new OvsCommandError({ tool: 'vsctl', args: ['list', 'Mirror'] }, 'database connection failed'));
    reconciler.start();
    await reconciler.idle();
    expect(ovs.mirrors).toHaveLength(0);
    expect(await metric('l7flow_k8s_mirror_reconcile_errors_total', { reason: 'ovs_command' })).toBe(1);
    await advance(1000);
    expect(ovs.mirrors).toHaveLength(1);
  });

  it('looks again soon for the port of an opted-in Pod that has none yet', async () => {
    const api: MirrorCandidate = { namespace: 'shop', name: 'api', ips: [], direction: 'egress' };
    const { reconciler, ovs, advance, metric } = setup({ candidates: [web, api] });
    reconciler.start();
    await reconciler.idle();
    expect(await metric('l7flow_k8s_mirror_pods', { state: 'without_port' })).toBe(1);
    ovs.addPodPort('v-api', { namespace: 'shop', name: 'api' }, 12);
    await advance(1000);
    expect(ovs.mirrors.map((m) => ovs.selectedPortNames(m))).toEqual([['v-api', 'v-web']]);
    expect(await metric('l7flow_k8s_mirror_pods', { state: 'desired' })).toBe(2);
    expect(await metric('l7flow_k8s_mirror_pods', { state: 'without_port' })).toBe(0);
  });

  it('removes only its own mirror and flows at shutdown when cleanup_on_exit is set', async () => {
    const { reconciler, ovs } = setup({ cleanupOnExit: true });
    const foreign = ovs.addForeignMirror('span', [ovs.portNamed('v-web')!.uuid], ovs.portNamed('antrea-l7-tap0')!.uuid);
    reconciler.start();
    await reconciler.idle();
    expect(ovs.mirrors).toHaveLength(2);
    await reconciler.shutdown();
    expect(ovs.mirrors.map((m) => m.uuid)).toEqual([foreign]);
  });

  it('leaves mirroring in place at shutdown by default, and stops reconciling', async () => {
    const { reconciler, ovs, advance } = setup();
    reconciler.start();
    await reconciler.idle();
    await reconciler.shutdown();
    await reconciler.shutdown();
    expect(ovs.mirrors).toHaveLength(1);
    const reads = ovs.reads;
    await advance(60_000);
    reconciler.request();
    await reconciler.idle();
    expect(ovs.reads).toBe(reads);
  });
});
