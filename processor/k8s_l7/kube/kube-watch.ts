import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Clock, Timer } from '../../../pipeline/clock.js';
import { deferred } from '../../../pipeline/once.js';
import type { Trimmed } from './objects.js';

export interface KubeWatchOptions<I> {
  readonly kubeConfig: KubeConfig;
  /** Collection path, e.g. `/api/v1/pods`. */
  readonly path: string;
  /** Sent with every watch; `list` must apply the same one, or each re-list would flip the cache. */
  readonly fieldSelector?: string;
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>;
  readonly trim: (object: unknown) => Trimmed<I> | undefined;
  readonly upsert: (info: I) => void;
  readonly remove: (info: I) => void;
  readonly clock: Clock;
  /** Restart delays after a failure: from initialMs, doubling, capped at maxMs. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** The informer stopped on an error and will be restarted after `delayMs`. */
  readonly onRestart: (reason: string, error: unknown, delayMs: number) => void;
  /** Objects refused by `trim` (no name, namespace or uid). */
  readonly onRejected: (count: number) => void;
}

/**
 * One informer (client-node's ListWatch: list, then watch from the list's resourceVersion,
 * re-list on 410 Gone) made to run for the life of the agent:
 *
 * - ListWatch stops for good on any other error (a 500, a refused or dropped connection); this
 *   restarts it with capped exponential backoff, reset by progress (a list or an event).
 * - Objects are trimmed on arrival, in the list and in watch events, so the cache holds only
 *   what l7flow uses.
 * - Watches ask for BOOKMARK events, which keep the resourceVersion fresh so a reconnect
 *   rarely needs a full re-list.
 * - `synced` turns true once the first list has been applied.
 */
export class KubeWatch<I> {
  readonly #informer: ListWatch<Trimmed<I>>;
  readonly #synced = deferred();
  #isSynced = false;
  #stopped = false;
  #started = false;
  #restartTimer: Timer | undefined;
  #delayMs: number;

  constructor(private readonly options: KubeWatchOptions<I>) {
    this.#delayMs = options.backoff.initialMs;
    const watch = new GuardedWatch(options.kubeConfig, this);
    this.#informer = new ListWatch<Trimmed<I>>(
      options.path,
      watch,
      () => this.#list(),
      false,
      undefined,
      options.fieldSelector,
    );
    // ListWatch calls these inside its own promise chains: a throw would be an unhandled
    // rejection, so a handler failure costs the object, never the process.
    const guarded = (handle: (info: I) => void) => (object: Trimmed<I>) => {
      try {
        handle(object.info);
      } catch {
        options.onRejected(1);
      }
    };
    this.#informer.on('add', guarded(options.upsert));
    this.#informer.on('update', guarded(options.upsert));
    this.#informer.on('delete', guarded(options.remove));
    this.#informer.on('error', (error: unknown) => this.#failed(error));
  }

  get synced(): boolean {
    return this.#isSynced;
  }

  /** Resolves once the first list has been applied (never, if stopped before). */
  whenSynced(): Promise<void> {
    return this.#synced.promise;
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#restartTimer?.cancel();
    await this.#informer.stop();
  }

  /** Called by GuardedWatch before each watch request; false once stopped. */
  beforeWatch(): boolean {
    if (this.#stopped) return false;
    // ListWatch watches only after applying a list (or to resume after one).
    if (!this.#isSynced) {
      this.#isSynced = true;
      this.#synced.resolve();
    }
    return true;
  }

  /** Trims a watch event's object; undefined drops the event. */
  watchEvent(phase: string, object: unknown): unknown {
    if (phase === 'ERROR') return object;
    this.#progress();
    if (phase !== 'ADDED' && phase !== 'MODIFIED' && phase !== 'DELETED') return object;
    const trimmed = this.options.trim(object);
    if (trimmed === undefined) this.options.onRejected(1);
    return trimmed;
  }

  #run(): void {
    this.#informer.start().catch((error: unknown) => this.#failed(error));
  }

  async #list(): Promise<KubernetesListObject<Trimmed<I>>> {
    const list = await this.options.list();
    const items: Trimmed<I>[] = [];
    for (const item of list.items ?? []) {
      const trimmed = this.options.trim(item);
      if (trimmed === undefined) this.options.onRejected(1);
      else items.push(trimmed);
    }
    this.#progress();
    return { ...(list.metadata === undefined ? {} : { metadata: list.metadata }), items };
  }

  #progress(): void {
    this.#delayMs = this.options.backoff.initialMs;
  }

  #failed(error: unknown): void {
    if (this.#stopped || this.#restartTimer !== undefined) return;
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.options.backoff.maxMs);
    this.options.onRestart(reasonOf(error), error, delayMs);
    this.#restartTimer = this.options.clock.setTimeout(() => {
      this.#restartTimer = undefined;
      if (!this.#stopped) this.#run();
    }, delayMs);
  }
}

/** A Watch that consults its KubeWatch before each request and trims what arrives. */
class GuardedWatch<I> extends Watch {
  constructor(
    config: KubeConfig,
    private readonly owner: KubeWatch<I>,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // Stopped while a list was in flight: ListWatch would still open a watch nobody stops.
    if (!this.owner.beforeWatch()) return new AbortController();
    return super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true },
      (phase, object, raw) => {
        const kept = this.owner.watchEvent(phase, object);
        if (kept !== undefined) callback(phase, kept, raw);
      },
      done,
    );
  }
}

/** Metric label for a failure: the HTTP status when there was one, else `network`. */
function reasonOf(error: unknown): string {
  const e = error as { statusCode?: unknown; code?: unknown } | undefined;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : typeof e?.code === 'number' ? e.code : undefined;
  return status === undefined ? 'network' : `http_${status}`;
}
