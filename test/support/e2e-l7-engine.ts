import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { stopChild } from './e2e-topology.js';

/**
 * The end-to-end test's stand-in for Suricata (not packaged here): it captures the mirror's
 * target port live with tshark's HTTP dissector, pairs every response with its request and
 * writes one EVE `http` event per transaction, in Suricata's format, to l7flow's Unix socket,
 * as Suricata's `eve-log` output with `filetype: unix_stream` does. It sees only what the
 * mirror copies, so without a working mirror l7flow gets nothing.
 *
 * Like Suricata: src is the client (the side that sent the request), tx_id counts the
 * transactions of a TCP connection from 0, a transaction is logged when its response has been
 * seen, with that packet's time; flow_id identifies the connection (here tshark's stream index
 * plus a random base, so two runs never share ids). Simplifications, enough for the test's
 * traffic: `length` is the response's Content-Length (0 without one; the test servers always
 * send it), and pipelined requests (several HTTP messages in one packet) are reported as a
 * problem rather than dissected.
 */

/** The tshark fields read from every HTTP packet. */
const fields = [
  'frame.number',
  'frame.time_epoch',
  'tcp.stream',
  'ip.src',
  'tcp.srcport',
  'ip.dst',
  'tcp.dstport',
  'http.request.method',
  'http.request.uri',
  'http.request.version',
  'http.host',
  'http.user_agent',
  'http.response.code',
  'http.request_in',
  'http.content_type',
  'http.content_length_header',
] as const;

/** One HTTP message as tshark dissected it. */
export interface HttpPacket {
  readonly frame: number;
  /** `frame.time_epoch` as printed: seconds with a nanosecond fraction. */
  readonly time: string;
  readonly stream: number;
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  readonly request?: {
    readonly method: string;
    readonly uri: string;
    readonly version: string;
    readonly host?: string;
    readonly userAgent?: string;
  };
  readonly response?: {
    readonly status: number;
    readonly requestFrame: number;
    readonly contentType?: string;
    readonly contentLength?: number;
  };
}

/** An EVE `http` event, keys in the order Suricata 7 writes them. */
export interface EveHttpEvent {
  readonly timestamp: string;
  readonly flow_id: number;
  readonly in_iface: string;
  readonly event_type: 'http';
  readonly src_ip: string;
  readonly src_port: number;
  readonly dest_ip: string;
  readonly dest_port: number;
  readonly proto: 'TCP';
  readonly pkt_src: 'wire/pcap';
  readonly tx_id: number;
  readonly http: {
    readonly hostname?: string;
    readonly http_port?: number;
    readonly url: string;
    readonly http_user_agent?: string;
    readonly http_content_type?: string;
    readonly http_method: string;
    readonly protocol: string;
    readonly status: number;
    readonly length: number;
  };
}

/**
 * Reads one line of `tshark -T ek -e ...` output: undefined for the bulk-index lines, an error
 * text for a packet this stand-in cannot use.
 */
