import type { L7Direction, PodRef, TimeUs } from '../../pipeline/records.js';
import { effectiveOptIn, type OptIn } from './annotations.js';
import { PodIndex } from './pod-index.js';

/** What a source (Kubernetes informers or the pods file) knows about a Pod: only what l7flow uses. */
export interface PodInfo {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly node: string;
  /** Canonical addresses (pipeline/ip.ts), IPv4 and IPv6. Empty until the Pod has one. */
  readonly ips: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Raw value of the opt-in annotation; absent when the key is not set. */
  readonly annotation?: string;
  readonly hostNetwork: boolean;
  /** Phase Succeeded or Failed: the Pod's addresses are released and may be reused. */
  readonly terminated: boolean;
  readonly workload?: string;
  /** OVS port of the Pod, when the source names it (pods file); else found by external_ids. */
  readonly ovsPort?: string;
}

export interface NamespaceInfo {
  readonly name: string;
  readonly uid: string;
  readonly annotation?: string;
}

/** An invalid opt-in value, reported once per change of the object's value. */
export interface InvalidAnnotation {
  readonly kind: 'Pod' | 'Namespace';
  /** The Pod's namespace; '' for a Namespace. */
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly value: string;
}

/** A Pod whose port should be mirrored. */
export interface MirrorCandidate {
  readonly namespace: string;
  readonly name: string;
  readonly ips: readonly string[];
  readonly ovsPort?: string;
  readonly direction: L7Direction;
}

export interface ClusterStateOptions {
  readonly graceUs: number;
  /** Bound on Pods held (and, separately, on deleted Pods kept for the grace period). */
  readonly maxPods: number;
  /** The set of mirror candidates may have changed. */
  readonly onChange?: () => void;
  /** Anything changed (for gauges). */
  readonly onUpdate?: () => void;
  /** A Pod or Namespace has a new invalid opt-in value. */
  readonly onInvalid?: (report: InvalidAnnotation) => void;
  /** A new Pod was refused because `maxPods` are held. */
  readonly onRefused?: (pod: PodInfo) => void;
}

interface PodEntry {
  readonly info: PodInfo;
  readonly optIn: OptIn;
  readonly ref: PodRef;
}

export type OptInCounts = Readonly<Record<L7Direction | 'invalid', number>>;

/**
 * Pods and Namespaces as the sources last described them, and everything derived from them:
 * each Pod's effective opt-in and PodRef, the IP index, the mirror candidates. Level-triggered:
 * every derived value is recomputed from the current objects whatever order events arrive in
 * (a Pod before its Namespace, an IP after the Pod, a Namespace deleted before its Pods).
 * Pure: time is passed in; callbacks run synchronously.
 */
export class ClusterState {
  readonly #pods = new Map<string, PodEntry>();
  readonly #namespaces = new Map<string, NamespaceInfo>();
  readonly #podsByNamespace = new Map<string, Set<string>>();
  readonly #index: PodIndex;
  /** Object key -> the invalid value already reported for it. */
  readonly #reported = new Map<string, string>();
  readonly #counts: Record<L7Direction | 'invalid', number> = { ingress: 0, egress: 0, both: 0, invalid: 0 };

  constructor(private readonly options: ClusterStateOptions) {
    this.#index = new PodIndex({ graceUs: options.graceUs, maxPods: options.maxPods });
  }

  upsertPod(info: PodInfo, nowUs: TimeUs): void {
    const key = podKey(info.namespace, info.name);
    const previous = this.#pods.get(key);
    if (previous !== undefined && previous.info.uid !== info.uid) {
      // Re-created under the same name: the old Pod is gone, whatever the events said.
      this.deletePod(info.namespace, info.name, previous.info.uid, nowUs);
      return this.upsertPod(info, nowUs);
    }
    if (previous === undefined && this.#pods.size >= this.options.maxPods) {
      this.options.onRefused?.(info);
      return;
    }
    this.#store(info, previous, nowUs);
    this.options.onUpdate?.();
  }

