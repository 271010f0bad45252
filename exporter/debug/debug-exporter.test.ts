import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpEvent } from '../../test/support/components.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { debugConfigSchema } from './factory.js';
import { DebugExporter } from './debug-exporter.js';
import { RotatingFile } from './rotating-file.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-debug-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('debug exporter', () => {
  it('writes each record as one JSON line and counts them as sent', async () => {
    const path = join(dir, 'nested', 'records.jsonl');
    const { settings, telemetry } = testSettings('debug');
    const exporter = new DebugExporter(settings, debugConfigSchema.parse({ path }));
    await exporter.start();
    await exporter.consume([httpEvent(0), httpEvent(1, '/a?b=c')]);
    await exporter.shutdown();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([httpEvent(0), httpEvent(1, '/a?b=c')]);
    expect(await metricValue(telemetry, 'l7flow_records_sent_total', { component: 'debug' })).toBe(2);
  });

  it('appends to an existing file instead of truncating it', async () => {
    const path = join(dir, 'records.jsonl');
    for (const txId of [0, 1]) {
      const exporter = new DebugExporter(testSettings('debug').settings, debugConfigSchema.parse({ path }));
      await exporter.start();
      await exporter.consume([httpEvent(txId)]);
      await exporter.shutdown();
    }
    expect((await readFile(path, 'utf8')).trim().split('\n')).toHaveLength(2);
  });
});

describe('rotating file', () => {
  it('rotates before a write would pass the cap, keeps max_backups files, and never splits a write', async () => {
    const path = join(dir, 'out.log');
    const file = new RotatingFile(path, 100, 2);
    await file.open();
    const lines = Array.from({ length: 12 }, (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(20)}\n`); // 29 bytes
    for (const line of lines) await file.write(line);
    await file.close();

    expect((await readdir(dir)).sort()).toEqual(['out.log', 'out.log.1', 'out.log.2']);
    for (const name of ['out.log', 'out.log.1', 'out.log.2'])
      expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(100);
    // three lines (87 bytes) fit under 100 bytes: the last 9 lines survive, oldest in .2
    const kept = [
      await readFile(`${path}.2`, 'utf8'),
      await readFile(`${path}.1`, 'utf8'),
      await readFile(path, 'utf8'),
    ].join('');
    expect(kept).toBe(lines.slice(3).join(''));
  });

  it('writes a record bigger than the cap into a file of its own', async () => {
    const path = join(dir, 'big.log');
    const file = new RotatingFile(path, 10, 1);
    await file.open();
    await file.write('short\n');
    await file.write(`${'y'.repeat(50)}\n`);
    await file.close();
    expect(await readFile(path, 'utf8')).toBe(`${'y'.repeat(50)}\n`);
    expect(await readFile(`${path}.1`, 'utf8')).toBe('short\n');
  });

  it('keeps no backup when max_backups is 0', async () => {
    const path = join(dir, 'none.log');
    const file = new RotatingFile(path, 10, 0);
    await file.open();
    await file.write('12345678\n');
    await file.write('abcdefgh\n');
    await file.close();
    expect(await readdir(dir)).toEqual(['none.log']);
    expect(await readFile(path, 'utf8')).toBe('abcdefgh\n');
  });
});
