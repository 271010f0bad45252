import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { packageRoot, packageVersion } from '../config/paths.js';
import { spawnCli, type CliRun } from './support/cli.js';
import { aitEvePath } from './support/corpus.js';
import { until } from './support/until.js';

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
  it('runs the default config: joined flow records within 10 s, one line per component, /metrics and /readyz, clean exit on SIGTERM', async () => {
    const socket = join(dir, 'eve.sock');
    const ipfixFile = join(dir, 'flows.ipfix');
    const env = {
      L7FLOW_EVE_SOCKET: socket,
      L7FLOW_METRICS_ADDRESS: '127.0.0.1:0',
      L7FLOW_IPFIX_FILE: ipfixFile,
      L7FLOW_LOG_ENCODING: 'json',
    };
    const began = Date.now();
    const run = cli(['run'], env);
    const started = await run.waitForLog((l) => l.msg === 'l7flow started');
    const base = `http://${String(started.metrics)}`;

    // The bundled sample: the frontend's keep-alive connection to the cart Service, joined.
    const cartFlow =
      /^\S+ flow#\d+ shop\/frontend-\S+\(10\.10\.1\.4:51824\) -> shop\/cart-\S+\(10\.10\.1\.7:8080\) tcp via 10\.96\.0\.20:80 http: GET cart\.shop\.svc\/api\/cart\/42 200, POST cart\.shop\.svc\/api\/cart\/42\/items 201, GET cart\.shop\.svc\/api\/cart\/99 404 /;
    await until(() => run.stdout.some((line) => cartFlow.test(line)), 'the joined cart flow on stdout', 10_000);
    expect(Date.now() - began).toBeLessThan(10_000);

    expect(run.logs.filter((l) => l.msg === 'receiver started').map((l) => l.component)).toEqual(
      expect.arrayContaining(['suricata_eve/sample', 'suricata_eve', 'conntrack']),
    );
    expect(run.logs.filter((l) => l.msg === 'exporter started').map((l) => l.component)).toEqual(
      expect.arrayContaining(['ipfix', 'debug']),
    );
    expect(run.logs.find((l) => String(l.msg).startsWith('waiting for Suricata'))).toMatchObject({ socket });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    // It keeps listening: a live event is decoded (and, without its connection, waits).
    await send(
      socket,
      '{"timestamp":"2026-11-26T04:00:00.5+0000","event_type":"http","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","http":{"url":"/"}}\n',
    );
    await until(
      async () =>
        /l7flow_eve_events_total\{type="http",component="suricata_eve"\} 1/.test(
          await (await fetch(`${base}/metrics`)).text(),
        ),
      'the live event counted',
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`l7flow_build_info{version="${packageVersion}"`);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);

    const signalled = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(run.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['receiver stopped', 'exporter stopped', 'l7flow stopped']),
    );
    expect((await stat(ipfixFile)).size).toBeGreaterThan(16);
  });

  it('refuses to start on an invalid config, with exit status 2', async () => {
    const run = cli(['run', '--config', fixture('config', 'four-mistakes.yaml')]);
    expect((await run.exit).code).toBe(2);
  });

  it('exits 1 when a component cannot start', async () => {
    const blocker = join(dir, 'not-a-socket');
    await writeFile(blocker, 'x');
    const run = cli(['run'], {
      L7FLOW_EVE_SOCKET: blocker,
      L7FLOW_METRICS_ADDRESS: '127.0.0.1:0',
      L7FLOW_IPFIX_FILE: join(dir, 'flows.ipfix'),
      L7FLOW_LOG_ENCODING: 'json',
    });
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
      expect(run.stdout[0]).toMatch(/: valid \(\d+ pipelines?; \d+ receivers?, \d+ processors?, \d+ exporters?\)$/);
    }
  });
});

describe('l7flow replay', () => {
  it('processes an EVE file from the beginning and exits 0: one line per Suricata flow', async () => {
    const run = cli(['replay', fixture('eve', 'small.eve.json')], { L7FLOW_LOG_ENCODING: 'json' });
    expect((await run.exit).code).toBe(0);
    const lines = run.stdout.filter((l) => l !== '');
    expect(lines).toEqual([
      expect.stringMatching(
        / 10\.10\.1\.4:51824 -> 10\.10\.1\.7:8080 tcp http: GET web\.shop\.svc\/api\/cart\?id=7 200, POST web\.shop\.svc\/api\/checkout 500 \[end\]$/,
      ),
      expect.stringMatching(
        / 10\.10\.1\.4:40022 -> 10\.96\.0\.20:443 tcp tls: sni payments\.shop\.svc TLS 1\.3 \[end\]$/,
      ),
      expect.stringMatching(
        / 10\.10\.1\.4:53311 -> 10\.96\.0\.10:53 udp dns: response A web\.shop\.svc\.cluster\.local NOERROR \[end\]$/,
      ),
    ]);
    expect(run.logs.find((l) => l.msg === 'l7flow stopping')).toMatchObject({ reason: 'input complete' });
  });

  it('replays through a given config, as JSON records', async () => {
    const run = cli(
      ['replay', '--config', join(packageRoot, 'config', 'examples', 'replay.yaml'), fixture('eve', 'small.eve.json')],
      {
        L7FLOW_LOG_ENCODING: 'json',
        L7FLOW_REPLAY_FORMAT: 'json',
      },
    );
    expect((await run.exit).code).toBe(0);
    const records = run.stdout
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { kind: string; l7: { txId?: number }[] });
    expect(records.flatMap((r) => r.l7.map((e) => String(e.txId ?? '-'))).sort()).toEqual(['-', '-', '0', '1']);
  });

  it('replays a real Suricata eve.json: every transaction in exactly one record, records per Suricata flow', async () => {
    if (!existsSync(aitEvePath)) {
      process.stderr.write(`SKIPPED the replay of the shared corpus: needs ${aitEvePath}\n`);
      return;
    }
    const transactions: string[] = [];
    for (const line of readFileSync(aitEvePath, 'utf8').split('\n')) {
      if (line === '') continue;
      const event = JSON.parse(line) as {
        event_type?: string;
        flow_id?: number;
        tx_id?: number;
        dns?: { tx_id?: number };
      };
      if (['http', 'tls', 'dns'].includes(event.event_type ?? ''))
        transactions.push(`${event.flow_id} ${event.event_type}`);
    }
    const run = cli(['replay', aitEvePath], { L7FLOW_LOG_ENCODING: 'json', L7FLOW_REPLAY_FORMAT: 'json' });
    expect((await run.exit).code).toBe(0);
    const records = run.stdout
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { l7: { flowId: number; kind: string }[] });
    const exported = records.flatMap((r) => r.l7.map((e) => `${e.flowId} ${e.kind}`));
    expect(exported.sort()).toEqual(transactions.sort());
    expect(records.every((r) => new Set(r.l7.map((e) => e.flowId)).size === 1)).toBe(true);
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
