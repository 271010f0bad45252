import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Settings } from '../../../pipeline/component.js';
import type { ClusterState, InvalidAnnotation, NamespaceInfo, PodInfo } from '../cluster-state.js';
import type { PodSource } from '../pod-source.js';
import { EventPoster, invalidAnnotationEvent } from './events.js';
import { KubeWatch } from './kube-watch.js';
import { trimNamespace, trimPod } from './objects.js';

export interface KubeSourceOptions {
  /** Only this node's Pods are watched (field selector spec.nodeName); '' watches all Pods. */
  readonly nodeName: string;
  readonly annotation: string;
  readonly workloadLabel: string;
  /** Path of a kubeconfig file; '' for the in-cluster service account. */
  readonly kubeconfig: string;
  readonly postEvents: boolean;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

const defaultBackoff = { initialMs: 1000, maxMs: 30_000 };

/**
 * Pods of this node and all Namespaces from the Kubernetes API (RBAC: get/list/watch pods and
 * namespaces, create events).
 */
export class KubeSource implements PodSource {
  readonly #restarts;
  readonly #rejected;
  readonly #events;
  #pods: KubeWatch<PodInfo> | undefined;
  #namespaces: KubeWatch<NamespaceInfo> | undefined;
  #poster: EventPoster | undefined;
  #server = '';
  #stopped = false;

  constructor(
    private readonly settings: Settings,
    private readonly options: KubeSourceOptions,
    private readonly state: ClusterState,
  ) {
    const t = settings.telemetry;
    this.#restarts = t.counter(
      'l7flow_k8s_watch_restarts_total',
      'Informer restarts after an error, by resource and reason (HTTP status or network).',
      ['resource', 'reason'],
    );
    this.#rejected = t.counter(
      'l7flow_k8s_objects_rejected_total',
      'Kubernetes objects ignored because they lack a name, namespace or uid.',
      ['resource'],
    );
    this.#events = t.counter('l7flow_k8s_events_total', 'Kubernetes Events about invalid annotations, by result.', [
      'result',
    ]);
  }

  get synced(): boolean {
    return (this.#pods?.synced ?? false) && (this.#namespaces?.synced ?? false);
  }

  async whenSynced(): Promise<void> {
    if (!this.#pods || !this.#namespaces) throw new Error('kubernetes source not started');
    await Promise.all([this.#pods.whenSynced(), this.#namespaces.whenSynced()]);
  }

  start(): Promise<void> {
    try {
      if (!this.#stopped) this.#open();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #open(): void {
    const kubeConfig = loadKubeConfig(this.options.kubeconfig);
    this.#server = kubeConfig.getCurrentCluster()?.server ?? '';
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const { clock, logger } = this.settings;
    const backoff = this.options.backoff ?? defaultBackoff;
    const onRestart = (resource: string) => (reason: string, error: unknown, delayMs: number) => {
      this.#restarts({ resource, reason }).inc();
      logger.warn({ resource, reason, err: error, retryInMs: delayMs }, 'kubernetes watch failed; restarting');
    };
    const fieldSelector = this.options.nodeName === '' ? undefined : `spec.nodeName=${this.options.nodeName}`;
    const trimOptions = { annotation: this.options.annotation, workloadLabel: this.options.workloadLabel };
    this.#pods = new KubeWatch<PodInfo>({
      kubeConfig,
      path: '/api/v1/pods',
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
      list: () => core.listPodForAllNamespaces(fieldSelector === undefined ? {} : { fieldSelector }),
      trim: (object) => trimPod(object, trimOptions),
      upsert: (pod) => this.state.upsertPod(pod, clock.nowUs()),
      remove: (pod) => this.state.deletePod(pod.namespace, pod.name, pod.uid, clock.nowUs()),
      clock,
      backoff,
      onRestart: onRestart('pods'),
      onRejected: (n) => this.#rejected({ resource: 'pods' }).inc(n),
    });
    this.#namespaces = new KubeWatch<NamespaceInfo>({
      kubeConfig,
      path: '/api/v1/namespaces',
      list: () => core.listNamespace(),
      trim: (object) => trimNamespace(object, trimOptions),
      upsert: (namespace) => this.state.upsertNamespace(namespace, clock.nowUs()),
      remove: (namespace) => this.state.deleteNamespace(namespace.name, clock.nowUs()),
      clock,
      backoff,
      onRestart: onRestart('namespaces'),
      onRejected: (n) => this.#rejected({ resource: 'namespaces' }).inc(n),
    });
    if (this.options.postEvents) {
      this.#poster = new EventPoster({
        post: (namespace, body) => core.createNamespacedEvent({ namespace, body }),
        maxPending: 64,
        onResult: (result) => this.#events({ result }).inc(),
      });
    }
    this.#namespaces.start();
    this.#pods.start();
  }

  report(invalid: InvalidAnnotation): void {
    this.#poster?.enqueue(
      invalidAnnotationEvent(invalid, {
        annotation: this.options.annotation,
        node: this.options.nodeName,
        nowUs: this.settings.clock.nowUs(),
      }),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([this.#pods?.stop(), this.#namespaces?.stop(), this.#poster?.close()]);
  }

  details(): Readonly<Record<string, unknown>> {
    return { pods: 'kubernetes', apiServer: this.#server, node: this.options.nodeName || '(all nodes)' };
  }
}

/** A kubeconfig file when given, else the in-cluster service account. */
function loadKubeConfig(path: string): KubeConfig {
  const config = new KubeConfig();
  if (path !== '') {
    try {
      config.loadFromFile(path);
    } catch (error) {
      throw new Error(`kubeconfig ${path}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  } else if (process.env.KUBERNETES_SERVICE_HOST) {
    config.loadFromCluster();
  } else {
    throw new Error(
      'pods: kubernetes needs a kubeconfig when not running in a cluster (KUBERNETES_SERVICE_HOST unset)',
    );
  }
  if (config.getCurrentCluster() === null) throw new Error(`kubeconfig ${path}: no current cluster`);
  return config;
}
