import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A Kubernetes API server for tests, speaking the real protocol over HTTP so the real
 * @kubernetes/client-node drives it (point a kubeconfig at it with kubeconfigFile()).
 *
 * Served: core/v1 pods (all namespaces and per namespace) and namespaces, list and watch;
 * POST of core/v1 events (recorded in `events`). Semantics follow the API conventions
 * (api-concepts "Efficient detection of changes"):
 * - One resourceVersion counter for all objects; every write bumps it and stamps the object.
 * - List returns the items and the collection's resourceVersion.
 * - Watch (`?watch=true`) streams `{"type": ..., "object": ...}` JSON lines over a chunked
 *   response. With resourceVersion N it replays the changes after N, then live ones; with none
 *   (or "0") it starts with a synthetic ADDED per existing object. A version older than the
 *   compacted history gets an ERROR event carrying a 410 Expired Status, then the stream ends.
 * - `allowWatchBookmarks=true` watches receive BOOKMARK events when bookmark() is called.
 * - fieldSelector (`=`, `==`, `!=`, comma-joined) on metadata.name, metadata.namespace,
 *   spec.nodeName and status.phase for pods, metadata.name for namespaces; a watch with a
 *   selector sees an object that starts matching as ADDED and one that stops as DELETED.
 *   Unsupported fields are refused with 400, as the real server does.
 * - Requests need a bearer token (401 otherwise).
 * Faults: failNext() (an HTTP error status for matching requests), dropWatches() (sockets cut
 * mid-stream), closeWatches() (clean end), expireWatches() (ERROR 410 to open watches),
 * compact() (forget history so older versions get 410).
 */

export type Resource = 'pods' | 'namespaces';

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

interface Change {
  readonly rv: number;
  readonly resource: Resource;
  readonly old?: KubeObject;
  readonly current?: KubeObject;
}

interface Watcher {
  readonly resource: Resource;
  readonly namespace?: string;
  readonly selector: Selector;
  readonly bookmarks: boolean;
  readonly response: ServerResponse;
}

interface Fault {
  readonly method?: string;
  readonly path?: RegExp;
  /** true: only watch requests; false: only non-watch requests. */
  readonly watch?: boolean;
  readonly status: number;
  remaining: number;
}

type Selector = (object: KubeObject) => boolean;

