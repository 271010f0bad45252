import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { markerPrefix } from './perf-workload.js';

/**
 * Collectors for load tests: they count what arrives and note when each latency marker
 * (`lat=<n>`, see perf-workload.ts) first arrives, without decoding whole messages, so that
 * they cost little next to the agent. The IPFIX sink receives UDP; the OTLP sink serves the
 * two OTLP/gRPC Export methods and counts spans and log records by walking the protobuf
 * framing (ExportTraceServiceRequest and ExportLogsServiceRequest share the shape
 * 1 resource_* -> 2 scope_* -> 2 item).
 */

/** Milliseconds on the system-wide monotonic clock: comparable between processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** When each marker first arrived, in monotonicMs. */
export type MarkerArrivals = Map<number, number>;

/** Adds the markers found in `bytes` (first arrival wins). */
export function noteMarkers(bytes: Buffer, arrivals: MarkerArrivals, now: number): void {
  for (let at = bytes.indexOf(markerPrefix); at >= 0; at = bytes.indexOf(markerPrefix, at + 1)) {
    let value = 0;
    let digits = 0;
    for (let i = at + markerPrefix.length; i < bytes.length; i++) {
      const c = bytes[i] as number;
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
      digits++;
    }
    if (digits > 0 && !arrivals.has(value)) arrivals.set(value, now);
  }
}

/** Reads a protobuf varint at `at`; returns [value, next offset]. */
function varint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    const b = bytes[i] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error('truncated varint');
}

/** Calls `visit(start, end)` for every length-delimited field numbered `field` in bytes[from, to). */
function eachField(
  bytes: Buffer,
  from: number,
  to: number,
  field: number,
  visit: (start: number, end: number) => void,
) {
  let at = from;
  while (at < to) {
    const [tag, afterTag] = varint(bytes, at);
    const wire = tag & 7;
    at = afterTag;
    if (wire === 2) {
      const [length, start] = varint(bytes, at);
      if (tag >>> 3 === field) visit(start, start + length);
      at = start + length;
    } else if (wire === 0) at = varint(bytes, at)[1];
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
}

/** Items (spans or log records) in an OTLP Export request. */
export function countOtlpItems(bytes: Buffer): number {
  let items = 0;
  eachField(bytes, 0, bytes.length, 1, (rs, re) =>
    eachField(bytes, rs, re, 2, (ss, se) =>
      eachField(bytes, ss, se, 2, () => {
        items++;
      }),
    ),
  );
  return items;
}

const exportPaths = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
} as const;

export interface SinkCounts {
  readonly spans: number;
  readonly logs: number;
  readonly ipfixDatagrams: number;
  readonly ipfixBytes: number;
}

/** The OTLP/gRPC and IPFIX/UDP sinks of one run. */
export class PerfSinks {
  readonly otlpMarkers: MarkerArrivals = new Map();
  readonly ipfixMarkers: MarkerArrivals = new Map();
  #spans = 0;
  #logs = 0;
  #datagrams = 0;
  #bytes = 0;

  private constructor(
    private readonly grpc: Server,
    private readonly udp: UdpSocket,
    readonly otlpEndpoint: string,
    readonly ipfixEndpoint: string,
  ) {}

  static async start(): Promise<PerfSinks> {
    const grpc = new Server();
    const udp = createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
    const holder: { sinks?: PerfSinks } = {};
    const identity = (bytes: Buffer) => bytes;
    for (const signal of ['traces', 'logs'] as const) {
      grpc.addService(
        {
          Export: {
            path: exportPaths[signal],
            requestStream: false,
            responseStream: false,
            requestSerialize: identity,
            requestDeserialize: identity,
            responseSerialize: identity,
            responseDeserialize: identity,
          },
        },
        {
          Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
            holder.sinks?.otlpRequest(signal, call.request);
            callback(null, Buffer.alloc(0)); // an empty Export*ServiceResponse
          },
        },
      );
    }
    const port = await new Promise<number>((resolve, reject) =>
      grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    udp.on('message', (datagram) => holder.sinks?.ipfixDatagram(datagram));
    holder.sinks = new PerfSinks(grpc, udp, `127.0.0.1:${port}`, `127.0.0.1:${udp.address().port}`);
    return holder.sinks;
  }

  get counts(): SinkCounts {
    return { spans: this.#spans, logs: this.#logs, ipfixDatagrams: this.#datagrams, ipfixBytes: this.#bytes };
  }

  async close(): Promise<void> {
    this.grpc.forceShutdown();
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
  }

  /** One OTLP Export request (called by the gRPC handler). */
  otlpRequest(signal: 'traces' | 'logs', request: Buffer): void {
    const items = countOtlpItems(request);
    if (signal === 'traces') {
      this.#spans += items;
      noteMarkers(request, this.otlpMarkers, monotonicMs());
    } else {
      this.#logs += items;
    }
  }

  /** One IPFIX datagram (called by the UDP socket). */
  ipfixDatagram(datagram: Buffer): void {
    this.#datagrams++;
    this.#bytes += datagram.length;
    noteMarkers(datagram, this.ipfixMarkers, monotonicMs());
  }
}