export function readEkLine(line: string): HttpPacket | string | undefined {
  let document: { layers?: Record<string, unknown> };
  try {
    document = JSON.parse(line) as typeof document;
  } catch {
    return `not JSON: ${line.slice(0, 200)}`;
  }
  const layers = document.layers;
  if (layers === undefined) return undefined;
  const values = (name: (typeof fields)[number]): string[] => {
    const value = layers[name.replace(/\./g, '_')];
    return Array.isArray(value) ? value.map(String) : [];
  };
  const one = (name: (typeof fields)[number]) => values(name)[0];
  if (values('http.request.method').length + values('http.response.code').length !== 1)
    return `frame ${one('frame.number')}: not exactly one HTTP message`;
  const base = {
    frame: Number(one('frame.number')),
    time: one('frame.time_epoch') ?? '',
    stream: Number(one('tcp.stream')),
    srcIp: one('ip.src') ?? '',
    srcPort: Number(one('tcp.srcport')),
    dstIp: one('ip.dst') ?? '',
    dstPort: Number(one('tcp.dstport')),
  };
  const optional = <K extends string>(key: K, value: string | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
  const method = one('http.request.method');
  if (method !== undefined)
    return {
      ...base,
      request: {
        method,
        uri: one('http.request.uri') ?? '',
        version: one('http.request.version') ?? '',
        ...optional('host', one('http.host')),
        ...optional('userAgent', one('http.user_agent')),
      },
    };
  const length = one('http.content_length_header');
  return {
    ...base,
    response: {
      status: Number(one('http.response.code')),
      requestFrame: Number(one('http.request_in')),
      ...optional('contentType', one('http.content_type')),
      ...(length === undefined ? {} : { contentLength: Number(length) }),
    },
  };
}

/** `seconds.fraction` (epoch) as Suricata writes timestamps: microseconds, UTC offset `+0000`. */
export function suricataTimestamp(epoch: string): string {
  const [seconds = '0', fraction = ''] = epoch.split('.');
  const date = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${date}.${fraction.padEnd(6, '0').slice(0, 6)}+0000`;
}

/** Pairs requests and responses per TCP stream into EVE events. Pure: no I/O, no clock. */
export class TransactionPairer {
  readonly #requests = new Map<number, { packet: HttpPacket; txId: number }>();
  readonly #nextTxId = new Map<number, number>();

  constructor(
    private readonly flowIdBase: number,
    private readonly iface: string,
  ) {}

  /** Takes one HTTP packet; returns the event it completes, or an error text. */
  add(packet: HttpPacket): EveHttpEvent | string | undefined {
    if (packet.request) {
      const txId = this.#nextTxId.get(packet.stream) ?? 0;
      this.#nextTxId.set(packet.stream, txId + 1);
      this.#requests.set(packet.frame, { packet, txId });
      return undefined;
    }
    const response = packet.response;
    if (!response) return undefined;
    const pending = this.#requests.get(response.requestFrame);
    if (!pending || pending.packet.stream !== packet.stream)
      return `frame ${packet.frame}: a response to frame ${response.requestFrame}, which is no request seen`;
    this.#requests.delete(response.requestFrame);
    const request = pending.packet;
    const http = request.request!;
    // Suricata: hostname is the Host header without its port, which goes to http_port.
    const hostPort = /^(.*?)(?::(\d+))?$/.exec(http.host ?? '');
    return {
      timestamp: suricataTimestamp(packet.time),
      flow_id: this.flowIdBase + packet.stream,
      in_iface: this.iface,
      event_type: 'http',
      src_ip: request.srcIp,
      src_port: request.srcPort,
      dest_ip: request.dstIp,
      dest_port: request.dstPort,
      proto: 'TCP',
      pkt_src: 'wire/pcap',
      tx_id: pending.txId,
      http: {
        ...(http.host === undefined ? {} : { hostname: hostPort?.[1] ?? http.host }),
        ...(hostPort?.[2] === undefined ? {} : { http_port: Number(hostPort[2]) }),
        url: http.uri,
        ...(http.userAgent === undefined ? {} : { http_user_agent: http.userAgent }),
        ...(response.contentType === undefined ? {} : { http_content_type: response.contentType }),
        http_method: http.method,
        protocol: http.version,
        status: response.status,
        length: response.contentLength ?? 0,
      },
    };
  }
}

/** The running stand-in: tshark on the target port, events written to l7flow's socket. */
export class StandInL7Engine {
  /** Every event written, in order. */
  readonly events: EveHttpEvent[] = [];
  /** Anything that went wrong (the test asserts there is nothing). */
  readonly problems: string[] = [];
  #socket: Socket | undefined;
  #stderr = '';

  private constructor(private readonly tshark: ChildProcess) {}

  /**
   * Captures `iface` (dissecting `httpPort` as HTTP); resolves once tshark reports that the
   * capture runs. Events are written once connect() has connected to l7flow's socket.
   */
  static async start(options: { iface: string; httpPort: number }): Promise<StandInL7Engine> {
    const tshark = spawn(
      'tshark',
      [
        '-i',
        options.iface,
        '-n',
        '-l',
        '-f',
        'tcp',
        '-d',
        `tcp.port==${options.httpPort},http`,
        '-Y',
        'http',
        '-T',
        'ek',
        ...fields.flatMap((field) => ['-e', field]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const engine = new StandInL7Engine(tshark);
    const pairer = new TransactionPairer(randomInt(1, 2 ** 20) * 2 ** 24, options.iface);
    createInterface({ input: tshark.stdout }).on('line', (line) => engine.#read(pairer, line));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`tshark did not start: ${engine.#stderr}`)), 15_000);
        tshark.stderr.on('data', (chunk: Buffer) => {
          engine.#stderr += chunk.toString();
          if (engine.#stderr.includes('Capture started')) {
            clearTimeout(timer);
            resolve();
          }
        });
        tshark.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`tshark exited (${code}): ${engine.#stderr}`));
        });
      });
    } catch (error) {
      await engine.stop();
      throw error;
    }
    return engine;
  }

  /** Connects to l7flow's EVE socket, as Suricata's `unix_stream` output does (Suricata is the client). */
  async connect(socketPath: string): Promise<void> {
    this.#socket = await new Promise<Socket>((resolve, reject) => {
      const socket = connect(socketPath, () => resolve(socket));
      socket.once('error', reject);
    });
    this.#socket.on('error', (error) => this.problems.push(`socket: ${error.message}`));
  }

  /** Events written for the connection whose client is `srcIp:srcPort`. */
  eventsOf(srcIp: string, srcPort: number): EveHttpEvent[] {
    return this.events.filter((e) => e.src_ip === srcIp && e.src_port === srcPort);
  }

  async stop(): Promise<void> {
    await stopChild(this.tshark);
    this.#socket?.destroy();
  }

  #read(pairer: TransactionPairer, line: string): void {
    const packet = readEkLine(line);
    if (packet === undefined) return;
    const result = typeof packet === 'string' ? packet : pairer.add(packet);
    if (typeof result === 'string') this.problems.push(result);
    else if (result === undefined) return;
    else if (!this.#socket)
      this.problems.push(`an event before l7flow's socket was connected: ${JSON.stringify(result)}`);
    else {
      this.events.push(result);
      this.#socket.write(`${JSON.stringify(result)}\n`);
    }
  }
}
