import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  ATTR_K8S_NAMESPACE_NAME,
  ATTR_K8S_NODE_NAME,
  ATTR_K8S_POD_NAME,
  ATTR_K8S_POD_UID,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_NAMESPACE,
} from '@opentelemetry/semantic-conventions';
import type { PodRef } from '../../pipeline/records.js';

/** Resources kept for reuse; past this the least recently used is forgotten (and rebuilt if seen again). */
export const resourceCacheCapacity = 4096;

/**
 * One Resource object per Pod (and per stand-in endpoint), reused for every span and log of
 * that Pod. The OTLP serializer groups records into ResourceSpans/ResourceLogs by object
 * identity (reference/otel.md §1.5), so without interning every record would carry its own
 * copy of the resource. Bounded: a least-recently-used entry is dropped past the capacity,
 * which costs only grouping, never data.
 */
export class ResourceCache {
  readonly #entries = new Map<string, Resource>();
  /** Fast path: upstream processors share one PodRef object per Pod across records. */
  readonly #byPodObject = new WeakMap<PodRef, Resource>();

  constructor(
    /** Pod label whose value becomes service.name; "" uses the workload, then the Pod name. */
    private readonly serviceNameLabel: string,
    private readonly capacity = resourceCacheCapacity,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * `k8s.pod.name`, `k8s.pod.uid`, `k8s.namespace.name`, `k8s.node.name`, `service.name` and
   * `service.namespace` (the namespace, as the Kubernetes non-normative conventions advise).
   */
  pod(pod: PodRef): Resource {
    const known = this.#byPodObject.get(pod);
    if (known) return known;
    const serviceName = this.serviceName(pod);
    const key = `p\u0000${pod.uid}\u0000${pod.namespace}\u0000${pod.name}\u0000${pod.node}\u0000${serviceName}`;
    const resource = this.#intern(key, () => ({
      [ATTR_SERVICE_NAME]: serviceName,
      [ATTR_SERVICE_NAMESPACE]: pod.namespace,
      [ATTR_K8S_POD_NAME]: pod.name,
      [ATTR_K8S_POD_UID]: pod.uid,
      [ATTR_K8S_NAMESPACE_NAME]: pod.namespace,
      ...(pod.node !== '' ? { [ATTR_K8S_NODE_NAME]: pod.node } : {}),
    }));
    this.#byPodObject.set(pod, resource);
    return resource;
  }

  /**
   * The stand-in for a server that is not a known Pod: `service.name` is
   * `unknown_service:<address>`, after the SDKs' `unknown_service:<process>` default.
   */
  address(ip: string): Resource {
    return this.#intern(`a\u0000${ip}`, () => ({ [ATTR_SERVICE_NAME]: `unknown_service:${ip}` }));
  }

  /** The agent itself, for flow logs about endpoints that are no known Pod. */
  agent(nodeName: string): Resource {
    return this.#intern(`n\u0000${nodeName}`, () => ({
      [ATTR_SERVICE_NAME]: 'l7flow',
      ...(nodeName !== '' ? { [ATTR_K8S_NODE_NAME]: nodeName } : {}),
    }));
  }

  /** The label's value, else the workload name, else the Pod name. */
  serviceName(pod: PodRef): string {
    const fromLabel = this.serviceNameLabel === '' ? undefined : pod.labels[this.serviceNameLabel];
    if (fromLabel !== undefined && fromLabel !== '') return fromLabel;
    return pod.workload !== undefined && pod.workload !== '' ? pod.workload : pod.name;
  }

  #intern(key: string, attributes: () => Record<string, string>): Resource {
    const found = this.#entries.get(key);
    if (found) {
      // Map iteration order is insertion order: re-inserting marks the entry as recent.
      this.#entries.delete(key);
      this.#entries.set(key, found);
      return found;
    }
    const created = resourceFromAttributes(attributes());
    this.#entries.set(key, created);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return created;
  }
}
