import { hostname } from 'node:os';
import { z } from 'zod';
import { packageVersion } from '../../config/paths.js';
import { duration, hostPort } from '../../config/schema.js';
import type { ExporterFactory } from '../../pipeline/component.js';
import { overflowPolicies } from '../../pipeline/queue.js';
import { OtlpExporter } from './otlp-exporter.js';
import { routeTemplateProblem } from './routes.js';

const tlsSchema = z
  .strictObject({
    insecure: z.boolean().default(false).describe('Plaintext gRPC, no TLS (the collector also defaults to TLS).'),
    ca_file: z.string().default('').describe('PEM CA certificates that verify the server; "" uses the system roots.'),
    cert_file: z.string().default('').describe('PEM client certificate for mutual TLS; needs key_file.'),
    key_file: z.string().default('').describe('PEM private key of cert_file.'),
    server_name: z
      .string()
      .default('')
      .describe('Name the server certificate must be valid for; "" uses the endpoint host.'),
  })
  .describe('Transport security of the gRPC channel.');

const retrySchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Retry exports that failed with a transient gRPC status.'),
    initial_interval: duration({ min: 1 }).prefault('5s').describe('Wait before the first retry.'),
    max_interval: duration({ min: 1 }).prefault('30s').describe('Upper bound of the wait between retries.'),
    max_elapsed_time: duration()
      .prefault('300s')
      .describe('Give up on a batch (dropped, retries_exhausted) after this long; 0s retries for ever.'),
    multiplier: z.number().min(1).default(1.5).describe('Growth of the wait after each retry.'),
    randomization_factor: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('Jitter: each wait is drawn from interval × [1 − factor, 1 + factor].'),
  })
  .describe('Retries with exponential back-off (the collector exporterhelper defaults).');

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const otlpConfigSchema = z.strictObject({
  endpoint: hostPort().default('localhost:4317').describe('OTLP/gRPC receiver, host:port.'),
  tls: tlsSchema.prefault({}),
  compression: z.enum(['gzip', 'none']).default('gzip').describe('gRPC message compression.'),
  headers: z
    .record(z.string(), z.string())
    .default({})
    .describe('gRPC metadata sent with every export (e.g. authorization: ${env:OTLP_TOKEN}).'),
  signals: z
    .array(z.enum(['traces', 'logs']))
    .min(1)
    .default(['traces', 'logs'])
    .describe('traces: a span per HTTP transaction; logs: an l7flow.flow event per flow record.'),
  timeout: duration({ min: 1 }).prefault('5s').describe('Deadline of one export attempt.'),
  queue: z
    .strictObject({
      size: z.number().int().min(1).default(10_000).describe('Spans, and separately logs, held while sending.'),
      overflow: z.enum(overflowPolicies).default('drop_newest').describe('What a full queue drops.'),
      num_consumers: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(10)
        .describe('Export requests in flight at once per signal, each retried on its own.'),
    })
    .prefault({})
    .describe("The exporter's own queue of mapped items, one per signal, in front of the network."),
  batch: z
    .strictObject({
      send_batch_size: z.number().int().min(1).default(1024).describe('Most items per export request.'),
      timeout: duration({ min: 1 })
        .prefault('200ms')
        .describe('Send a partial batch once its first item waited this long.'),
    })
    .prefault({})
    .describe('How queued items are grouped into export requests.'),
  retry_on_failure: retrySchema.prefault({}),
  node_name: z
    .string()
    .default('')
    .describe('Name of this node in derived trace and span ids (and of the agent resource); "" uses the host name.'),
  service_name_label: z
    .string()
    .default('')
    .describe('Pod label that gives service.name (e.g. app.kubernetes.io/name); else the workload, then the Pod name.'),
  routes: z
    .array(z.string())
    .default([])
    .describe('Route templates such as /users/{id} or /static/*; the first match names the span.'),
  headers_allowlist: z
    .strictObject({
      request: z.array(z.string()).default([]).describe('Request headers recorded as http.request.header.<name>.'),
      response: z.array(z.string()).default([]).describe('Response headers recorded as http.response.header.<name>.'),
    })
    .prefault({})
    .describe('HTTP headers copied onto spans; nothing is copied unless listed (headers may carry secrets).'),
  unattributed_spans: z
    .enum(['server', 'none'])
    .default('server')
    .describe('Transactions with no opted-in Pod: a SERVER span for the destination, or none (counted).'),
});

export type OtlpConfig = z.output<typeof otlpConfigSchema>;

/** gRPC metadata keys: lower-case token characters; `-bin` keys would need binary values. */
const metadataKey = /^[0-9a-z_.-]+$/;

function validate(config: OtlpConfig): string[] {
  const problems: string[] = [];
  const { tls, retry_on_failure: retry } = config;
  if (tls.insecure) {
    for (const key of ['ca_file', 'cert_file', 'key_file', 'server_name'] as const)
      if (tls[key] !== '') problems.push(`tls.${key}: cannot be set when tls.insecure is true`);
  }
  if ((tls.cert_file === '') !== (tls.key_file === ''))
    problems.push(`tls.${tls.cert_file === '' ? 'cert_file' : 'key_file'}: cert_file and key_file go together`);
  if (retry.max_interval < retry.initial_interval)
    problems.push('retry_on_failure.max_interval: must be at least initial_interval');
  if (new Set(config.signals).size !== config.signals.length) problems.push('signals: lists a signal twice');
  if (config.batch.send_batch_size > config.queue.size)
    problems.push(`batch.send_batch_size: must not exceed queue.size (${config.queue.size})`);
  for (const [key] of Object.entries(config.headers)) {
    if (!metadataKey.test(key) || key.endsWith('-bin') || key.startsWith('grpc-'))
      problems.push(
        `headers.${key}: must be a lower-case gRPC metadata key (letters, digits, - _ .), not grpc-* or *-bin`,
      );
  }
  config.routes.forEach((route, i) => {
    const problem = routeTemplateProblem(route);
    if (problem) problems.push(`routes[${i}]: ${problem}`);
  });
  for (const side of ['request', 'response'] as const) {
    config.headers_allowlist[side].forEach((name, i) => {
      if (!headerName.test(name))
        problems.push(`headers_allowlist.${side}[${i}]: not an HTTP header name (got ${JSON.stringify(name)})`);
    });
  }
  return problems;
}

/** Spans per HTTP transaction and logs per flow record, over OTLP/gRPC, with its own queue and retry. */
export const otlpExporterFactory: ExporterFactory<typeof otlpConfigSchema> = {
  kind: 'exporter',
  type: 'otlp',
  configSchema: otlpConfigSchema,
  consumes: ['flow'],
  validate,
  create: (settings, config) =>
    new OtlpExporter(settings, config, {
      nodeName: config.node_name === '' ? hostname() : config.node_name,
      version: packageVersion,
    }),
};
