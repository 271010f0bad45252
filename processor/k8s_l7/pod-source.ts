import type { InvalidAnnotation } from './cluster-state.js';

/**
 * Where Pods and Namespaces come from (Kubernetes informers or a pods file). A source feeds
 * the ClusterState it was given; the processor only starts, waits for and stops it.
 */
export interface PodSource {
  /** Opens the source; rejects when it cannot (unreadable kubeconfig or pods file). */
  start(): Promise<void>;
  /** True once the initial state is complete (the informers' first lists applied). */
  readonly synced: boolean;
  whenSynced(): Promise<void>;
  /** Tells the owners of an object that its annotation is invalid (a Kubernetes Event). */
  report(invalid: InvalidAnnotation): void;
  stop(): Promise<void>;
  details(): Readonly<Record<string, unknown>>;
}
