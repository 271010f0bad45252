import type { Clock } from '../../pipeline/clock.js';
import type { Settings } from '../../pipeline/component.js';
import { Telemetry } from '../../pipeline/telemetry.js';
import { CaptureLogger } from './capture-logger.js';
import { ManualClock } from './manual-clock.js';

/** Settings for creating one component directly in a test, with everything observable. */
export function testSettings(id: string, clock: Clock = new ManualClock()) {
  const telemetry = new Telemetry();
  const logger = new CaptureLogger();
  const settings: Settings = { id, logger, clock, telemetry: telemetry.forComponent(id, logger, clock) };
  return { settings, telemetry, logger, clock };
}

/** The value of one sample of a metric family, or 0 when it has not been recorded. */
export async function metricValue(telemetry: Telemetry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = telemetry.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const sample = values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
  return sample?.value ?? 0;
}
