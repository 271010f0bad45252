import { describe, expect, it } from 'vitest';
import { deferred, type Deferred } from '../../pipeline/once.js';
import { ManualClock } from '../../test/support/manual-clock.js';
import { Sender, type AttemptOutcome, type DropReason, type SenderSettings } from './sender.js';

const ok: AttemptOutcome = { ok: true };
const unavailable: AttemptOutcome = { ok: false, retryable: true, code: 'UNAVAILABLE', message: 'down' };
const invalid: AttemptOutcome = { ok: false, retryable: false, code: 'INVALID_ARGUMENT', message: 'bad' };

const settings: SenderSettings = {
  capacity: 10,
  overflow: 'drop_newest',
  consumers: 1,
  batchSize: 4,
  batchTimeoutMs: 200,
  retry: {
    enabled: true,
    initialIntervalMs: 5000,
    maxIntervalMs: 30_000,
    maxElapsedMs: 300_000,
    multiplier: 1.5,
    randomizationFactor: 0.5,
  },
};

/** Lets promise continuations and the worker run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A sender on a manual clock whose transmit answers from a script (default OK), recording
 * every attempt, every delivery, drop and retry.
 */
function harness(overrides: Partial<SenderSettings> = {}, options: { random?: () => number } = {}) {
  const clock = new ManualClock();
  const attempts: { items: number[]; atMs: number }[] = [];
  const delivered: number[] = [];
  const dropped: { items: number[]; reason: DropReason }[] = [];
  const retried: number[] = [];
  const script: (AttemptOutcome | Deferred<AttemptOutcome>)[] = [];
  const startUs = clock.nowUs();
  const sender = new Sender<number>(
    { ...settings, ...overrides },
    (batch) => {
      attempts.push({ items: [...batch], atMs: (clock.nowUs() - startUs) / 1000 });
      const next = script.shift() ?? ok;
      return 'promise' in next ? next.promise : Promise.resolve(next);
    },
    {
      delivered: (items) => delivered.push(...items),
      dropped: (items, reason) => dropped.push({ items: [...items], reason }),
      attempted: () => {},
      retrying: (n) => retried.push(n),
    },
    clock,
    options.random ?? (() => 0.5),
  );
  return { clock, sender, attempts, delivered, dropped, retried, script };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('Sender batching', () => {
  it('sends a full batch at once and a partial one after the batch timeout', async () => {
    const { clock, sender, attempts } = harness();
    sender.start();
    sender.add(range(0, 6));
    await settle();
    expect(attempts.map((a) => a.items)).toEqual([[0, 1, 2, 3]]);
    clock.advance(199);
    await settle();
    expect(attempts).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(attempts.map((a) => a.items)).toEqual([
      [0, 1, 2, 3],
      [4, 5],
    ]);
  });

  it('keeps up to `consumers` batches in flight at once', async () => {
    const { sender, attempts, script, delivered } = harness({ consumers: 2, capacity: 12 });
    const first = deferred<AttemptOutcome>();
    const second = deferred<AttemptOutcome>();
    script.push(first, second);
    sender.start();
    sender.add(range(0, 12));
    await settle();
    expect(attempts.map((a) => a.items)).toEqual([range(0, 4), range(4, 8)]);
    second.resolve(ok);
    await settle();
    expect(attempts.map((a) => a.items)).toEqual([range(0, 4), range(4, 8), range(8, 12)]);
    first.resolve(ok);
    await settle();
    expect(delivered.sort((a, b) => a - b)).toEqual(range(0, 12));
  });

  it('with one consumer, keeps one batch in flight at a time, in order', async () => {
    const { sender, attempts, script, delivered } = harness();
    const first = deferred<AttemptOutcome>();
    script.push(first);
    sender.start();
    sender.add(range(0, 8));
    await settle();
    expect(attempts).toHaveLength(1);
    first.resolve(ok);
    await settle();
    expect(attempts.map((a) => a.items)).toEqual([range(0, 4), range(4, 8)]);
    expect(delivered).toEqual(range(0, 8));
  });
});

describe('Sender overflow', () => {
  it('drop_newest keeps what is queued and drops the excess of the new items', () => {
    const { sender, dropped } = harness();
    sender.add(range(0, 8));
    sender.add(range(8, 14));
    expect(sender.size).toBe(10);
    expect(dropped).toEqual([{ items: [10, 11, 12, 13], reason: 'queue_full' }]);
  });

  it('drop_oldest evicts the oldest queued items to make room', async () => {
    const { sender, dropped } = harness({ overflow: 'drop_oldest' });
    sender.add(range(0, 8));
    sender.add(range(8, 14));
    expect(dropped).toEqual([{ items: [0, 1, 2, 3], reason: 'queue_full' }]);
    const delivered: number[] = [];
    const h = harness({ overflow: 'drop_oldest' });
    h.sender.add(range(0, 25));
    expect(h.dropped).toEqual([{ items: range(0, 15), reason: 'queue_full' }]);
    h.sender.start();
    await h.sender.close();
    delivered.push(...h.delivered);
    expect(delivered).toEqual(range(15, 25));
  });
});

describe('Sender retries', () => {
  it('retries transient failures with growing, jittered waits and delivers once the receiver recovers', async () => {
    // random() = 0.5 puts the jitter at the middle: waits of exactly 5 s, 7.5 s, 11.25 s.
    const { clock, sender, attempts, script, delivered, dropped, retried } = harness({ batchSize: 2 });
    script.push(unavailable, unavailable, unavailable);
    sender.start();
    sender.add([1, 2]);
    await settle();
    for (const wait of [5000, 7500, 11_250]) {
      clock.advance(wait - 1);
      await settle();
      const before = attempts.length;
      clock.advance(1);
      await settle();
      expect(attempts.length).toBe(before + 1);
    }
    expect(attempts.map((a) => a.atMs)).toEqual([0, 5000, 12_500, 23_750]);
    expect(delivered).toEqual([1, 2]);
    expect(dropped).toEqual([]);
    expect(retried).toEqual([2, 2, 2]);
  });

  it('draws each wait from interval × [1 − factor, 1 + factor] and caps the interval at max_interval', async () => {
    const draws = [0, 1, 0, 1, 0.25];
    const { clock, sender, attempts, script } = harness(
      { batchSize: 1, retry: { ...settings.retry, initialIntervalMs: 1000, maxIntervalMs: 2000, multiplier: 2 } },
      { random: () => draws.shift() ?? 0.5 },
    );
    script.push(unavailable, unavailable, unavailable, unavailable, unavailable);
    sender.start();
    sender.add([1]);
    await settle();
    for (let i = 0; i < 50; i++) {
      clock.advance(250);
      await settle();
    }
    const waits = attempts.slice(1).map((a, i) => a.atMs - (attempts[i]?.atMs ?? 0));
    // intervals 1000, 2000, 2000 (capped), 2000, 2000; factor 0.5
    expect(waits).toEqual([500, 3000, 1000, 3000, 1500]);
  });

  it('drops a batch as retries_exhausted when the next wait would pass max_elapsed_time', async () => {
    const { clock, sender, dropped, attempts, script } = harness({
      batchSize: 1,
      retry: { ...settings.retry, initialIntervalMs: 1000, multiplier: 1, maxElapsedMs: 2500 },
    });
    script.push(unavailable, unavailable, unavailable, unavailable);
    sender.start();
    sender.add([7]);
    await settle();
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(attempts.map((a) => a.atMs)).toEqual([0, 1000, 2000]);
    expect(dropped).toEqual([{ items: [7], reason: 'retries_exhausted' }]);
  });

  it('drops at once on a permanent failure, and on any failure when retries are disabled', async () => {
    const permanent = harness({ batchSize: 1 });
    permanent.script.push(invalid);
    permanent.sender.start();
    permanent.sender.add([1]);
    await settle();
    expect(permanent.dropped).toEqual([{ items: [1], reason: 'export_failed' }]);

    const disabled = harness({ batchSize: 1, retry: { ...settings.retry, enabled: false } });
    disabled.script.push(unavailable);
    disabled.sender.start();
    disabled.sender.add([2]);
    await settle();
    expect(disabled.dropped).toEqual([{ items: [2], reason: 'export_failed' }]);
    expect(disabled.attempts).toHaveLength(1);
  });

  it('waits at least the server-requested throttle delay', async () => {
    const { clock, sender, attempts, script } = harness({ batchSize: 1 });
    script.push({ ...unavailable, throttleMs: 20_000 });
    sender.start();
    sender.add([1]);
    await settle();
    clock.advance(19_999);
    await settle();
    expect(attempts).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(attempts).toHaveLength(2);
  });
});

describe('Sender close', () => {
  it('flushes everything queued without waiting for the batch timeout', async () => {
    const { sender, attempts, delivered } = harness();
    sender.start();
    sender.add(range(0, 6));
    await settle();
    await sender.close();
    expect(attempts.map((a) => a.items)).toEqual([range(0, 4), range(4, 6)]);
    expect(delivered).toEqual(range(0, 6));
  });

  it('when the deadline passes, drops the batch in flight and the queue as shutdown_timeout', async () => {
    const { sender, script, dropped, delivered } = harness();
    script.push(deferred<AttemptOutcome>());
    sender.start();
    sender.add(range(0, 6));
    await settle();
    const deadline = new AbortController();
    const closed = sender.close(deadline.signal);
    await settle();
    deadline.abort();
    await closed;
    expect(delivered).toEqual([]);
    expect(dropped).toEqual([
      { items: range(0, 4), reason: 'shutdown_timeout' },
      { items: [4, 5], reason: 'shutdown_timeout' },
    ]);
  });

  it('stops a back-off wait when the deadline passes', async () => {
    const { sender, script, dropped } = harness({ batchSize: 2 });
    script.push(unavailable);
    sender.start();
    sender.add([1, 2]);
    await settle();
    const deadline = new AbortController();
    const closed = sender.close(deadline.signal);
    deadline.abort();
    await closed;
    expect(dropped).toEqual([{ items: [1, 2], reason: 'shutdown_timeout' }]);
  });

  it('drops items added after close', async () => {
    const { sender, dropped } = harness();
    await sender.close();
    sender.add([1]);
    expect(dropped).toEqual([{ items: [1], reason: 'shutdown_timeout' }]);
  });

  it.each([1, 3])('accounts for every item exactly once under random failures (%i consumers)', async (consumers) => {
    const outcomes = [ok, unavailable, invalid];
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const { clock, sender, script, delivered, dropped } = harness(
      { capacity: 50, consumers, batchSize: 8, retry: { ...settings.retry, initialIntervalMs: 10, maxElapsedMs: 100 } },
      { random },
    );
    for (let i = 0; i < 200; i++) script.push(outcomes[Math.floor(random() * 3)] ?? ok);
    sender.start();
    for (let i = 0; i < 20; i++) {
      sender.add(range(i * 10, i * 10 + 10));
      clock.advance(50);
      await settle();
    }
    const closing = sender.close();
    for (let i = 0; i < 100; i++) {
      clock.advance(50);
      await settle();
    }
    await closing;
    const seen = [...delivered, ...dropped.flatMap((d) => d.items)].sort((a, b) => a - b);
    expect(seen).toEqual(range(0, 200));
  });
});
