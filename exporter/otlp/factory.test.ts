import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../config/load.js';
import { createTestKit } from '../../test/support/components.js';
import { defaultConfig } from '../../pipeline/component.js';
import { otlpExporterFactory } from './factory.js';

const pipeline = `
service: { pipelines: { flows: { receivers: [test_source], processors: [test_join], exporters: [otlp] } } }`;

/** Loads `section` as `exporters.otlp` through the real loader; returns the config or the problems. */
function load(section: string, env: Record<string, string> = {}) {
  const text = `receivers: { test_source: }\nprocessors: { test_join: }\nexporters:\n  otlp: ${section}\n${pipeline}`;
  const result = parseConfig(text, { factories: createTestKit().factories, env });
  return result.ok
    ? { config: result.config.exporters.get('otlp')?.config, problems: [] }
    : { problems: result.problems };
}

describe('otlp exporter configuration', () => {
  it('defaults to the collector exporter defaults', () => {
    expect(defaultConfig(otlpExporterFactory)).toEqual({
      endpoint: 'localhost:4317',
      tls: { insecure: false, ca_file: '', cert_file: '', key_file: '', server_name: '' },
      compression: 'gzip',
      headers: {},
      signals: ['traces', 'logs'],
      timeout: 5000,
      queue: { size: 10_000, overflow: 'drop_newest', num_consumers: 10 },
      batch: { send_batch_size: 1024, timeout: 200 },
      retry_on_failure: {
        enabled: true,
        initial_interval: 5000,
        max_interval: 30_000,
        max_elapsed_time: 300_000,
        multiplier: 1.5,
        randomization_factor: 0.5,
      },
      node_name: '',
      service_name_label: '',
      routes: [],
      headers_allowlist: { request: [], response: [] },
      unattributed_spans: 'server',
    });
  });

  it('takes header values from the environment', () => {
    const { config, problems } = load(
      '{ endpoint: "collector:4317", headers: { authorization: "Bearer ${env:OTLP_TOKEN}" } }',
      { OTLP_TOKEN: 's3cret' },
    );
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ endpoint: 'collector:4317', headers: { authorization: 'Bearer s3cret' } });
  });

  it.each([
    ['{ endpoint: "collector" }', 'exporters.otlp.endpoint: must be host:port or [ipv6]:port (got "collector")'],
    ['{ compression: zstd }', 'exporters.otlp.compression: must be one of gzip, none (got "zstd")'],
    ['{ signals: [metrics] }', 'exporters.otlp.signals[0]: must be one of traces, logs (got "metrics")'],
    ['{ signals: [] }', 'exporters.otlp.signals: must have at least 1 entries'],
    ['{ signals: [logs, logs] }', 'exporters.otlp.signals: lists a signal twice'],
    [
      '{ tls: { insecure: true, ca_file: /ca.pem } }',
      'exporters.otlp.tls.ca_file: cannot be set when tls.insecure is true',
    ],
    ['{ tls: { cert_file: /c.pem } }', 'exporters.otlp.tls.key_file: cert_file and key_file go together'],
    ['{ tls: { insecure: yes } }', 'exporters.otlp.tls.insecure: must be true or false (got "yes")'],
    [
      '{ retry_on_failure: { initial_interval: 10s, max_interval: 1s } }',
      'exporters.otlp.retry_on_failure.max_interval: must be at least initial_interval',
    ],
    [
      '{ retry_on_failure: { max_elapsed_time: 5 } }',
      'exporters.otlp.retry_on_failure.max_elapsed_time: must be a duration such as 500ms, 5s or 1m (got 5)',
    ],
    [
      '{ batch: { send_batch_size: 20 }, queue: { size: 10 } }',
      'exporters.otlp.batch.send_batch_size: must not exceed queue.size (10)',
    ],
    [
      '{ headers: { Authorization: x } }',
      'exporters.otlp.headers.Authorization: must be a lower-case gRPC metadata key',
    ],
    ['{ headers: { trace-bin: x } }', 'exporters.otlp.headers.trace-bin: must be a lower-case gRPC metadata key'],
    ['{ routes: ["users/{id}"] }', 'exporters.otlp.routes[0]: must start with "/"'],
    [
      '{ headers_allowlist: { request: ["content type"] } }',
      'exporters.otlp.headers_allowlist.request[0]: not an HTTP header name',
    ],
    ['{ unattributed_spans: client }', 'exporters.otlp.unattributed_spans: must be one of server, none (got "client")'],
    ['{ queue: { sizee: 5 } }', 'exporters.otlp.queue.sizee: unknown key (did you mean "size"?)'],
  ])('reports %s', (section, message) => {
    const { problems } = load(section);
    expect(
      problems.some((p) => p.startsWith(message)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('keeps its own queue apart from the sending_queue every exporter has', () => {
    const { config, problems } = load(
      '{ queue: { size: 5 }, batch: { send_batch_size: 5 }, sending_queue: { queue_size: 7 } }',
    );
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ queue: { size: 5 } });
  });
});
