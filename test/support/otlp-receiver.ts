import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * A real OTLP/gRPC receiver for tests: grpc-js serves the two Export methods with identity
 * (de)serialisers and protobufjs decodes the bytes the exporter actually sent, using the OTLP
 * .proto files shipped by @elastic/mockotlpserver (opentelemetry-proto v1.4.0). v1.4.0 lacks
 * LogRecord.event_name, so field 12 is added at load (it arrived in proto v1.5.0).
 *
 * Failure injection: fail(signal, n, code) answers the next n requests with a status; hang(signal, n)
 * never answers the next n (the client's deadline ends them). Listens on 127.0.0.1:0.
 */

export type OtlpSignal = 'traces' | 'logs';

/** An AnyValue as protobufjs renders it: `{ stringValue }`, `{ intValue: '200' }`, `{ arrayValue: { values } }`... */
export type AnyValue = Record<string, unknown>;

export interface ReceivedSpan {
  readonly resource: Record<string, AnyValue>;
  /** Index of the ResourceSpans the span came in, within its request. */
  readonly resourceIndex: number;
  readonly request: number;
  readonly scope: { readonly name: string; readonly version?: string };
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly flags: number;
  readonly name: string;
  /** OTLP enum: 2 SERVER, 3 CLIENT. */
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: Record<string, AnyValue>;
  /** OTLP enum: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code?: number; readonly message?: string };
}

export interface ReceivedLog {
  readonly resource: Record<string, AnyValue>;
  readonly resourceIndex: number;
  readonly request: number;
  readonly scope: { readonly name: string; readonly version?: string };
  readonly timeUnixNano: string;
  readonly observedTimeUnixNano: string;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: AnyValue;
  readonly eventName?: string;
  readonly attributes: Record<string, AnyValue>;
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: number;
}

export interface ReceivedRequest {
  readonly signal: OtlpSignal;
  readonly metadata: Readonly<Record<string, string[]>>;
  /** What the handler answered: OK, or the injected status name. */
  readonly answer: string;
}

type Action = { readonly kind: 'fail'; readonly code: status; readonly trailer?: Metadata } | { readonly kind: 'hang' };

export interface OtlpReceiverOptions {
  /** Serve TLS with this key and certificate; with `clientCa`, require a client certificate signed by it. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly clientCa?: Buffer };
  /** Skip decoding (benchmarks): requests are only counted. */
  readonly decode?: boolean;
}

const protoRoot = join(dirname(createRequire(import.meta.url).resolve('@elastic/mockotlpserver/package.json')));

let cachedTypes: Promise<{ traces: protobuf.Type; logs: protobuf.Type }> | undefined;

function otlpTypes() {
  cachedTypes ??= (async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(protoRoot, target);
    await root.load(
      [
        'opentelemetry/proto/collector/trace/v1/trace_service.proto',
        'opentelemetry/proto/collector/logs/v1/logs_service.proto',
      ],
      { keepCase: false },
    );
    root.lookupType('opentelemetry.proto.logs.v1.LogRecord').add(new protobuf.Field('eventName', 12, 'string'));
    root.resolveAll();
    return {
      traces: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
      logs: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
    };
  })();
  return cachedTypes;
}

