import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatIssues, show } from '../../../config/schema.js';
import { canonicalIp } from '../../../pipeline/ip.js';
import type { NamespaceInfo, PodInfo } from '../cluster-state.js';

/**
 * The pods file: Pods and Namespaces for hosts without Kubernetes, demos and tests. YAML or
 * JSON (JSON is YAML). Example:
 *
 *   namespaces:
 *     - name: shop
 *       annotations: { visibility.antrea.io/l7-export: ingress }
 *   pods:
 *     - name: web-0
 *       namespace: shop
 *       ips: [10.10.0.2, fd00::2]
 *       labels: { app: web }
 *       ovs_port: v-web0
 */

const stringMap = z.record(z.string(), z.string());

const namespaceSchema = z.strictObject({
  name: z.string().min(1),
  uid: z.string().optional(),
  annotations: stringMap.default({}),
});

const podSchema = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().min(1).default('default'),
  /** Defaults to namespace/name: the Pod's identity across reloads. */
  uid: z.string().optional(),
  node: z.string().default(''),
  ips: z
    .array(
      z.string().refine((ip) => canonicalIp(ip) !== undefined, { error: (i) => `not an IP address: ${show(i.input)}` }),
    )
    .default([]),
  labels: stringMap.default({}),
  annotations: stringMap.default({}),
  host_network: z.boolean().default(false),
  workload: z.string().optional(),
  ovs_port: z.string().min(1).optional(),
});

const fileSchema = z.strictObject({
  namespaces: z.array(namespaceSchema).nullable().default([]),
  pods: z.array(podSchema).nullable().default([]),
});

export type PodsFileResult =
  | { readonly ok: true; readonly pods: readonly PodInfo[]; readonly namespaces: readonly NamespaceInfo[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Parses the file's text; every problem is reported with its path. */
export function parsePodsFile(text: string, annotation: string): PodsFileResult {
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    return { ok: false, problems: [(error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''] };
  }
  const parsed = fileSchema.safeParse(document ?? {}, { reportInput: true });
  if (!parsed.success) return { ok: false, problems: formatIssues(parsed.error.issues, [], fileSchema) };

  const problems: string[] = [];
  const namespaces: NamespaceInfo[] = [];
  const seenNamespaces = new Set<string>();
  for (const [i, ns] of (parsed.data.namespaces ?? []).entries()) {
    if (seenNamespaces.has(ns.name)) problems.push(`namespaces[${i}].name: ${show(ns.name)} is listed twice`);
    seenNamespaces.add(ns.name);
    const value = ns.annotations[annotation];
    namespaces.push({ name: ns.name, uid: ns.uid ?? ns.name, ...(value === undefined ? {} : { annotation: value }) });
  }

  const pods: PodInfo[] = [];
  const seenPods = new Set<string>();
  const ipOwners = new Map<string, string>();
  for (const [i, pod] of (parsed.data.pods ?? []).entries()) {
    const key = `${pod.namespace}/${pod.name}`;
    if (seenPods.has(key)) problems.push(`pods[${i}]: ${key} is listed twice`);
    seenPods.add(key);
    const ips = [...new Set(pod.ips.map((ip) => canonicalIp(ip) as string))];
    for (const ip of ips) {
      const owner = ipOwners.get(ip);
      if (owner !== undefined && !pod.host_network) problems.push(`pods[${i}].ips: ${ip} is also ${owner}'s`);
      if (!pod.host_network) ipOwners.set(ip, key);
    }
    const value = pod.annotations[annotation];
    pods.push({
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid ?? key,
      node: pod.node,
      ips,
      labels: pod.labels,
      hostNetwork: pod.host_network,
      terminated: false,
      ...(value === undefined ? {} : { annotation: value }),
      ...(pod.workload === undefined ? {} : { workload: pod.workload }),
      ...(pod.ovs_port === undefined ? {} : { ovsPort: pod.ovs_port }),
    });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, pods, namespaces };
}
