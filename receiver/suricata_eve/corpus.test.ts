import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import type { HttpEvent, L7Event, TlsEvent } from '../../pipeline/records.js';
import { aitEvePath, corpusDir } from '../../test/support/corpus.js';
import { describeWith } from '../../test/support/requirements.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { EveDecoder } from './decode.js';
import { EveMetrics, EveStream } from './eve-stream.js';

const eveDir = join(corpusDir, 'eve');

/** Runs a whole file through framing and decoding, as a replay would (in 4 KiB chunks). */
async function processFile(path: string) {
  const { settings, telemetry } = testSettings('suricata_eve');
  const stream = new EveStream(new EveDecoder(), new EveMetrics(settings.telemetry), 1024 * 1024);
  const bytes = readFileSync(path);
  const events: L7Event[] = [];
  for (let at = 0; at < bytes.length; at += 4096) events.push(...stream.push(bytes.subarray(at, at + 4096)));
  events.push(...stream.end(true));
  const metric = (name: string, labels: Record<string, string>) =>
    metricValue(telemetry, name, { component: 'suricata_eve', ...labels });
  return {
    events,
    byType: (type: string) => events.filter((e) => e.kind === type).length,
    lines: await metric('l7flow_eve_lines_total', {}),
    dropped: async (reason: string) => metric('l7flow_records_dropped_total', { reason }),
    skipped: async (reason: string) => metric('l7flow_eve_lines_skipped_total', { reason }),
  };
}

/** A deliberately simple, independent count: JSON.parse each line and read event_type.
 * `unparsable` counts lines that are not a JSON object. */
function naiveCount(path: string) {
  const counts = { http: 0, tls: 0, dns: 0, unparsable: 0 };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      counts.unparsable++;
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      counts.unparsable++;
      continue;
    }
    const type = (value as { event_type?: unknown }).event_type;
    if (type === 'http' || type === 'tls' || type === 'dns') counts[type]++;
  }
  return counts;
}

function eveFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'schema' ? [] : eveFiles(path);
    return name.endsWith('.json') || name.endsWith('.ndjson') ? [path] : [];
  });
}

const file = (...parts: string[]) => join(eveDir, ...parts);

describeWith({ paths: [eveDir] }, 'real Suricata output (shared corpus)', () => {
  it('processes every file without a crash, decoding exactly what a naive count finds', async () => {
    const files = eveFiles(eveDir).filter((path) => !path.endsWith('blocks.json'));
    expect(files.length).toBeGreaterThan(20);
    for (const path of files) {
      const result = await processFile(path);
      const naive = naiveCount(path);
      const where = relative(eveDir, path);
      expect({ where, http: result.byType('http'), tls: result.byType('tls'), dns: result.byType('dns') }).toEqual({
        where,
        http: naive.http,
        tls: naive.tls,
        dns: naive.dns,
      });
      expect({ where, malformed: await result.dropped('malformed') }).toEqual({ where, malformed: naive.unparsable });
      expect({ where, invalid: await result.dropped('invalid') }).toEqual({ where, invalid: 0 });
    }
  });

  it('the AIT log (Suricata <= 5): 736 http with 3 request-only, 2 tls, 974 dns v1', async () => {
    const result = await processFile(aitEvePath);
    expect([result.byType('http'), result.byType('tls'), result.byType('dns'), result.lines]).toEqual([
      736, 2, 974, 3425,
    ]);
    const http = result.events.filter((e): e is HttpEvent => e.kind === 'http');
    expect(http.filter((e) => e.http.status === undefined)).toHaveLength(3);
    expect(http.some((e) => e.http.url?.includes('\\/'))).toBe(false); // `\/` escapes decoded
    expect(Math.max(...http.map((e) => e.txId ?? 0))).toBe(19);
    expect(await result.skipped('other_type')).toBe(3425 - 736 - 2 - 974);
  });

  it('quirk: a line truncated mid-object is counted, its neighbours decoded', async () => {
    const result = await processFile(file('dcso-fever', 'util', 'testdata', 'jsonparse_eve_broken1.json'));
    expect(await result.dropped('malformed')).toBe(1);
    expect(result.events.map((e) => e.kind)).toEqual(['dns', 'http']);
  });

  it('quirk: vlan as a bare integer (Suricata 4.x)', async () => {
    const result = await processFile(file('dcso-fever', 'util', 'testdata', 'jsonparse_eve.json'));
    expect(result.events.map((e) => e.vlan)).toEqual([[61], [72]]);
  });

  it('quirk: null fields', async () => {
    const result = await processFile(file('dcso-fever', 'util', 'testdata', 'jsonparse_eve_nulls.json'));
    expect(result.events).toEqual([]);
    expect(await result.skipped('other_type')).toBe(1);
  });

  it('quirk: no final newline, and IPv6 written fully expanded', async () => {
    const result = await processFile(file('dcso-fever', 'cmd', 'fever', 'cmds', 'testdata', 'alertify_input.json'));
    expect(result.lines).toBe(3);
    const tls = result.events.find((e): e is TlsEvent => e.kind === 'tls');
    expect(tls?.tuple.srcIp).toMatch(/^[0-9a-f:]+$/);
    expect(tls?.tuple.srcIp).not.toMatch(/(^|:)0[0-9a-f]/); // no leading zeros left
    expect(tls?.tls).toMatchObject({
      sni: 'example.com',
      ja3: '1fe4c7a3544eb27afec2adfb3a3dbf60',
      ja3s: '5d79edf64e03689ff559a54e9d9487bc',
    });
  });

  it('quirk: pretty-printed multi-line JSON is rejected line by line and counted, never half-decoded', async () => {
    const path = file('influxdata-telegraf', 'plugins', 'inputs', 'suricata', 'testdata', 'v2', 'http.json');
    const result = await processFile(path);
    expect(result.events).toEqual([]);
    expect(await result.dropped('malformed')).toBe(naiveCount(path).unparsable);
  });

  it('quirk: an empty file', async () => {
    const result = await processFile(file('dcso-fever', 'util', 'testdata', 'jsonparse_eve_empty.json'));
    expect([result.lines, result.events.length]).toEqual([0, 0]);
  });

  it('the Antrea documentation examples (Suricata 6.0 and 7.0): VLAN-tagged tap, 404 answer', async () => {
    for (const version of ['suricata-6.0', 'suricata-7.0']) {
      const result = await processFile(file('antrea-docs', version, 'events.ndjson'));
      const http = result.events.filter((e): e is HttpEvent => e.kind === 'http');
      expect(http.length).toBeGreaterThan(0);
      expect(http.every((e) => Array.isArray(e.vlan) && e.vlan.length === 1)).toBe(true);
    }
  });

  it('the official example of every Suricata release from 4.0 to 8.0 decodes where it has a transaction', async () => {
    for (const version of ['4.0.7', '4.1.10', '5.0.10', '6.0.20', '7.0.17', '8.0.6']) {
      const path = file('suricata-docs', `suricata-${version}`, 'events.ndjson');
      const result = await processFile(path);
      const naive = naiveCount(path);
      expect({ version, events: result.events.length }).toEqual({
        version,
        events: naive.http + naive.tls + naive.dns,
      });
    }
  });
});
