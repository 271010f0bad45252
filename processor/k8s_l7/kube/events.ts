import type { CoreV1Event } from '@kubernetes/client-node';
import type { TimeUs } from '../../../pipeline/records.js';
import type { InvalidAnnotation } from '../cluster-state.js';

export const invalidAnnotationReason = 'InvalidL7ExportAnnotation';

/** The human sentence shared by the log line and the Event. */
export function invalidAnnotationMessage(report: InvalidAnnotation, annotation: string): string {
  const scope = report.kind === 'Pod' ? 'this Pod' : 'the Pods of this Namespace that have no value of their own';
  return `annotation ${annotation}=${JSON.stringify(report.value)} is not one of ingress, egress, both: L7 export and mirroring are off for ${scope}`;
}

/**
 * A core/v1 Warning Event on the object whose annotation is invalid, as `kubectl describe`
 * shows it. Events about a Namespace (cluster-scoped) go to `default`, as the apiserver's own do.
 */
export function invalidAnnotationEvent(
  report: InvalidAnnotation,
  options: { readonly annotation: string; readonly node: string; readonly nowUs: TimeUs },
): { namespace: string; event: CoreV1Event } {
  const namespace = report.kind === 'Pod' ? report.namespace : 'default';
  const at = new Date(Math.floor(options.nowUs / 1000));
  const reporter = options.node === '' ? 'l7flow' : options.node;
  return {
    namespace,
    event: {
      apiVersion: 'v1',
      kind: 'Event',
      // client-go's naming: <object>.<unix nanoseconds in hex>
      metadata: { name: `${report.name}.${(BigInt(options.nowUs) * 1000n).toString(16)}`, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: report.kind,
        name: report.name,
        ...(report.kind === 'Pod' ? { namespace: report.namespace } : {}),
        ...(report.uid === '' ? {} : { uid: report.uid }),
      },
      reason: invalidAnnotationReason,
      message: invalidAnnotationMessage(report, options.annotation),
      type: 'Warning',
      source: { component: 'l7flow', ...(options.node === '' ? {} : { host: options.node }) },
      reportingComponent: 'l7flow',
      reportingInstance: reporter,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    },
  };
}

export type PostResult = 'posted' | 'failed' | 'dropped';

/**
 * Posts Events one at a time in the background, best effort: a failure is counted, not
 * retried (the next change of the value reports again). At most `maxPending` wait; more are
 * dropped and counted.
 */
export class EventPoster {
  #queue: { namespace: string; event: CoreV1Event }[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly options: {
      readonly post: (namespace: string, event: CoreV1Event) => Promise<unknown>;
      readonly maxPending: number;
      readonly onResult: (result: PostResult, error?: unknown) => void;
    },
  ) {}

  enqueue(item: { namespace: string; event: CoreV1Event }): void {
    if (this.#closed || this.#queue.length >= this.options.maxPending) {
      this.options.onResult('dropped');
      return;
    }
    this.#queue.push(item);
    this.#draining ??= this.#drain();
  }

  /** Drops what has not been sent (counted) and waits for the post in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    for (let i = 0; i < this.#queue.length; i++) this.options.onResult('dropped');
    this.#queue = [];
    await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
        try {
          await this.options.post(item.namespace, item.event);
          this.options.onResult('posted');
        } catch (error) {
          this.options.onResult('failed', error);
        }
      }
    } finally {
      this.#draining = undefined;
    }
  }
}
