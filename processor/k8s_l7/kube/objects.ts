import { canonicalIp } from '../../../pipeline/ip.js';
import type { NamespaceInfo, PodInfo } from '../cluster-state.js';

/**
 * Kubernetes objects reduced to what l7flow uses, as soon as they arrive (like client-go's
 * TransformFunc), so the informer cache never holds whole Pod specs. The input is untrusted
 * JSON: anything missing a name, namespace or uid is refused (undefined), the caller counts it.
 */

export interface TrimOptions {
  /** The opt-in annotation key. */
  readonly annotation: string;
  /** A label whose value names the workload; '' to use the owner references only. */
  readonly workloadLabel: string;
}

/** The small object kept in the informer cache in place of the API object. */
export interface Trimmed<I> {
  readonly apiVersion: 'v1';
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly resourceVersion?: string };
  readonly info: I;
}

export function trimPod(object: unknown, options: TrimOptions): Trimmed<PodInfo> | undefined {
  const metadata = record(field(object, 'metadata'));
  const spec = record(field(object, 'spec'));
  const status = record(field(object, 'status'));
  const name = text(metadata?.name);
  const namespace = text(metadata?.namespace);
  const uid = text(metadata?.uid);
  if (!name || !namespace || !uid) return undefined;
  const labels = stringMap(metadata?.labels);
  const annotation = stringMap(metadata?.annotations)[options.annotation];
  const phase = text(status?.phase);
  const workload = workloadOf(labels, metadata?.ownerReferences, options.workloadLabel);
  const info: PodInfo = {
    name,
    namespace,
    uid,
    node: text(spec?.nodeName) ?? '',
    ips: podIps(status),
    labels,
    hostNetwork: spec?.hostNetwork === true,
    terminated: phase === 'Succeeded' || phase === 'Failed',
    ...(annotation === undefined ? {} : { annotation }),
    ...(workload === undefined ? {} : { workload }),
  };
  return { apiVersion: 'v1', kind: 'Pod', metadata: trimmedMetadata(metadata, name, namespace), info };
}

export function trimNamespace(
  object: unknown,
  options: Pick<TrimOptions, 'annotation'>,
): Trimmed<NamespaceInfo> | undefined {
  const metadata = record(field(object, 'metadata'));
  const name = text(metadata?.name);
  if (!name) return undefined;
  const annotation = stringMap(metadata?.annotations)[options.annotation];
  const info: NamespaceInfo = {
    name,
    uid: text(metadata?.uid) ?? '',
    ...(annotation === undefined ? {} : { annotation }),
  };
  return { apiVersion: 'v1', kind: 'Namespace', metadata: trimmedMetadata(metadata, name, undefined), info };
}

/** `status.podIPs` (dual-stack), else `status.podIP`; unparsable addresses are skipped. */
function podIps(status: Record<string, unknown> | undefined): string[] {
  const listed = Array.isArray(status?.podIPs) ? status.podIPs.map((entry) => text(field(entry, 'ip'))) : [];
  const single = text(status?.podIP);
  const ips: string[] = [];
  for (const raw of listed.length > 0 ? listed : [single]) {
    const ip = raw === undefined ? undefined : canonicalIp(raw);
    if (ip !== undefined && !ips.includes(ip)) ips.push(ip);
  }
  return ips;
}

/**
 * The workload a Pod belongs to: the `workloadLabel` value when set, else its controller's
 * name, with a ReplicaSet's `-<pod-template-hash>` suffix removed to give the Deployment.
 */
export function workloadOf(
  labels: Readonly<Record<string, string>>,
  ownerReferences: unknown,
  workloadLabel: string,
): string | undefined {
  if (workloadLabel !== '' && labels[workloadLabel]) return labels[workloadLabel];
  const owners = Array.isArray(ownerReferences) ? ownerReferences.map(record) : [];
  const controller = owners.find((o) => o?.controller === true) ?? (owners.length === 1 ? owners[0] : undefined);
  const name = text(controller?.name);
  if (!name) return undefined;
  const hash = labels['pod-template-hash'];
  if (controller?.kind === 'ReplicaSet' && hash && name.endsWith(`-${hash}`)) {
    return name.slice(0, -hash.length - 1);
  }
  return name;
}

function trimmedMetadata(
  metadata: Record<string, unknown> | undefined,
  name: string,
  namespace: string | undefined,
): Trimmed<unknown>['metadata'] {
  const resourceVersion = text(metadata?.resourceVersion);
  return {
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(resourceVersion === undefined ? {} : { resourceVersion }),
  };
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(record(value) ?? {})) if (typeof entry === 'string') out[key] = entry;
  return out;
}