const kinds: Readonly<Record<Resource, string>> = { pods: 'Pod', namespaces: 'Namespace' };
const selectableFields: Readonly<Record<Resource, readonly string[]>> = {
  pods: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase'],
  namespaces: ['metadata.name'],
};

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** Bodies of POSTed events, in order. */
  readonly events: KubeObject[] = [];
  readonly token = 'l7flow-test-token';
  readonly #server: Server;
  readonly #objects: Record<Resource, Map<string, KubeObject>> = { pods: new Map(), namespaces: new Map() };
  readonly #history: Change[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #faults: Fault[] = [];
  #resourceVersion = 100;
  #compactedThrough = 0;

  private constructor() {
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) this.#status(response, 500, 'InternalError', String(error));
        else response.destroy();
      });
    });
  }

  static async start(): Promise<FakeKubeApi> {
    const api = new FakeKubeApi();
    await new Promise<void>((resolve) => api.#server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Writes a kubeconfig for this server into `dir` and returns its path. */
  async kubeconfigFile(dir: string): Promise<string> {
    const path = join(dir, 'kubeconfig.yaml');
    await writeFile(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${this.url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: fake',
        '  user:',
        `    token: ${this.token}`,
        'contexts:',
        '- name: fake',
        '  context: { cluster: fake, user: fake }',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return path;
  }

  get openWatches(): number {
    return this.#watchers.size;
  }

  /** Requests made so far for `resource`, optionally only lists or only watches. */
  requestsFor(resource: Resource, kind?: 'list' | 'watch'): RecordedRequest[] {
    return this.requests.filter(
      (r) =>
        r.method === 'GET' &&
        r.path.endsWith(`/${resource}`) &&
        (kind === undefined || (kind === 'watch') === isWatch(r.query)),
    );
  }

  get resourceVersion(): string {
    return String(this.#resourceVersion);
  }

  /** Creates or replaces an object (by namespace and name); returns it as stored. */
  apply(resource: Resource, object: KubeObject): KubeObject {
    const key = keyOf(object);
    const old = this.#objects[resource].get(key);
    const rv = ++this.#resourceVersion;
    const stored: KubeObject = {
      apiVersion: 'v1',
      kind: kinds[resource],
      ...object,
      metadata: {
        uid: old?.metadata.uid ?? randomUUID(),
        creationTimestamp: new Date().toISOString(),
        ...object.metadata,
        resourceVersion: String(rv),
      },
    };
    this.#objects[resource].set(key, stored);
    this.#record({ rv, resource, current: stored, ...(old === undefined ? {} : { old }) });
    return stored;
  }

  /** Changes a stored object with `change`; returns it as stored. */
  update(resource: Resource, namespace: string | undefined, name: string, change: (o: KubeObject) => KubeObject) {
    const old = this.get(resource, namespace, name);
    if (old === undefined) throw new Error(`no ${resource} ${namespace ?? ''}/${name}`);
    return this.apply(resource, change(structuredClone(old)));
  }

  get(resource: Resource, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#objects[resource].get(`${namespace ?? ''}/${name}`);
  }

  delete(resource: Resource, namespace: string | undefined, name: string): void {
    const key = `${namespace ?? ''}/${name}`;
    const old = this.#objects[resource].get(key);
    if (old === undefined) throw new Error(`no ${resource} ${key}`);
    this.#objects[resource].delete(key);
    const rv = ++this.#resourceVersion;
    this.#record({ rv, resource, old: { ...old, metadata: { ...old.metadata, resourceVersion: String(rv) } } });
  }

  /** The next `count` requests matching are answered with `status` (a Status body). */
  failNext(fault: { method?: string; path?: RegExp; watch?: boolean; status: number; count?: number }): void {
    this.#faults.push({ ...fault, remaining: fault.count ?? 1 });
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Cuts every open watch's connection without ending the response. */
  dropWatches(): void {
    for (const watcher of this.#watchers) watcher.response.socket?.destroy();
    this.#watchers.clear();
  }

  /** Ends every open watch cleanly, as the server does when a watch times out. */
  closeWatches(): void {
    for (const watcher of this.#watchers) watcher.response.end();
    this.#watchers.clear();
  }

  /** Forgets the history so far: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.#compactedThrough = this.#resourceVersion;
    this.#history.length = 0;
  }

  /** Compacts, then tells every open watch its version is gone (ERROR 410) and ends it. */
  expireWatches(): void {
    this.compact();
    for (const watcher of this.#watchers) {
      this.#send(watcher.response, { type: 'ERROR', object: expiredStatus(this.#compactedThrough) });
      watcher.response.end();
    }
    this.#watchers.clear();
  }

  /** Sends a BOOKMARK with the current resourceVersion to watches that allowed them. */
  bookmark(): void {
    for (const watcher of this.#watchers) {
      if (!watcher.bookmarks) continue;
      this.#send(watcher.response, {
        type: 'BOOKMARK',
        object: {
          kind: kinds[watcher.resource],
          apiVersion: 'v1',
          metadata: { resourceVersion: this.resourceVersion },
        },
      });
    }
  }

  async close(): Promise<void> {
    for (const watcher of this.#watchers) watcher.response.end();
    this.#watchers.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const method = request.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query });
    const body = method === 'POST' ? await readBody(request) : '';

    if (request.headers.authorization !== `Bearer ${this.token}`) {
      return this.#status(response, 401, 'Unauthorized', 'Unauthorized');
    }
    const fault = this.#faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method === method) &&
        (f.path === undefined || f.path.test(url.pathname)) &&
        (f.watch === undefined || f.watch === isWatch(query)),
    );
    if (fault) {
      fault.remaining--;
      return this.#status(response, fault.status, 'InternalError', `injected fault ${fault.status}`);
    }

    const route = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/(pods|namespaces|events)$/.exec(url.pathname);
    if (!route) return this.#status(response, 404, 'NotFound', `the server could not find ${url.pathname}`);
    const [, namespace, resource] = route;
    if (resource === 'events') {
      if (method !== 'POST' || namespace === undefined) return this.#status(response, 405, 'MethodNotAllowed', method);
      const event = JSON.parse(body) as KubeObject;
      const stored = {
        ...event,
        metadata: { ...event.metadata, uid: randomUUID(), resourceVersion: String(++this.#resourceVersion) },
      };
      this.events.push(stored);
      return this.#json(response, 201, stored);
    }
    if (method !== 'GET') return this.#status(response, 405, 'MethodNotAllowed', method);
    if (resource === 'namespaces' && namespace !== undefined) {
      return this.#status(response, 404, 'NotFound', url.pathname);
    }
    const kind = resource as Resource;
    if (query.labelSelector !== undefined) {
      return this.#status(response, 400, 'BadRequest', 'labelSelector is not supported by this fake');
    }
    const selector = parseFieldSelector(kind, query.fieldSelector ?? '', namespace);
    if (typeof selector === 'string') return this.#status(response, 400, 'BadRequest', selector);
    if (isWatch(query)) return this.#watch(response, kind, namespace, selector, query);
    const items = [...this.#objects[kind].values()].filter(selector).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    return this.#json(response, 200, {
      apiVersion: 'v1',
      kind: `${kinds[kind]}List`,
      metadata: { resourceVersion: this.resourceVersion },
      items,
    });
  }

  #watch(
    response: ServerResponse,
    resource: Resource,
    namespace: string | undefined,
    selector: Selector,
    query: Readonly<Record<string, string>>,
  ): void {
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const from = query.resourceVersion ?? '';
    if (from === '' || from === '0') {
      for (const object of this.#objects[resource].values()) {
        if (selector(object)) this.#send(response, { type: 'ADDED', object });
      }
    } else {
      const since = Number(from);
      if (!Number.isInteger(since) || since < this.#compactedThrough) {
        this.#send(response, { type: 'ERROR', object: expiredStatus(this.#compactedThrough) });
        response.end();
        return;
      }
      for (const change of this.#history) {
        if (change.rv <= since || change.resource !== resource) continue;
        const event = eventFor(change, selector);
        if (event) this.#send(response, event);
      }
    }
    const watcher: Watcher = {
      resource,
      ...(namespace === undefined ? {} : { namespace }),
      selector,
      bookmarks: query.allowWatchBookmarks === 'true',
      response,
    };
    this.#watchers.add(watcher);
    response.on('close', () => this.#watchers.delete(watcher));
  }

  #record(change: Change): void {
    this.#history.push(change);
    for (const watcher of this.#watchers) {
      if (watcher.resource !== change.resource) continue;
      const event = eventFor(change, watcher.selector);
      if (event) this.#send(watcher.response, event);
    }
  }

  #send(response: ServerResponse, event: { type: string; object: unknown }): void {
    if (!response.writableEnded && !response.destroyed) response.write(`${JSON.stringify(event)}\n`);
  }

  #json(response: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    response.end(text);
  }

  #status(response: ServerResponse, code: number, reason: string, message: string): void {
    this.#json(response, code, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      code,
    });
  }
}

