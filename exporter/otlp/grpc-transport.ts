import { readFile } from 'node:fs/promises';
import { checkServerIdentity } from 'node:tls';
import { credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { parseHostPort, formatHostPort } from '../../config/address.js';
import { grpcCodeName, statusVerdict } from './grpc-status.js';
import type { AttemptOutcome, Transmit } from './sender.js';

export interface GrpcSettings {
  /** `host:port`. */
  readonly endpoint: string;
  readonly tls: {
    readonly insecure: boolean;
    readonly ca_file: string;
    readonly cert_file: string;
    readonly key_file: string;
    readonly server_name: string;
  };
  readonly compression: 'gzip' | 'none';
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Prepended to the OTel exporter's user agent. */
  readonly userAgent: string;
}

type ExporterOptions = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;

/** The two OTLP/gRPC senders, one per signal, and how to close them. */
export interface OtlpTransports {
  readonly traces: Transmit<ReadableSpan>;
  readonly logs: Transmit<ReadableLogRecord>;
  /** Waits for RPCs in flight (each bounded by the timeout), then closes the channels. */
  shutdown(): Promise<void>;
}

/**
 * Builds the OpenTelemetry JS OTLP/gRPC exporters, used as wire encoders and senders only: our
 * Sender owns queueing and retry, since these exporters never retry (reference/otel.md §1.9).
 * Everything is given explicitly, and OTEL_EXPORTER_OTLP_* variables are hidden while they are
 * built, because the exporters would otherwise merge headers from them into ours (§1.8): the
 * YAML configuration is the only source of settings. Reads the TLS files; rejects with a
 * message naming the file when one cannot be read.
 */
export async function openGrpcTransports(settings: GrpcSettings): Promise<OtlpTransports> {
  const channelCredentials = await channelCredentialsFor(settings.tls);
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(settings.headers)) metadata.set(key, value);
  const address = parseHostPort(settings.endpoint);
  const url = `${settings.tls.insecure ? 'http' : 'https'}://${address ? formatHostPort(address) : settings.endpoint}`;
  const options: ExporterOptions = {
    url,
    credentials: channelCredentials,
    metadata,
    // The exporters' CompressionAlgorithm enum has exactly these two string values.
    compression: settings.compression as ExporterOptions['compression'],
    timeoutMillis: settings.timeoutMs,
    userAgent: settings.userAgent,
  };
  const [traces, logs] = withoutOtlpEnvironment(() => [new OTLPTraceExporter(options), new OTLPLogExporter(options)]);
  return {
    // The exporters neither keep nor change the array (their signature is merely not readonly).
    traces: (batch) => attempt((done) => traces.export(batch as ReadableSpan[], done)),
    logs: (batch) => attempt((done) => logs.export(batch as ReadableLogRecord[], done)),
    shutdown: async () => {
      await Promise.all([traces.shutdown(), logs.shutdown()]);
    },
  };
}

async function channelCredentialsFor(tls: GrpcSettings['tls']): Promise<ChannelCredentials> {
  if (tls.insecure) return credentials.createInsecure();
  const read = async (path: string, what: string) => {
    if (path === '') return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      throw new Error(`cannot read tls.${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
        cause: error,
      });
    }
  };
  const [ca, cert, key] = await Promise.all([
    read(tls.ca_file, 'ca_file'),
    read(tls.cert_file, 'cert_file'),
    read(tls.key_file, 'key_file'),
  ]);
  // server_name checks the certificate against that name instead of the endpoint's host
  // (the channel still sends the endpoint host as SNI: the OTel exporter takes no channel options).
  const verify =
    tls.server_name === ''
      ? {}
      : {
          checkServerIdentity: (_host: string, certificate: Parameters<typeof checkServerIdentity>[1]) =>
            checkServerIdentity(tls.server_name, certificate),
        };
  return credentials.createSsl(ca ?? null, key ?? null, cert ?? null, verify);
}

/** Runs `build` with every OTEL_EXPORTER_OTLP_* variable hidden (synchronously, so nothing else sees it). */
function withoutOtlpEnvironment<T>(build: () => T): T {
  const hidden = Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_EXPORTER_OTLP_'));
  for (const [name] of hidden) delete process.env[name];
  try {
    return build();
  } finally {
    for (const [name, value] of hidden) process.env[name] = value;
  }
}

function attempt(send: (done: (result: ExportResult) => void) => void): Promise<AttemptOutcome> {
  return new Promise((resolve) => send((result) => resolve(outcomeOf(result))));
}

/** A gRPC ServiceError carries `code`, `details` and the trailers in `metadata`. */
interface GrpcFailure extends Error {
  readonly code?: unknown;
  readonly details?: unknown;
  readonly metadata?: Metadata;
}

function outcomeOf(result: ExportResult): AttemptOutcome {
  if (result.code === ExportResultCode.SUCCESS) return { ok: true };
  const error: GrpcFailure | undefined = result.error;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const statusDetails = error?.metadata?.get('grpc-status-details-bin')[0];
  const verdict = statusVerdict(code, statusDetails instanceof Uint8Array ? statusDetails : undefined);
  const message = typeof error?.details === 'string' ? error.details : (error?.message ?? 'export failed');
  return { ok: false, ...verdict, code: grpcCodeName(code), message };
}
