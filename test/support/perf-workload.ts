/**
 * A synthetic node's traffic for the overload test and the whole-pipeline benchmark: a
 * conntrack table of `connections` connections (as /proc/net/nf_conntrack prints it), and the
 * EVE lines Suricata writes for them. Pure: no files, sockets or timers.
 *
 * Connections are 80% HTTP keep-alive (TCP to 50 server Pods on 8080: transactions come
 * round-robin, each the connection's next, same flow_id, next tx_id), 15% TLS (TCP to 10 Pods
 * on 8443, a handshake each) and 5% DNS (UDP to 2 Pods on 53, a query and its answer), TLS
 * and DNS in that proportion among the HTTP transactions. One line in `malformedEvery` is
 * damaged (cut short, or not JSON).
 * Clients are outside the cluster (no Pod); servers are Pods of namespace `shop`, opted in
 * for ingress, so every valid transaction is kept by k8s_l7.
 */

export interface WorkloadOptions {
  readonly connections: number;
  /** One line in this many is malformed (default 100). */
  readonly malformedEvery?: number;
  /** One HTTP transaction in this many carries a latency marker `lat=<n>` in its URL (default 50). */
  readonly markerEvery?: number;
}

/** A run of EVE lines, ready to write. */
export interface EveChunk {
  readonly bytes: Buffer;
  readonly lines: number;
  /** HTTP transactions: each becomes one OTLP span. */
  readonly http: number;
  /** Damaged lines among them. */
  readonly malformed: number;
  /** Latency markers carried by the chunk's HTTP transactions. */
  readonly markers: readonly number[];
}

type Kind = 'http' | 'tls' | 'dns';

interface Connection {
  readonly kind: Kind;
  readonly client: string;
  readonly clientPort: number;
  readonly server: string;
  readonly serverPort: number;
  readonly flowId: number;
  transactions: number;
}

const serverCounts: Readonly<Record<Kind, number>> = { http: 50, tls: 10, dns: 2 };
const serverNets: Readonly<Record<Kind, string>> = { http: '10.200.0', tls: '10.200.1', dns: '10.200.2' };
const serverPorts: Readonly<Record<Kind, number>> = { http: 8080, tls: 8443, dns: 53 };
/** `lat=` followed by the marker number: what the sinks look for in exported bytes. */
export const markerPrefix = 'lat=';

export class Workload {
  readonly #connections: Connection[] = [];
  readonly #byKind: Record<Kind, Connection[]> = { http: [], tls: [], dns: [] };
  readonly #malformedEvery: number;
  readonly #markerEvery: number;
  #lineCount = 0;
  #httpCount = 0;
  #nextMarker = 0;
  readonly #cursor = { http: 0, tls: 0, dns: 0 };

  constructor(options: WorkloadOptions) {
    this.#malformedEvery = options.malformedEvery ?? 100;
    this.#markerEvery = options.markerEvery ?? 50;
    for (let i = 0; i < options.connections; i++) {
      const kind: Kind = i % 20 === 19 ? 'dns' : i % 20 >= 16 ? 'tls' : 'http';
      const server = (i % serverCounts[kind]) + 1;
      const connection: Connection = {
        kind,
        // 10.1.0.0/16 and up: one address per connection, never a Pod.
        client: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
        clientPort: 32768 + (i % 28000),
        server: `${serverNets[kind]}.${server}`,
        serverPort: serverPorts[kind],
        flowId: 1_000_000 + i,
        transactions: 0,
      };
      this.#connections.push(connection);
      this.#byKind[kind].push(connection);
    }
  }

  get connections(): number {
    return this.#connections.length;
  }

  /** Pods (pods: file) for k8s_l7: the servers, in an opted-in namespace. */
  podsYaml(): string {
    const pods: string[] = [];
    for (const kind of ['http', 'tls', 'dns'] as const) {
      for (let n = 1; n <= serverCounts[kind]; n++) {
        pods.push(
          `  - { name: ${kind}-${n}, namespace: shop, node: bench-node, ips: [${serverNets[kind]}.${n}], labels: { app: ${kind} }, workload: ${kind} }`,
        );
      }
    }
    return `namespaces:\n  - { name: shop, annotations: { visibility.antrea.io/l7-export: ingress } }\npods:\n${pods.join('\n')}\n`;
  }