/** The watch event a change is for a given selector: ADDED/MODIFIED/DELETED, or none. */
function eventFor(change: Change, selector: Selector): { type: string; object: KubeObject } | undefined {
  const was = change.old !== undefined && selector(change.old);
  const is = change.current !== undefined && selector(change.current);
  if (is && change.current) return { type: was ? 'MODIFIED' : 'ADDED', object: change.current };
  if (was && change.old) {
    // Stopped matching (or deleted): the client must forget it.
    return { type: 'DELETED', object: change.current ?? change.old };
  }
  return undefined;
}

function parseFieldSelector(resource: Resource, text: string, namespace: string | undefined): Selector | string {
  const terms: { field: string; value: string; equal: boolean }[] = [];
  for (const part of text.split(',').filter((p) => p !== '')) {
    const match = /^([A-Za-z.]+)(==|!=|=)(.*)$/.exec(part);
    if (!match) return `invalid field selector: ${part}`;
    const [, field = '', op, value = ''] = match;
    if (!selectableFields[resource].includes(field)) {
      return `field label not supported: ${field}`;
    }
    terms.push({ field, value, equal: op !== '!=' });
  }
  return (object) =>
    (namespace === undefined || object.metadata.namespace === namespace) &&
    terms.every((t) => (fieldValue(object, t.field) === t.value) === t.equal);
}

function fieldValue(object: KubeObject, path: string): string {
  let node: unknown = object;
  for (const key of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[key];
  return typeof node === 'string' ? node : '';
}

function expiredStatus(version: number) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `too old resource version (current compaction ${version})`,
    reason: 'Expired',
    code: 410,
  };
}

function isWatch(query: Readonly<Record<string, string>>): boolean {
  return query.watch === 'true' || query.watch === '1';
}

function keyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A Pod object as the API server would hold it (enough for l7flow). */
export function podObject(options: {
  name: string;
  namespace: string;
  node: string;
  ips?: readonly string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  phase?: string;
  uid?: string;
  owner?: { kind: string; name: string };
}): KubeObject {
  const ips = options.ips ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: options.name,
      namespace: options.namespace,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      ...(options.owner
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: options.owner.kind, name: options.owner.name, controller: true, uid: 'x' },
            ],
          }
        : {}),
    },
    spec: {
      nodeName: options.node,
      ...(options.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'main', image: 'example/app:1' }],
    },
    status: {
      phase: options.phase ?? (ips.length > 0 ? 'Running' : 'Pending'),
      ...(ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    },
  };
}

export function namespaceObject(name: string, annotations: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations } };
}