  /** Deletes a Pod; with `uid`, only if the held Pod is that one (a late delete of a re-created Pod). */
  deletePod(namespace: string, name: string, uid: string | undefined, nowUs: TimeUs): void {
    const key = podKey(namespace, name);
    const entry = this.#pods.get(key);
    if (entry === undefined || (uid !== undefined && uid !== entry.info.uid)) return;
    this.#pods.delete(key);
    this.#podsByNamespace.get(namespace)?.delete(key);
    if (this.#podsByNamespace.get(namespace)?.size === 0) this.#podsByNamespace.delete(namespace);
    this.#index.release(entry.info.uid, nowUs);
    this.#count(entry.optIn, -1);
    this.#reported.delete(`pod:${entry.info.uid}`);
    if (isCandidate(entry)) this.options.onChange?.();
    this.options.onUpdate?.();
  }

  upsertNamespace(info: NamespaceInfo, nowUs: TimeUs): void {
    this.#namespaces.set(info.name, info);
    this.#report(`namespace:${info.name}`, effectiveOptIn({ hostNetwork: false }, info), {
      kind: 'Namespace',
      namespace: '',
      name: info.name,
      uid: info.uid,
    });
    this.#refreshNamespace(info.name, nowUs);
    this.options.onUpdate?.();
  }

  /** Pods left in a deleted Namespace lose what they inherited from it (Antrea had no delete handler). */
  deleteNamespace(name: string, nowUs: TimeUs): void {
    if (!this.#namespaces.delete(name)) return;
    this.#reported.delete(`namespace:${name}`);
    this.#refreshNamespace(name, nowUs);
    this.options.onUpdate?.();
  }

  /** Makes the state exactly `pods` and `namespaces` (a reloaded pods file). */
  replaceAll(pods: readonly PodInfo[], namespaces: readonly NamespaceInfo[], nowUs: TimeUs): void {
    const namespaceNames = new Set(namespaces.map((n) => n.name));
    for (const name of [...this.#namespaces.keys()]) if (!namespaceNames.has(name)) this.deleteNamespace(name, nowUs);
    for (const namespace of namespaces) this.upsertNamespace(namespace, nowUs);
    const podKeys = new Set(pods.map((p) => podKey(p.namespace, p.name)));
    for (const [key, entry] of [...this.#pods]) {
      if (!podKeys.has(key)) this.deletePod(entry.info.namespace, entry.info.name, undefined, nowUs);
    }
    for (const pod of pods) this.upsertPod(pod, nowUs);
  }

  /** The Pod that held `ip` at `timeUs`. */
  resolve(ip: string, timeUs: TimeUs): PodRef | undefined {
    return this.#index.lookup(ip, timeUs);
  }

  /** Forgets deleted Pods whose grace period has passed; true when it forgot any. */
  sweep(nowUs: TimeUs): boolean {
    return this.#index.sweep(nowUs) > 0;
  }

  /** Opted-in Pods whose port should be mirrored: not host-network, not terminated. */
  mirrorCandidates(): MirrorCandidate[] {
    const candidates: MirrorCandidate[] = [];
    for (const entry of this.#pods.values()) {
      if (!isCandidate(entry)) continue;
      const { namespace, name, ips, ovsPort } = entry.info;
      candidates.push({
        namespace,
        name,
        ips,
        direction: entry.optIn.direction as L7Direction,
        ...(ovsPort === undefined ? {} : { ovsPort }),
      });
    }
    return candidates;
  }

  /** Pods opted in, by direction, and Pods disabled by an invalid value. */
  get optInCounts(): OptInCounts {
    return { ...this.#counts };
  }

  get stats(): { readonly pods: number; readonly namespaces: number; readonly deletedInGrace: number } {
    return { pods: this.#pods.size, namespaces: this.#namespaces.size, deletedInGrace: this.#index.stats.retired };
  }

  #store(info: PodInfo, previous: PodEntry | undefined, nowUs: TimeUs): void {
    const key = podKey(info.namespace, info.name);
    const optIn = effectiveOptIn(info, this.#namespaces.get(info.namespace));
    const entry: PodEntry = { info, optIn, ref: podRef(info, optIn) };
    this.#pods.set(key, entry);
    let members = this.#podsByNamespace.get(info.namespace);
    if (members === undefined) this.#podsByNamespace.set(info.namespace, (members = new Set()));
    members.add(key);
    if (previous !== undefined) this.#count(previous.optIn, -1);
    this.#count(optIn, +1);
    if (info.hostNetwork || info.terminated) this.#index.release(info.uid, nowUs);
    else this.#index.set(info.uid, info.ips, entry.ref, nowUs);
    this.#report(`pod:${info.uid}`, optIn.source === 'pod' ? optIn : { source: 'none' }, {
      kind: 'Pod',
      namespace: info.namespace,
      name: info.name,
      uid: info.uid,
    });
    if (mirrorShape(previous) !== mirrorShape(entry)) this.options.onChange?.();
  }

  #refreshNamespace(name: string, nowUs: TimeUs): void {
    for (const key of this.#podsByNamespace.get(name) ?? []) {
      const entry = this.#pods.get(key);
      if (entry !== undefined) this.#store(entry.info, entry, nowUs);
    }
  }

  #report(key: string, optIn: OptIn, object: Omit<InvalidAnnotation, 'value'>): void {
    if (optIn.invalid === undefined) {
      this.#reported.delete(key);
      return;
    }
    if (this.#reported.get(key) === optIn.invalid) return;
    this.#reported.set(key, optIn.invalid);
    this.options.onInvalid?.({ ...object, value: optIn.invalid });
  }

  #count(optIn: OptIn, delta: number): void {
    if (optIn.direction !== undefined) this.#counts[optIn.direction] += delta;
    else if (optIn.invalid !== undefined) this.#counts.invalid += delta;
  }
}

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function isCandidate(entry: PodEntry): boolean {
  return entry.optIn.direction !== undefined && !entry.info.hostNetwork && !entry.info.terminated;
}

/** What the mirror reconciler sees of a Pod; a change of it calls onChange. */
function mirrorShape(entry: PodEntry | undefined): string {
  if (entry === undefined || !isCandidate(entry)) return '';
  return `${entry.optIn.direction}|${entry.info.ovsPort ?? ''}|${entry.info.ips.join(',')}`;
}

function podRef(info: PodInfo, optIn: OptIn): PodRef {
  return {
    name: info.name,
    namespace: info.namespace,
    uid: info.uid,
    node: info.node,
    labels: info.labels,
    ...(info.workload === undefined ? {} : { workload: info.workload }),
    ...(optIn.direction === undefined ? {} : { l7Export: optIn.direction }),
  };
}
