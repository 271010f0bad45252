import { sleep } from '../../pipeline/clock.js';
import type { ConsumingComponent, Settings } from '../../pipeline/component.js';
import type { Consumer } from '../../pipeline/consumer.js';
import { ClosedError } from '../../pipeline/errors.js';
import { once } from '../../pipeline/once.js';
import type { ConnSample, L7Event, PipelineRecord, PodRef } from '../../pipeline/records.js';
import { l7Wanted } from './annotations.js';
import { ClusterState, type InvalidAnnotation } from './cluster-state.js';
import type { K8sL7Config } from './factory.js';
import { invalidAnnotationMessage } from './kube/events.js';
import { KubeSource } from './kube/kube-source.js';
import { ExecOvsClient, type OvsClient } from './mirror/ovs-client.js';
import type { MirrorSettings } from './mirror/plan.js';
import { MirrorReconciler } from './mirror/reconciler.js';
import type { PodSource } from './pod-source.js';
import { PodsFileSource } from './pods-file/source.js';

/** Seams for tests: replace the edges, keep everything else real. */
export interface K8sL7Dependencies {
  readonly source?: (state: ClusterState) => PodSource;
  readonly ovsClient?: OvsClient;
}

/**
 * Processor k8s_l7. Every L7 event and conntrack sample leaves with the Pods at both ends, as
 * of the record's time: L7 events by their tuple (source = client), conntrack samples by the
 * original source and the reply source (the endpoint after DNAT). ConnDumpEnd and any other
 * record pass untouched. Conntrack samples are never dropped: every Pod's flows are exported
 * as L4. An L7 event is kept only when its destination Pod is opted in for ingress or both,
 * or its source Pod for egress or both; otherwise it is dropped and counted by reason:
 * `no_pod` (neither address is a known Pod), `not_opted_in`, or `not_synced` (before the
 * first lists, when neither can be told yet).
 *
 * As a side effect it keeps the opted-in Pods' ports mirrored to Suricata (mirror/).
 */
export class K8sL7Processor implements ConsumingComponent {
  readonly #state: ClusterState;
  readonly #source: PodSource;
  readonly #reconciler: MirrorReconciler | undefined;
  readonly #refreshGauges: () => void;
  #closed = false;

  constructor(
    private readonly settings: Settings,
    private readonly config: K8sL7Config,
    private readonly next: Consumer<PipelineRecord>,
    dependencies: K8sL7Dependencies = {},
  ) {
    const t = settings.telemetry;
    const invalidTotal = t.counter(
      'l7flow_k8s_invalid_annotations_total',
      "Invalid opt-in values seen, once per change of an object's value, by kind (pod, namespace).",
      ['kind'],
    );
    const refused = t.counter('l7flow_k8s_pods_refused_total', 'Pods not held because max_pods were held.')();
    const optedIn = t.gauge('l7flow_k8s_pods_opted_in', 'Pods opted in for L7 export, by direction.', ['direction']);
    const disabled = t.gauge(
      'l7flow_k8s_pods_invalid_annotation',
      'Pods whose L7 export an invalid value turns off.',
    )();
    const pods = t.gauge('l7flow_k8s_pods', 'Pods held, by state (live, deleted_in_grace).', ['state']);
    this.#refreshGauges = () => {
      const counts = this.#state.optInCounts;
      for (const direction of ['ingress', 'egress', 'both'] as const) optedIn({ direction }).set(counts[direction]);
      disabled.set(counts.invalid);
      const stats = this.#state.stats;
      pods({ state: 'live' }).set(stats.pods);
      pods({ state: 'deleted_in_grace' }).set(stats.deletedInGrace);
    };

