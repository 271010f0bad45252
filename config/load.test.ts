import { describe, expect, it } from 'vitest';
import { createTestKit } from '../test/support/components.js';
import { parseConfig, type AgentConfig } from './load.js';

const { factories } = createTestKit();

function problemsOf(yaml: string, env: Record<string, string> = {}): string[] {
  const result = parseConfig(yaml, { factories, env, source: 'test.yaml' });
  return result.ok ? [] : result.problems;
}

function configOf(yaml: string, env: Record<string, string> = {}): AgentConfig {
  const result = parseConfig(yaml, { factories, env });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

const minimal = `
receivers: { test_source: }
exporters: { debug: }
service:
  pipelines:
    flows: { receivers: [test_source], exporters: [debug] }
`;

describe('config loading', () => {
  it('accepts a minimal config and fills in every default', () => {
    const config = configOf(minimal);
    expect(config.exporters.get('debug')?.config).toEqual({
      path: '',
      format: 'json',
      max_file_size: 100 * 1024 * 1024,
      max_backups: 3,
    });
    expect(config.exporters.get('debug')?.sendingQueue).toEqual({
      queue_size: 10_000,
      batch_size: 1000,
      overflow: 'drop_newest',
    });
    expect(config.service.shutdown_timeout).toBe(10_000);
    expect(config.service.telemetry).toEqual({
      logs: { level: 'info', encoding: 'json' },
      metrics: { address: '127.0.0.1:9464' },
    });
  });

  it('parses durations, sizes and named component ids', () => {
    const config = configOf(`
receivers: { test_source/a: }
exporters:
  debug/file: { path: /tmp/x.jsonl, max_file_size: 64KiB }
service:
  shutdown_timeout: 1m30s
  pipelines:
    flows: { receivers: [test_source/a], exporters: [debug/file] }
`);
    expect(config.exporters.get('debug/file')?.config).toMatchObject({ max_file_size: 65_536 });
    expect(config.service.shutdown_timeout).toBe(90_000);
  });

  it('expands ${env:VAR}, with defaults, typing whole-value references as YAML does', () => {
    const config = configOf(
      `
receivers: { test_source: }
exporters:
  debug:
    path: \${env:OUT_DIR}/records-\${env:NODE:-node0}.jsonl
    sending_queue: { queue_size: "\${env:QUEUE:-5}" }
service:
  telemetry: { metrics: { address: "\${env:METRICS_ADDR}" } }
  pipelines: { flows: { receivers: [test_source], exporters: [debug] } }
`,
      { OUT_DIR: '/var/l7', METRICS_ADDR: '0.0.0.0:9999' },
    );
    expect(config.exporters.get('debug')?.config).toMatchObject({ path: '/var/l7/records-node0.jsonl' });
    expect(config.exporters.get('debug')?.sendingQueue.queue_size).toBe(5);
    expect(config.service.telemetry.metrics.address).toBe('0.0.0.0:9999');
  });

  it('keeps $${ as a literal ${', () => {
    // split/join rather than replace(), which would read `$$` as an escape itself
    const config = configOf(minimal.split('debug: }').join('debug: { path: "/tmp/$${env:X}" } }'));
    expect(config.exporters.get('debug')?.config).toMatchObject({ path: '/tmp/${env:X}' });
  });
});

describe('config problems, each with its path', () => {
  const cases: { name: string; yaml: string; env?: Record<string, string>; problems: string[] }[] = [
    {
      name: 'a value outside an enumeration',
      yaml: minimal.replace('debug: }', 'debug: { sending_queue: { overflow: drop_all } } }'),
      problems: ['exporters.debug.sending_queue.overflow: must be one of drop_newest, drop_oldest (got "drop_all")'],
    },
    {
      name: 'a value of the wrong type',
      yaml: minimal
        .replace('debug: }', 'debug: , test_sink: { fail: "yes" } }')
        .replace('[debug]', '[debug, test_sink]'),
      problems: ['exporters.test_sink.fail: must be true or false (got "yes")'],
    },
    {
      name: 'a misspelt key, with a suggestion',
      yaml: minimal.replace('debug: }', 'debug: { pth: /tmp/x } }'),
      problems: [
        'exporters.debug.pth: unknown key (did you mean "path"?); allowed keys: path, format, max_file_size, max_backups, sending_queue',
      ],
    },
    {
      name: 'an unknown top-level section',
      yaml: `${minimal}\nextensions: {}\n`,
      problems: ['extensions: unknown key; allowed keys: receivers, processors, exporters, service'],
    },
    {
      name: 'a number where a duration belongs',
      yaml: `${minimal.replace('service:', 'service:\n  shutdown_timeout: 10')}`,
      problems: ['service.shutdown_timeout: must be a duration such as 500ms, 5s or 1m (got 10)'],
    },
    {
      name: 'a duration below its minimum',
      yaml: `${minimal.replace('service:', 'service:\n  shutdown_timeout: 5ms')}`,
      problems: ['service.shutdown_timeout: must be at least 100ms (got "5ms")'],
    },
    {
      name: 'a number below its minimum',
      yaml: minimal.replace('debug: }', 'debug: { sending_queue: { queue_size: 0 } } }'),
      problems: ['exporters.debug.sending_queue.queue_size: must be >= 1 (got 0)'],
    },
    {
      name: 'a value failing a pattern with its own message',
      yaml: minimal
        .replace('test_source: }', 'test_source: , suricata_eve: { socket: { mode: rw } } }')
        .replace('[test_source]', '[test_source, suricata_eve]'),
      problems: ['receivers.suricata_eve.socket.mode: must be an octal file mode such as 0660 (got "rw")'],
    },
    {
      name: 'a malformed size',
      yaml: minimal.replace('debug: }', 'debug: { max_file_size: 10 parsecs } }'),
      problems: ['exporters.debug.max_file_size: must be a size such as 65536, 64KiB or 1MiB (got "10 parsecs")'],
    },
    {
      name: 'a malformed listen address',
      yaml: minimal.replace('service:', 'service:\n  telemetry: { metrics: { address: "localhost" } }'),
      problems: ['service.telemetry.metrics.address: must be host:port, [ipv6]:port or "" (got "localhost")'],
    },
    {
      name: 'an unknown component type',
      yaml: minimal.replace('test_source: }', 'test_source: , kafka: }'),
      problems: [
        `receivers.kafka: unknown receiver type "kafka" (known: ${[...factories.receiver.keys()].join(', ')})`,
      ],
    },
    {
      name: 'an invalid component id',
      yaml: minimal.replace('test_source: }', 'test_source: , Test-Source: }'),
      problems: ['receivers.Test-Source: invalid id (use type or type/name; type in lower_snake_case)'],
    },
    {
      name: "a factory's own cross-field rule",
      yaml: minimal
        .replace('debug: }', 'debug: , test_sink: { fail: true, delay_ms: 5 } }')
        .replace('[debug]', '[debug, test_sink]'),
      problems: ['exporters.test_sink.delay_ms: must be 0 when fail is set'],
    },
    {
      name: 'a reference to an undefined component',
      yaml: minimal.replace('exporters: [debug]', 'exporters: [debug, otlp]'),
      problems: ['service.pipelines.flows.exporters[1]: "otlp" is not defined under exporters'],
    },
    {
      name: 'a component defined but never used',
      yaml: minimal.replace('debug: }', 'debug: , debug/extra: }'),
      problems: ['exporters.debug/extra: defined but not used by any pipeline'],
    },
    {
      name: 'an id listed twice',
      yaml: minimal.replace('exporters: [debug]', 'exporters: [debug, debug]'),
      problems: ['service.pipelines.flows.exporters[1]: "debug" is listed twice'],
    },
    {
      name: 'a pipeline without exporters',
      yaml: minimal.replace('debug: }', '}').replace(', exporters: [debug]', ''),
      problems: ['service.pipelines.flows.exporters: a pipeline needs at least one exporter'],
    },
    {
      name: 'no pipelines at all',
      yaml: 'receivers: {}\nservice: { pipelines: {} }\n',
      problems: ['service.pipelines: at least one pipeline is required'],
    },
    {
      name: 'no service section',
      yaml: 'receivers: { test_source: }\n',
      problems: ['service: is required'],
    },
    {
      name: 'an exporter that cannot take what the pipeline delivers',
      yaml: minimal.replace('debug: }', 'test_flow_sink: }').replace('[debug]', '[test_flow_sink]'),
      problems: [
        'service.pipelines.flows.exporters: "test_flow_sink" consumes flow records, but this pipeline delivers L7 events (add processor flow_join or test_join)',
      ],
    },
    {
      name: 'a processor in two pipelines',
      yaml: `
receivers: { test_source: }
processors: { test_join: }
exporters: { debug: }
service:
  pipelines:
    a: { receivers: [test_source], processors: [test_join], exporters: [debug] }
    b: { receivers: [test_source], processors: [test_join], exporters: [debug] }
`,
      problems: [
        'service.pipelines.b.processors: "test_join" is already used by pipeline "a"; a processor keeps per-pipeline state, so define another instance (e.g. test_join/b)',
      ],
    },
    {
      name: 'an unset environment variable',
      yaml: minimal.replace('debug: }', 'debug: { path: "${env:L7FLOW_UNSET}" } }'),
      problems: [
        'exporters.debug.path: environment variable L7FLOW_UNSET is not set (write ${env:L7FLOW_UNSET:-default} to give a default)',
      ],
    },
    {
      name: 'a substitution other than env',
      yaml: minimal.replace('debug: }', 'debug: { path: "${file:/etc/x}" } }'),
      problems: [
        'exporters.debug.path: unsupported substitution ${file:/etc/x} (use ${env:NAME} or ${env:NAME:-default})',
      ],
    },
    {
      name: 'a duplicated YAML key',
      yaml: minimal.replace('exporters: { debug: }', 'exporters: { debug: }\nexporters: { debug: }'),
      problems: ['test.yaml:4:1: Map keys must be unique'],
    },
  ];

  it.each(cases)('$name', ({ yaml, env, problems }) => {
    expect(problemsOf(yaml, env)).toEqual(problems);
  });

  it('reports every problem of a file at once', () => {
    const problems = problemsOf(`
receivers: { test_source: , kafka: }
exporters: { debug: { pth: x, sending_queue: { queue_size: -1 } } }
service:
  shutdown_timeout: soon
  pipelines:
    flows: { receivers: [test_source], exporters: [debug, otlp] }
`);
    expect(problems).toHaveLength(5);
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'receivers.kafka',
      'exporters.debug.sending_queue.queue_size',
      'exporters.debug.pth',
      'service.shutdown_timeout',
      'service.pipelines.flows.exporters[1]',
    ]);
  });
});
