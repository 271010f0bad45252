import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { packageRoot, packageVersion } from '../config/paths.js';
import { spawnCli, type CliRun } from './support/cli.js';

const fixture = (...parts: string[]) => join(packageRoot, 'test', 'fixtures', ...parts);

let dir = '';
let runs: CliRun[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-cli-'));
});
afterEach(async () => {
  for (const run of runs) if (run.child.exitCode === null) run.child.kill('SIGKILL');
  await Promise.all(runs.map((r) => r.exit));
  runs = [];
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = {}): CliRun {
  const run = spawnCli(args, env);
  runs.push(run);
  return run;
}

function send(socketPath: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath, () => socket.end(text));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('l7flow run', () => {
  it('runs the default config: one line per component, /metrics and /readyz, clean exit on SIGTERM', async () => {
    const socket = join(dir, 'eve.sock');
    const run = cli(['run'], { L7FLOW_EVE_SOCKET: socket, L7FLOW_METRICS_ADDRESS: '127.0.0.1:0' });
    const started = await run.waitForLog((l) => l.msg === 'l7flow started');
    const base = `http://${String(started.metrics)}`;

    expect(run.logs.filter((l) => l.msg === 'receiver started').map((l) => l.component)).toEqual(['suricata_eve']);
    expect(run.logs.filter((l) => l.msg === 'exporter started').map((l) => l.component)).toEqual(['debug']);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);

    await send(
      socket,
      '{"timestamp":"2026-11-26T04:00:00.5+0000","event_type":"http","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","http":{"url":"/"}}\n',
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`l7flow_build_info{version="${packageVersion}"`);
    expect(metrics).toMatch(/l7flow_eve_events_total\{type="http",component="suricata_eve"\} 1/);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);

    const signalled = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(run.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['receiver stopped', 'exporter stopped', 'l7flow stopped']),
    );
    expect(JSON.parse(run.stdout[0] ?? '{}')).toMatchObject({
      kind: 'http',
      timeUs: 1_795_665_600_500_000,
      http: { url: '/' },
    });
  });

  it('refuses to start on an invalid config, with exit status 2', async () => {
    const run = cli(['run', '--config', fixture('config', 'four-mistakes.yaml')]);
    expect((await run.exit).code).toBe(2);
  });

  it('exits 1 when a component cannot start', async () => {
    const blocker = join(dir, 'not-a-socket');
    await writeFile(blocker, 'x');
    const run = cli(['run'], { L7FLOW_EVE_SOCKET: blocker, L7FLOW_METRICS_ADDRESS: '127.0.0.1:0' });
    expect((await run.exit).code).toBe(1);
    expect(run.logs.find((l) => l.msg === 'l7flow failed to start')).toBeDefined();
  });
});

describe('l7flow validate', () => {
  it('prints every problem of a file with its path and exits 2', async () => {
    const file = fixture('config', 'four-mistakes.yaml');
    const run = cli(['validate', '--config', file]);
    expect((await run.exit).code).toBe(2);
    expect(run.stderr.filter((l) => l !== '')).toEqual([
      `${file}: 4 problems`,
      '  receivers.suricata_eve.socket.pth: unknown key (did you mean "path"?); allowed keys: path, mode, max_clients',
      '  exporters.debug.sending_queue.overflow: must be one of drop_newest, drop_oldest (got "drop_everything")',
      '  service.shutdown_timeout: must be a duration such as 500ms, 5s or 1m (got "soon")',
      '  service.pipelines.l7.exporters[1]: "otlp" is not defined under exporters',
    ]);
  });

  it('accepts the shipped examples and exits 0', async () => {
    for (const name of ['default.yaml', 'l7flow.yaml']) {
      const run = cli(['validate', '--config', join(packageRoot, 'config', 'examples', name)]);
      expect((await run.exit).code).toBe(0);
      expect(run.stdout[0]).toMatch(/: valid \(1 pipeline; 1 receiver, 0 processors, 1 exporter\)$/);
    }
  });
});

describe('l7flow replay', () => {
  it('processes an EVE file from the beginning through the pipeline and exits 0', async () => {
    const run = cli(['replay', fixture('eve', 'small.eve.json')]);
    expect((await run.exit).code).toBe(0);
    const records = run.stdout.filter((l) => l !== '').map((l) => JSON.parse(l) as { kind: string; txId?: number });
    expect(records.map((r) => `${r.kind}${r.txId ?? ''}`)).toEqual(['http0', 'http1', 'tls', 'dns']);
  });

  it('needs at least one file', async () => {
    expect((await cli(['replay']).exit).code).toBe(2);
  });
});

describe('l7flow suricata-config', () => {
  it("prints a Suricata eve-log output aimed at the config's socket, with the selected event types", async () => {
    const config = join(dir, 'agent.yaml');
    await writeFile(
      config,
      `receivers: { suricata_eve: { socket: { path: /run/custom/eve.sock }, event_types: [http, dns] } }
exporters: { debug: }
service: { pipelines: { l7: { receivers: [suricata_eve], exporters: [debug] } } }
`,
    );
    const plain = cli(['suricata-config', '--config', config]);
    expect((await plain.exit).code).toBe(0);
    expect(parseYaml(plain.stdout.join('\n'))).toEqual({
      outputs: [
        {
          'eve-log': {
            enabled: 'yes',
            filetype: 'unix_stream',
            filename: '/run/custom/eve.sock',
            'community-id': 'no',
            types: [{ http: { extended: 'yes' } }, 'dns'],
          },
        },
      ],
    });
    const withHeaders = cli(['suricata-config', '--config', config, '--headers']);
    expect((await withHeaders.exit).code).toBe(0);
    expect(parseYaml(withHeaders.stdout.join('\n'))).toMatchObject({
      outputs: [{ 'eve-log': { types: [{ http: { extended: 'yes', 'dump-all-headers': 'both' } }, 'dns'] } }],
    });
  });

  it('exits 2 when the config has no socket receiver', async () => {
    const config = join(dir, 'file.yaml');
    await writeFile(
      config,
      `receivers: { suricata_eve: { source: file, file: { path: /tmp/eve.json } } }
exporters: { debug: }
service: { pipelines: { l7: { receivers: [suricata_eve], exporters: [debug] } } }
`,
    );
    const run = cli(['suricata-config', '--config', config]);
    expect((await run.exit).code).toBe(2);
    expect(run.stderr.join('\n')).toContain('no suricata_eve receiver with source: socket');
  });
});

describe('l7flow commands', () => {
  it('prints its version', async () => {
    const run = cli(['version']);
    expect((await run.exit).code).toBe(0);
    expect(run.stdout[0]).toBe(packageVersion);
  });

  it.each([[['frobnicate']], [['run', '--no-such-option']], [[]]])('exits 2 on bad usage: %j', async (args) => {
    expect((await cli(args).exit).code).toBe(2);
  });
});
