import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../pipeline/component.js';
import type { ConnDumpEnd, ConnSample, PipelineRecord } from '../../pipeline/records.js';
import { FakeSource, type FakeRun } from '../../test/support/conntrack-fake-source.js';
import { fixtureLine, fixtureLines } from '../../test/support/conntrack-fixtures.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { deferred } from '../../pipeline/once.js';
import { MetricsSnapshot, stageAccount } from '../../test/support/accounting.js';
import { metricValue, testSettings } from '../../test/support/settings.js';
import { until } from '../../test/support/until.js';
import { conntrackConfigSchema } from './factory.js';
import { ConntrackReceiver, type ReceiverOptions } from './receiver.js';

const dumpText = `${fixtureLines('dump.xml').join('\n')}\n`;
const destroyText = `${fixtureLines('events-destroy.xml').join('\n')}\n`;
const host: Host = {
  reportFatal: (error) => {
    throw error;
  },
};

/** Lets every pending promise chain and I/O callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

const running: ConntrackReceiver[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.shutdown()));
});

function setup(config: Record<string, unknown> = {}, source = new FakeSource(), options: ReceiverOptions = {}) {
  const clock = new ManualClock();
  const { settings, telemetry, logger } = testSettings('conntrack', clock);
  const records: PipelineRecord[] = [];
  const sink = {
    consume: async (batch: readonly PipelineRecord[]): Promise<void> => {
      records.push(...batch);
      return Promise.resolve();
    },
  };
  const receiver = new ConntrackReceiver(
    settings,
    conntrackConfigSchema.parse({ events: false, ...config }),
    { consume: (batch) => sink.consume(batch) },
    source,
    options,
  );
  running.push(receiver);
  const samples = () => records.filter((r): r is ConnSample => r.kind === 'conn');
  const ends = () => records.filter((r): r is ConnDumpEnd => r.kind === 'conn_dump_end');
  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(telemetry, name, { component: 'conntrack', ...labels });
  const warnings = () => logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  return { receiver, source, clock, records, samples, ends, sink, metric, logger, warnings, telemetry };
}

describe('ConntrackReceiver dumps', () => {
  it('emits a dump as its samples followed by exactly one ConnDumpEnd', async () => {
    const t = setup();
    t.source.onDump = (_, run) => run.write(dumpText).finish();
    const startUs = t.clock.nowUs();
    await t.receiver.start(host);
    await settle();
    expect(t.records.map((r) => r.kind)).toEqual([...Array<string>(8).fill('conn'), 'conn_dump_end']);
    expect(t.ends()).toEqual([{ kind: 'conn_dump_end', timeUs: startUs, zones: [], complete: true, entries: 8 }]);
    expect(await t.metric('l7flow_conntrack_dumps_total', { result: 'complete' })).toBe(1);
    expect(await t.metric('l7flow_conntrack_dump_entries', { zone: 'all' })).toBe(8);
  });

  it('dumps every poll_interval, measured from the start of the previous dump', async () => {
    const t = setup({ poll_interval: '5s' });
    await t.receiver.start(host);
    await settle();
    expect(t.source.dumps).toHaveLength(1);
    t.clock.advance(4999);
    await settle();
    expect(t.source.dumps).toHaveLength(1);
    t.clock.advance(1);
    await settle();
    expect(t.source.dumps).toHaveLength(2);
  });

  it('never runs two dumps at once: a slow dump delays the next one', async () => {
    const t = setup({ poll_interval: '5s' });
    let slow: FakeRun | undefined;
    t.source.onDump = (_, run) => {
      if (!slow) slow = run;
      else run.finish();
    };
    await t.receiver.start(host);
    await settle();
    t.clock.advance(20_000);
    await settle();
    expect(t.source.dumps).toHaveLength(1);
    slow?.finish();
    await settle();
    expect(t.source.dumps).toHaveLength(2); // overdue: starts at once
  });

  it('runs one dump per configured zone, each closed by its own ConnDumpEnd', async () => {
    const t = setup({ zones: [65520, 65510] });
    await t.receiver.start(host);
    await settle();
    expect(t.source.dumps.map((d) => d.zones)).toEqual([[65520], [65510]]);
    expect(t.ends().map((e) => e.zones)).toEqual([[65520], [65510]]);
  });

  it('keeps only the configured zones when the source cannot filter by zone', async () => {
    const t = setup({ zones: [7] }, new FakeSource(true, false));
    t.source.onDump = (_, run) => run.write(dumpText).finish();
    await t.receiver.start(host);
    await settle();
    expect(t.samples().map((s) => s.zone)).toEqual([7]);
    expect(t.ends()).toMatchObject([{ zones: [7], complete: true, entries: 1 }]);
  });

  it('a failed or timed-out dump ends incomplete; failures are logged once, recovery once', async () => {
    const t = setup({ poll_interval: '1s' });
    const results = [
      { ok: false, reason: 'failed', detail: 'conntrack -L: exit code 1: Operation not permitted' },
      { ok: false, reason: 'timed_out', detail: 'conntrack -L: killed by SIGKILL' },
      { ok: true },
    ] as const;
    t.source.onDump = (_, run) => run.write(dumpText.slice(0, 2000)).finish(results[t.source.dumps.length - 1]);
    await t.receiver.start(host);
    for (let i = 0; i < 3; i++) {
      await settle();
      t.clock.advance(1000);
    }
    await settle();
    expect(
      t
        .ends()
        .slice(0, 3)
        .map((e) => e.complete),
    ).toEqual([false, false, true]);
    expect(await t.metric('l7flow_conntrack_dumps_total', { result: 'failed' })).toBe(1);
    expect(await t.metric('l7flow_conntrack_dumps_total', { result: 'timed_out' })).toBe(1);
    expect(t.warnings().filter((m) => m.startsWith('conntrack dump failed'))).toHaveLength(1);
    expect(t.logger.lines.filter((l) => l.msg === 'conntrack dumps complete again')).toMatchObject([
      { failed_dumps: 2 },
    ]);
  });

  it('counts unparsable lines by format and reason, and emits their neighbours', async () => {
    const t = setup();
    const good = fixtureLine('dump.xml', '<dport>8081</dport>');
    t.source.onDump = (_, run) => run.write(`${good}\n<flow><meta direction="orig\n${good}\nnonsense\n`).finish();
    await t.receiver.start(host);
    await settle();
    expect(t.samples()).toHaveLength(2);
    expect(t.ends()).toMatchObject([{ complete: true, entries: 2 }]);
    expect(await t.metric('l7flow_conntrack_parse_errors_total', { format: 'xml', reason: 'truncated' })).toBe(1);
    expect(await t.metric('l7flow_conntrack_parse_errors_total', { format: 'xml', reason: 'not_an_entry' })).toBe(1);
    expect(await t.metric('l7flow_records_dropped_total', { reason: 'unparsable_line' })).toBe(2);
  });

  it('a batch rejected downstream is counted, and its dump is not complete', async () => {
    const t = setup({}, new FakeSource(), { batchSize: 3 });
    t.source.onDump = (_, run) => run.write(dumpText).finish();
    const accept = t.sink.consume;
    let calls = 0;
    t.sink.consume = async (batch) => {
      if (++calls === 2) throw new Error('flow_join: consume after shutdown');
      return accept(batch);
    };
    await t.receiver.start(host);
    await settle();
    expect(t.samples()).toHaveLength(5);
    expect(t.ends()).toMatchObject([{ complete: false, entries: 8 }]);
    expect(await t.metric('l7flow_records_dropped_total', { reason: 'downstream_rejected' })).toBe(3);
  });

  it('receives every emitted record and bad line, holding batches until downstream takes them', async () => {
    const t = setup({ events: true }, new FakeSource(), { batchSize: 3 });
    t.source.onDump = (_, run) => run.write(`${dumpText}nonsense\n`).finish();
    t.source.onEvents = (run) => run.write(destroyText);
    const gate = deferred();
    const accept = t.sink.consume;
    let calls = 0;
    t.sink.consume = async (batch) => {
      if (++calls === 2) throw new Error('flow_join: consume after shutdown');
      await gate.promise;
      return accept(batch);
    };
    const account = async () => {
      const a = stageAccount(await MetricsSnapshot.of(t.telemetry), 'conntrack');
      return {
        ...a,
        unaccounted:
          a.received -
          t.records.length -
          (a.dropped.downstream_rejected ?? 0) -
          (a.dropped.unparsable_line ?? 0) -
          (a.held.hand_off ?? 0),
      };
    };
    await t.receiver.start(host);
    await settle();
    // The dump's first batch waits at the gate, holding the dump back; the DESTROY events wait
    // behind it. The bad line was read with the dump's first chunk.
    expect(await account()).toMatchObject({ received: 3 + 3 + 1, unaccounted: 0, held: { hand_off: 6 } });
    gate.resolve();
    await until(() => t.ends().length === 1, 'the rest handed on');
    // 8 samples + 1 end marker + 3 DESTROY events + 1 bad line; the second batch was refused.
    expect(await account()).toMatchObject({
      received: 13,
      unaccounted: 0,
      dropped: { downstream_rejected: 3, unparsable_line: 1 },
      held: { hand_off: 0 },
    });
  });

  it('hands batches on one at a time, in order, waiting for each', async () => {
    const t = setup({ events: true }, new FakeSource(), { batchSize: 2 });
    t.source.onDump = (_, run) => run.write(dumpText).finish();
    t.source.onEvents = (run) => run.write(destroyText);
    let inFlight = 0;
    let most = 0;
    const accept = t.sink.consume;
    t.sink.consume = async (batch) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
      return accept(batch);
    };
    await t.receiver.start(host);
    await until(() => t.samples().length === 11, 'the dump and the three DESTROY events');
    expect(most).toBe(1);
  });

  it('warns once when kernel entries lack counters or start times', async () => {
    const t = setup({ poll_interval: '1s' });
    t.source.onDump = (_, run) => run.write(dumpText).finish(); // holds one entry made with both sysctls off
    await t.receiver.start(host);
    await settle();
    t.clock.advance(1000);
    await settle();
    expect(t.source.dumps).toHaveLength(2);
    expect(t.warnings().filter((m) => m.includes('without packet/byte counters'))).toHaveLength(1);
    expect(t.warnings().filter((m) => m.includes('without start times'))).toHaveLength(1);
  });

  it('does not warn for OVS userspace conntrack, which never has counters', async () => {
    const t = setup({}, new FakeSource(false));
    t.source.onDump = (_, run) => run.write(dumpText).finish();
    await t.receiver.start(host);
    await settle();
    expect(t.warnings()).toEqual([]);
  });
});

describe('ConntrackReceiver events', () => {
  it('hands DESTROY events on at once as dying samples, only for the configured zones', async () => {
    const t = setup({ events: true, zones: [7] });
    await t.receiver.start(host);
    await settle();
    t.source.eventRuns[0]?.run.write(destroyText);
    await settle();
    expect(t.samples().filter((s) => s.dying)).toMatchObject([{ zone: 7, id: 2429984345 }]);
    expect(await t.metric('l7flow_conntrack_events_total', { type: 'destroy' })).toBe(3);
    expect(await t.metric('l7flow_conntrack_events_process_up')).toBe(1);
  });

  it('restarts an events process that exits, with a doubling backoff that resets after a long run', async () => {
    const t = setup({ events: true, events_restart: { initial_delay: '1s', max_delay: '4s' }, poll_interval: '1h' });
    const exit = (i: number) =>
      t.source.eventRuns[i]?.run.finish({ ok: false, reason: 'failed', detail: 'killed by SIGKILL' });
    await t.receiver.start(host);
    await settle();
    expect(t.source.eventRuns).toHaveLength(1);

    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      exit(i);
      await settle();
      let waited = 0;
      while (t.source.eventRuns.length === i + 1) {
        t.clock.advance(500);
        waited += 500;
        await settle();
      }
      waits.push(waited);
    }
    expect(waits).toEqual([1000, 2000, 4000, 4000]);
    expect(await t.metric('l7flow_conntrack_process_restarts_total', { process: 'events' })).toBe(4);

    t.clock.advance(4000); // the fifth process lives for max_delay: the backoff starts over
    await settle();
    exit(4);
    await settle();
    t.clock.advance(1000);
    await settle();
    expect(t.source.eventRuns).toHaveLength(6);
    expect(t.warnings().filter((m) => m.startsWith('conntrack events process exited'))).toHaveLength(5);
  });

  it('counts ENOBUFS reports: the kernel dropped events', async () => {
    const t = setup({ events: true });
    await t.receiver.start(host);
    await settle();
    t.source.eventRuns[0]?.stderr('WARNING: We have hit ENOBUFS! We are losing events.');
    expect(await t.metric('l7flow_conntrack_event_overruns_total')).toBe(1);
  });

  it('is ready after a complete dump and, with events on, once the event stream listens', async () => {
    const t = setup({ events: true });
    t.source.onDump = (_, run) => run.write(dumpText).finish();
    expect(t.receiver.isReady()).toBe(false);
    await t.receiver.start(host);
    await settle();
    expect(t.receiver.isReady()).toBe(false);
    // What conntrack -E -b prints once subscribed (its stdout stays buffered until an event).
    t.source.eventRuns[0]?.stderr('NOTICE: Netlink socket buffer size has been set to 16777216 bytes.');
    await settle();
    expect(t.receiver.isReady()).toBe(true);
    expect(await t.metric('l7flow_conntrack_events_process_up')).toBe(1);
  });
});

describe('ConntrackReceiver lifecycle', () => {
  it('shutdown cancels a running dump, marks it incomplete, stops the events process; twice is fine', async () => {
    const t = setup({ events: true });
    t.source.onDump = (_, run) => run.write(dumpText.slice(0, 3000));
    await t.receiver.start(host);
    await settle();
    await t.receiver.shutdown();
    await t.receiver.shutdown();
    expect(t.source.dumps[0]?.run.cancelled).toBe(true);
    expect(t.source.eventRuns[0]?.run.cancelled).toBe(true);
    expect(t.ends()).toMatchObject([{ complete: false }]);
    expect(await t.metric('l7flow_conntrack_dumps_total', { result: 'cancelled' })).toBe(1);
    t.clock.advance(60_000);
    await settle();
    expect(t.source.dumps).toHaveLength(1);
    expect(t.source.eventRuns).toHaveLength(1);
  });

  it('start after shutdown does nothing', async () => {
    const t = setup();
    await t.receiver.shutdown();
    await t.receiver.start(host);
    await settle();
    expect(t.source.dumps).toHaveLength(0);
  });

  it('fails to start when the source cannot work at all', async () => {
    const source = new FakeSource();
    source.preflightError = new Error('conntrack_path "conntrack" does not run: spawn conntrack ENOENT');
    const t = setup({}, source);
    await expect(t.receiver.start(host)).rejects.toThrow(/ENOENT/);
  });

  it('set_sysctls turns accounting and timestamps on before the first dump, and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'l7ct-sysctl-'));
    try {
      await writeFile(join(dir, 'nf_conntrack_acct'), '0\n');
      await writeFile(join(dir, 'nf_conntrack_timestamp'), '0\n');
      const t = setup({ set_sysctls: true }, new FakeSource(), { sysctlDir: dir });
      await t.receiver.start(host);
      expect(t.receiver.details()).toMatchObject({
        source: 'netlink',
        zones: 'all',
        poll_interval: '5s',
        events: 'off',
        sysctls_enabled: ['nf_conntrack_acct', 'nf_conntrack_timestamp'],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
