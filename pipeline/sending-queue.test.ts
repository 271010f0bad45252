import { describe, expect, it } from 'vitest';
import { httpEvent } from '../test/support/components.js';
import { testSettings } from '../test/support/settings.js';
import { until } from '../test/support/until.js';
import type { PipelineRecord } from './records.js';
import { SendingQueue } from './sending-queue.js';

describe('SendingQueue', () => {
  it('lets the event loop run between batches when the exporter settles at once', async () => {
    const { settings } = testSettings('sync_exporter');
    const batches: number[] = [];
    const exporter = {
      consume: (batch: readonly PipelineRecord[]) => {
        batches.push(batch.length);
        return Promise.resolve();
      },
    };
    const queue = new SendingQueue(
      'sync_exporter',
      exporter,
      { queue_size: 1000, batch_size: 10, overflow: 'drop_newest' },
      settings.telemetry,
    );
    queue.start();
    await queue.consume(Array.from({ length: 100 }, (_, i) => httpEvent(i)));
    // A scrape of /metrics or a socket read waits for the event loop in the same way.
    let batchesBeforeOthersRan = -1;
    setImmediate(() => (batchesBeforeOthersRan = batches.length));
    await until(() => batches.length === 10, 'all ten batches');
    expect(batchesBeforeOthersRan).toBeGreaterThanOrEqual(0);
    expect(batchesBeforeOthersRan).toBeLessThan(10);
    await queue.drain();
  });
});