  /** The conntrack table as /proc/net/nf_conntrack prints it, counters as of the lines generated so far. */
  conntrackTable(): string {
    const lines: string[] = new Array<string>(this.#connections.length);
    for (let i = 0; i < this.#connections.length; i++) lines[i] = procfsLine(this.#connections[i] as Connection);
    return `${lines.join('\n')}\n`;
  }

  /**
   * The next `httpTransactions` HTTP transactions (each the next one of the next HTTP
   * connection, round-robin), with TLS handshakes and DNS exchanges in the workload's
   * proportion spread among them, in chunks of about `chunkBytes`.
   */
  next(httpTransactions: number, chunkBytes = 64 * 1024): EveChunk[] {
    const { http, tls, dns } = this.#byKind;
    const others: Connection[] = [];
    const tlsCount = Math.round((httpTransactions * tls.length) / Math.max(1, http.length));
    const dnsCount = Math.round((httpTransactions * dns.length) / Math.max(1, http.length));
    let tlsTaken = 0;
    for (let i = 0; i < tlsCount + dnsCount; i++) {
      // TLS while its share is behind its proportion, else DNS.
      if (tlsTaken < tlsCount && tlsTaken * (tlsCount + dnsCount) <= i * tlsCount) {
        others.push(tls[this.#cursor.tls++ % tls.length] as Connection);
        tlsTaken++;
      } else {
        others.push(dns[this.#cursor.dns++ % dns.length] as Connection);
      }
    }
    const every = Math.max(1, Math.floor(httpTransactions / Math.max(1, others.length)));
    const lines: GeneratedLine[] = [];
    let next = 0;
    const other = (c: Connection) => lines.push(...(c.kind === 'tls' ? this.#tls(c) : this.#dns(c)));
    for (let i = 0; i < httpTransactions && http.length > 0; i++) {
      lines.push(...this.#http(http[this.#cursor.http++ % http.length] as Connection));
      if (i % every === every - 1 && next < others.length) other(others[next++] as Connection);
    }
    while (next < others.length) other(others[next++] as Connection);
    return chunk(lines, chunkBytes);
  }

  /** Totals so far: lines generated (malformed included), HTTP transactions, markers. */
  get generated(): { readonly lines: number; readonly http: number; readonly markers: number } {
    return { lines: this.#lineCount, http: this.#httpCount, markers: this.#nextMarker };
  }

  /** The line, followed by a damaged line when a malformed one is due. */
  #line(text: string, http = false, marker?: number): GeneratedLine[] {
    const line: GeneratedLine = marker === undefined ? { text, http } : { text, http, marker };
    if (++this.#lineCount % this.#malformedEvery !== 0) return [line];
    this.#lineCount++;
    // Damaged as a bug or a cut connection would damage it: not JSON, or cut short.
    const damaged = this.#lineCount % 4 === 0 ? 'not json' : text.slice(0, text.length >> 1);
    return [line, { text: damaged, http: false, malformed: true }];
  }

  #http(c: Connection): GeneratedLine[] {
    const tx = c.transactions++;
    this.#httpCount++;
    const marker = this.#httpCount % this.#markerEvery === 0 ? this.#nextMarker++ : undefined;
    const query = marker === undefined ? `?page=${tx}` : `?${markerPrefix}${marker}`;
    return this.#line(
      `{"timestamp":"${timestamp()}","flow_id":${c.flowId},"in_iface":"antrea-l7-tap0","event_type":"http",` +
        `"src_ip":"${c.client}","src_port":${c.clientPort},"dest_ip":"${c.server}","dest_port":${c.serverPort},"proto":"TCP",` +
        `"tx_id":${tx},"http":{"hostname":"web.shop.svc","url":"/api/items/${c.flowId}${query}",` +
        `"http_user_agent":"bench/1.0","http_content_type":"application/json","http_method":"${tx % 4 === 3 ? 'POST' : 'GET'}",` +
        `"protocol":"HTTP/1.1","status":${tx % 50 === 49 ? 503 : 200},"length":${200 + (tx % 800)}}}`,
      true,
      marker,
    );
  }

  #tls(c: Connection): GeneratedLine[] {
    c.transactions++;
    return this.#line(
      `{"timestamp":"${timestamp()}","flow_id":${c.flowId},"in_iface":"antrea-l7-tap0","event_type":"tls",` +
        `"src_ip":"${c.client}","src_port":${c.clientPort},"dest_ip":"${c.server}","dest_port":${c.serverPort},"proto":"TCP",` +
        `"tls":{"subject":"CN=payments.shop.svc","issuerdn":"CN=shop CA","serial":"4A:1F:03","sni":"payments.shop.svc",` +
        `"version":"TLS 1.3","notbefore":"2026-01-01T00:00:00","notafter":"2027-01-01T00:00:00",` +
        `"ja3":{"hash":"e7d705a3286e19ea42f587b344ee6865"},"ja3s":{"hash":"f4febc55ea12b31ae17cfb7e614afda8"}}}`,
    );
  }

  #dns(c: Connection): GeneratedLine[] {
    c.transactions++;
    const id = c.flowId & 0xffff;
    const common = `"flow_id":${c.flowId},"in_iface":"antrea-l7-tap0","event_type":"dns","proto":"UDP"`;
    const query = this.#line(
      `{"timestamp":"${timestamp()}",${common},"src_ip":"${c.client}","src_port":${c.clientPort},"dest_ip":"${c.server}","dest_port":53,` +
        `"dns":{"version":2,"type":"query","id":${id},"rrname":"web.shop.svc.cluster.local","rrtype":"A","tx_id":0}}`,
    );
    // Suricata logs an answer in packet direction: from the server.
    const answer = this.#line(
      `{"timestamp":"${timestamp()}",${common},"src_ip":"${c.server}","src_port":53,"dest_ip":"${c.client}","dest_port":${c.clientPort},` +
        `"dns":{"version":2,"type":"answer","id":${id},"rcode":"NOERROR","rrname":"web.shop.svc.cluster.local","rrtype":"A",` +
        `"answers":[{"rrname":"web.shop.svc.cluster.local","rrtype":"A","ttl":30,"rdata":"10.96.14.3"}]}}`,
    );
    return [...query, ...answer];
  }
}

interface GeneratedLine {
  readonly text: string;
  readonly http: boolean;
  readonly malformed?: boolean;
  readonly marker?: number;
}

function chunk(lines: readonly GeneratedLine[], chunkBytes: number): EveChunk[] {
  const chunks: EveChunk[] = [];
  let texts: string[] = [];
  let size = 0;
  let http = 0;
  let malformed = 0;
  let markers: number[] = [];
  const flush = () => {
    if (texts.length === 0) return;
    chunks.push({ bytes: Buffer.from(`${texts.join('\n')}\n`), lines: texts.length, http, malformed, markers });
    texts = [];
    size = 0;
    http = 0;
    malformed = 0;
    markers = [];
  };
  for (const line of lines) {
    texts.push(line.text);
    size += line.text.length + 1;
    if (line.http) http++;
    if (line.malformed === true) malformed++;
    if (line.marker !== undefined) markers.push(line.marker);
    if (size >= chunkBytes) flush();
  }
  flush();
  return chunks;
}

function procfsLine(c: Connection): string {
  const packets = 3 + 10 * c.transactions;
  const bytes = 180 + 900 * c.transactions;
  const replyPackets = 2 + 9 * c.transactions;
  const replyBytes = 120 + 1400 * c.transactions;
  const original = `src=${c.client} dst=${c.server} sport=${c.clientPort} dport=${c.serverPort} packets=${packets} bytes=${bytes}`;
  const reply = `src=${c.server} dst=${c.client} sport=${c.serverPort} dport=${c.clientPort} packets=${replyPackets} bytes=${replyBytes}`;
  return c.kind === 'dns'
    ? `ipv4     2 udp      17 29 ${original} ${reply} [ASSURED] mark=0 zone=0 delta-time=5 use=2`
    : `ipv4     2 tcp      6 431999 ESTABLISHED ${original} ${reply} [ASSURED] mark=0 zone=0 delta-time=5 use=2`;
}

/** Suricata's timestamp form, to the microsecond, in UTC. */
function timestamp(): string {
  const us = Math.round((performance.timeOrigin + performance.now()) * 1000);
  const iso = new Date(Math.floor(us / 1000)).toISOString(); // 2026-11-26T10:15:02.125Z
  return `${iso.slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}+0000`;
}