const paths: Readonly<Record<OtlpSignal, string>> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const identity = (bytes: Buffer) => bytes;

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  readonly requests: ReceivedRequest[] = [];
  /** Items received per signal (counted from the request sizes when decoding is off, else decoded). */
  readonly received: Record<OtlpSignal, number> = { traces: 0, logs: 0 };
  readonly #actions: Record<OtlpSignal, Action[]> = { traces: [], logs: [] };
  readonly #hanging: sendUnaryData<Buffer>[] = [];
  readonly #waiters = new Set<() => void>();
  #requestCount = 0;

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly types: { traces: protobuf.Type; logs: protobuf.Type } | undefined,
  ) {}

  static async start(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
    const types = options.decode === false ? undefined : await otlpTypes();
    const server = new Server();
    // Handlers are registered before the receiver exists (it needs the bound port).
    const bound: { receiver?: OtlpReceiver } = {};
    for (const signal of ['traces', 'logs'] as const) {
      const definition: ServiceDefinition = {
        Export: {
          path: paths[signal],
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      };
      server.addService(definition, {
        Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) =>
          bound.receiver?.handle(signal, call, callback),
      });
    }
    const credentials = options.tls
      ? ServerCredentials.createSsl(
          options.tls.clientCa ?? null,
          [{ private_key: options.tls.key, cert_chain: options.tls.cert }],
          options.tls.clientCa !== undefined,
        )
      : ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    bound.receiver = new OtlpReceiver(server, `127.0.0.1:${port}`, types);
    return bound.receiver;
  }

  /** Answers the next `count` requests of `signal` with `code`, optionally with trailers. */
  fail(signal: OtlpSignal, count: number, code: status, trailer?: Metadata): void {
    for (let i = 0; i < count; i++) this.#actions[signal].push({ kind: 'fail', code, ...(trailer ? { trailer } : {}) });
  }

  /** Leaves the next `count` requests of `signal` unanswered. */
  hang(signal: OtlpSignal, count: number): void {
    for (let i = 0; i < count; i++) this.#actions[signal].push({ kind: 'hang' });
  }

  /** Resolves once `predicate` holds, checked after every request; rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`receiver: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  async close(): Promise<void> {
    for (const callback of this.#hanging.splice(0)) callback({ code: status.UNAVAILABLE, details: 'receiver closing' });
    this.server.forceShutdown();
    return Promise.resolve();
  }

  private handle(signal: OtlpSignal, call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
    const action = this.#actions[signal].shift();
    const metadata = Object.fromEntries(
      Object.entries(call.metadata.getMap()).map(([key]) => [key, call.metadata.get(key).map(String)]),
    );
    const answer = action === undefined ? 'OK' : action.kind === 'hang' ? 'HANG' : status[action.code];
    this.requests.push({ signal, metadata, answer });
    if (action?.kind === 'hang') {
      this.#hanging.push(callback);
    } else if (action?.kind === 'fail') {
      callback({
        code: action.code,
        details: `injected ${status[action.code]}`,
        ...(action.trailer ? { metadata: action.trailer } : {}),
      });
    } else {
      this.#accept(signal, call.request);
      // An empty Export*ServiceResponse encodes to zero bytes.
      callback(null, Buffer.alloc(0));
    }
    for (const waiter of [...this.#waiters]) waiter();
  }

  #accept(signal: OtlpSignal, bytes: Buffer): void {
    const request = this.#requestCount++;
    if (!this.types) {
      this.received[signal]++;
      return;
    }
    const decoded = this.types[signal].toObject(this.types[signal].decode(bytes), {
      longs: String,
      bytes: Buffer,
      defaults: false,
    }) as DecodedRequest;
    if (signal === 'traces') {
      (decoded.resourceSpans ?? []).forEach((rs, resourceIndex) => {
        for (const ss of rs.scopeSpans ?? [])
          for (const span of ss.spans ?? []) {
            this.spans.push({
              resource: attributeMap(rs.resource?.attributes),
              resourceIndex,
              request,
              scope: scopeOf(ss.scope),
              traceId: hex(span.traceId),
              spanId: hex(span.spanId),
              parentSpanId: hex(span.parentSpanId),
              flags: span.flags ?? 0,
              name: span.name ?? '',
              kind: span.kind ?? 0,
              startTimeUnixNano: span.startTimeUnixNano ?? '0',
              endTimeUnixNano: span.endTimeUnixNano ?? '0',
              attributes: attributeMap(span.attributes),
              status: span.status ?? {},
            });
            this.received.traces++;
          }
      });
    } else {
      (decoded.resourceLogs ?? []).forEach((rl, resourceIndex) => {
        for (const sl of rl.scopeLogs ?? [])
          for (const log of sl.logRecords ?? []) {
            this.logs.push({
              resource: attributeMap(rl.resource?.attributes),
              resourceIndex,
              request,
              scope: scopeOf(sl.scope),
              timeUnixNano: log.timeUnixNano ?? '0',
              observedTimeUnixNano: log.observedTimeUnixNano ?? '0',
              ...(log.severityNumber !== undefined ? { severityNumber: log.severityNumber } : {}),
              ...(log.severityText !== undefined ? { severityText: log.severityText } : {}),
              ...(log.body !== undefined ? { body: log.body } : {}),
              ...(log.eventName !== undefined ? { eventName: log.eventName } : {}),
              attributes: attributeMap(log.attributes),
              traceId: hex(log.traceId),
              spanId: hex(log.spanId),
              flags: log.flags ?? 0,
            });
            this.received.logs++;
          }
      });
    }
  }
}

interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface DecodedScope {
  name?: string;
  version?: string;
}
interface DecodedRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: DecodedScope;
      spans?: {
        traceId?: Buffer;
        spanId?: Buffer;
        parentSpanId?: Buffer;
        flags?: number;
        name?: string;
        kind?: number;
        startTimeUnixNano?: string;
        endTimeUnixNano?: string;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] };
    scopeLogs?: {
      scope?: DecodedScope;
      logRecords?: {
        timeUnixNano?: string;
        observedTimeUnixNano?: string;
        severityNumber?: number;
        severityText?: string;
        body?: AnyValue;
        eventName?: string;
        attributes?: KeyValue[];
        traceId?: Buffer;
        spanId?: Buffer;
        flags?: number;
      }[];
    }[];
  }[];
}

function attributeMap(list: readonly KeyValue[] | undefined): Record<string, AnyValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, kv.value ?? {}]));
}

function scopeOf(scope: DecodedScope | undefined) {
  return { name: scope?.name ?? '', ...(scope?.version !== undefined ? { version: scope.version } : {}) };
}

function hex(bytes: Buffer | undefined): string {
  return bytes === undefined ? '' : bytes.toString('hex');
}

/** `grpc-status-details-bin` carrying a google.rpc.RetryInfo, encoded with protobufjs (independently of the exporter's decoder). */
export function retryInfoTrailer(delayMs: number): Metadata {
  const root = protobuf.Root.fromJSON({
    nested: {
      Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
      Status: {
        fields: {
          code: { type: 'int32', id: 1 },
          message: { type: 'string', id: 2 },
          details: { rule: 'repeated', type: 'Any', id: 3 },
        },
      },
      Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
      RetryInfo: { fields: { retryDelay: { type: 'Duration', id: 1 } } },
    },
  });
  const retryInfo = root.lookupType('RetryInfo');
  const info = retryInfo
    .encode(
      retryInfo.fromObject({
        retryDelay: { seconds: Math.floor(delayMs / 1000), nanos: (delayMs % 1000) * 1_000_000 },
      }),
    )
    .finish();
  const statusType = root.lookupType('Status');
  const bytes = statusType
    .encode(
      statusType.fromObject({
        code: status.RESOURCE_EXHAUSTED,
        message: 'slow down',
        details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: info }],
      }),
    )
    .finish();
  const trailer = new Metadata();
  trailer.set('grpc-status-details-bin', Buffer.from(bytes));
  return trailer;
}

