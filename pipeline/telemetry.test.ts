import { describe, expect, it } from 'vitest';
import { CaptureLogger } from '../test/support/capture-logger.js';
import { ManualClock } from '../test/support/manual-clock.js';
import { MetricsSnapshot } from '../test/support/accounting.js';
import { Telemetry } from './telemetry.js';

describe('records held', () => {
  it('reads every declared holder at each scrape, labelled by component and buffer', async () => {
    const telemetry = new Telemetry();
    const join = telemetry.forComponent('flow_join', new CaptureLogger(), new ManualClock());
    const ipfix = telemetry.forComponent('ipfix/tcp', new CaptureLogger(), new ManualClock());
    let pending = 3;
    join.holds('pending_l7', () => pending);
    ipfix.holds('send_queue', () => 7);

    const first = await MetricsSnapshot.of(telemetry);
    expect(first.by('l7flow_records_held', 'buffer', { component: 'flow_join' })).toEqual({ pending_l7: 3 });
    expect(first.value('l7flow_records_held', { component: 'ipfix/tcp', buffer: 'send_queue' })).toBe(7);

    pending = 0;
    const second = await MetricsSnapshot.of(telemetry);
    expect(second.value('l7flow_records_held', { component: 'flow_join', buffer: 'pending_l7' })).toBe(0);
  });
});