    this.#state = new ClusterState({
      graceUs: config.deleted_pod_grace * 1000,
      maxPods: config.max_pods,
      onChange: () => this.#reconciler?.request(),
      onUpdate: this.#refreshGauges,
      onInvalid: (report) => {
        invalidTotal({ kind: report.kind.toLowerCase() }).inc();
        this.#reportInvalid(report);
      },
      onRefused: () => refused.inc(),
    });
    this.#source = dependencies.source?.(this.#state) ?? this.#createSource();
    const { mirror } = config;
    const mode = mirror.mode;
    if (mode !== 'none') {
      const mirrorSettings: MirrorSettings = {
        mode,
        bridge: mirror.bridge,
        targetPort: mirror.target_port,
        mirrorName: mirror.mirror_name,
        cookie: `0x${BigInt(mirror.cookie).toString(16)}`,
        table: mirror.table,
        priority: mirror.priority,
        externalIdKeys: mirror.port_external_id_keys,
      };
      this.#reconciler = new MirrorReconciler({
        client:
          dependencies.ovsClient ??
          new ExecOvsClient(mirrorSettings, {
            vsctlPath: mirror.ovs_vsctl_path,
            ofctlPath: mirror.ovs_ofctl_path,
            rundir: mirror.rundir,
            timeoutMs: mirror.command_timeout,
          }),
        settings: mirrorSettings,
        clock: settings.clock,
        logger: settings.logger,
        telemetry: t,
        resyncMs: mirror.resync_period,
        cleanupOnExit: mirror.cleanup_on_exit,
        candidates: () => this.#state.mirrorCandidates(),
      });
    }
  }

  /**
   * Starts the source and, once the first lists are in, the mirror reconciler (reconciling an
   * incomplete state would remove mirrors of Pods not listed yet). Waits up to wait_for_sync
   * for those lists so that the receivers, started after, find their Pods.
   */
  async start(): Promise<void> {
    if (this.#closed) return;
    await this.#source.start();
    const synced = this.#source.whenSynced();
    synced.then(
      () => {
        this.#refreshGauges();
        this.#reconciler?.start();
      },
      () => {},
    );
    if (this.config.wait_for_sync > 0 && !this.#source.synced) {
      const done = new AbortController();
      await Promise.race([synced.catch(() => {}), sleep(this.settings.clock, this.config.wait_for_sync, done.signal)]);
      done.abort();
    }
  }

  isReady(): boolean {
    return this.#source.synced;
  }

  details(): Readonly<Record<string, unknown>> {
    const mirror = this.config.mirror;
    return {
      ...this.#source.details(),
      synced: this.#source.synced,
      annotation: this.config.annotation,
      mirror: mirror.mode === 'none' ? 'none' : `${mirror.mode} ${mirror.bridge} -> ${mirror.target_port}`,
    };
  }

  async consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#closed) throw new ClosedError(this.settings.id);
    const state = this.#state;
    if (state.sweep(this.settings.clock.nowUs())) this.#refreshGauges();
    const synced = this.#source.synced;
    const out: PipelineRecord[] = [];
    let noPod = 0;
    let notOptedIn = 0;
    for (const record of batch) {
      switch (record.kind) {
        case 'http':
        case 'tls':
        case 'dns': {
          const src = state.resolve(record.tuple.srcIp, record.timeUs);
          const dst = state.resolve(record.tuple.dstIp, record.timeUs);
          if (src === undefined && dst === undefined) noPod++;
          else if (!l7Wanted(src?.l7Export, dst?.l7Export)) notOptedIn++;
          else out.push(withPods(record, src, dst));
          break;
        }
        case 'conn':
          out.push(
            withPods(
              record,
              state.resolve(record.original.srcIp, record.timeUs),
              state.resolve(record.reply.srcIp, record.timeUs),
            ),
          );
          break;
        default:
          out.push(record);
      }
    }
    const telemetry = this.settings.telemetry;
    if (!synced) {
      telemetry.dropped('not_synced', noPod + notOptedIn);
    } else {
      telemetry.dropped('no_pod', noPod);
      telemetry.dropped('not_opted_in', notOptedIn);
    }
    if (out.length === 0) return;
    try {
      await this.next.consume(out);
    } catch (error) {
      // Counted here, never passed up: the sender would count the whole batch again.
      telemetry.dropped('rejected', out.length, error instanceof Error ? error.message : String(error));
    }
  }

  readonly shutdown = once(async (): Promise<void> => {
    this.#closed = true;
    await this.#source.stop();
    await this.#reconciler?.shutdown();
  });

  #reportInvalid(report: InvalidAnnotation): void {
    this.settings.logger.warn(
      { kind: report.kind, namespace: report.namespace, name: report.name, value: report.value },
      invalidAnnotationMessage(report, this.config.annotation),
    );
    this.#source.report(report);
  }

  #createSource(): PodSource {
    if (this.config.pods === 'file') {
      return new PodsFileSource(this.settings, this.config.pods_file, this.config.annotation, this.#state);
    }
    return new KubeSource(
      this.settings,
      {
        nodeName: this.config.node_name,
        annotation: this.config.annotation,
        workloadLabel: this.config.workload_label,
        kubeconfig: this.config.kubeconfig,
        postEvents: this.config.post_events,
      },
      this.#state,
    );
  }
}

/**
 * A copy of `record` with its Pods; the same object when there are none to add.
 * Object.assign rather than `{ ...record, srcPod }`: on Node 20 (V8 11) adding properties
 * after a spread takes a slow path, about 15x slower (see the k8s_l7 benchmark).
 */
function withPods<R extends L7Event | ConnSample>(
  record: R,
  srcPod: PodRef | undefined,
  dstPod: PodRef | undefined,
): R {
  if (srcPod !== undefined && dstPod !== undefined) return Object.assign({}, record, { srcPod, dstPod });
  if (srcPod !== undefined) return Object.assign({}, record, { srcPod });
  if (dstPod !== undefined) return Object.assign({}, record, { dstPod });
  return record;
}