/** One gRPC message as it crossed the wire (gRPC over HTTP/2, "Length-Prefixed-Message"). */
export interface CapturedFrame {
  readonly path: string;
  /** The `grpc-encoding` request header. */
  readonly encoding: string | undefined;
  /** The Compressed-Flag byte of the message. */
  readonly compressed: boolean;
  /** The message bytes, gunzipped when compressed. */
  readonly message: Buffer;
}

/**
 * A bare HTTP/2 server that answers every gRPC call with an empty OK response and keeps each
 * request message as sent, to check the wire framing (compression) that grpc-js servers hide.
 */
export async function startFrameCapture(): Promise<{
  endpoint: string;
  frames: CapturedFrame[];
  close(): Promise<void>;
}> {
  const frames: CapturedFrame[] = [];
  const server: Http2Server = createServer();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const compressed = body[0] === 1;
      const payload = body.subarray(5, 5 + body.readUInt32BE(1));
      const encoding = headers['grpc-encoding'];
      frames.push({
        path: String(headers[':path']),
        encoding: typeof encoding === 'string' ? encoding : undefined,
        compressed,
        message: compressed ? gunzipSync(payload) : Buffer.from(payload),
      });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(5));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    frames,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Decodes a captured ExportTraceServiceRequest and returns its span names. */
export async function spanNamesIn(message: Buffer): Promise<string[]> {
  const types = await otlpTypes();
  const decoded = types.traces.toObject(types.traces.decode(message)) as DecodedRequest;
  return (decoded.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((span) => span.name ?? '')),
  );
}
