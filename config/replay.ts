import { resolve } from 'node:path';
import { parseComponentId } from '../pipeline/component.js';

type Mapping = Record<string, unknown>;

const isMapping = (value: unknown): value is Mapping =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Receiver types that read live state; a replay of recorded EVE files has no use for them. */
const liveReceiverTypes = new Set(['suricata_eve', 'conntrack']);

/**
 * Turns an agent config into a replay of EVE files: every live receiver (suricata_eve,
 * conntrack) is replaced by one finite `suricata_eve/replay_N` receiver per file, read from its
 * beginning without following, in the pipelines that had a suricata_eve receiver; the metrics
 * listener is turned off (a replay is a one-shot command). Processors and exporters stay as
 * configured, so a replay produces what the agent would have produced.
 */
export function replayTransform(files: readonly string[]): (document: unknown) => unknown {
  return (document) => {
    if (!isMapping(document)) return document;
    const receivers = isMapping(document.receivers) ? document.receivers : {};
    const replayIds = files.map((_, i) => `suricata_eve/replay_${i}`);
    const kept = Object.fromEntries(Object.entries(receivers).filter(([id]) => !isLive(id)));
    files.forEach((file, i) => {
      kept[replayIds[i] as string] = {
        source: 'file',
        file: { path: resolve(file), start_at: 'beginning', follow: false },
      };
    });
    const service = isMapping(document.service) ? { ...document.service } : {};
    if (isMapping(service.pipelines)) {
      service.pipelines = Object.fromEntries(
        Object.entries(service.pipelines).map(([name, pipeline]) => {
          if (!isMapping(pipeline) || !Array.isArray(pipeline.receivers)) return [name, pipeline];
          const ids = pipeline.receivers.filter((id): id is string => typeof id === 'string');
          const hadEve = ids.some((id) => parseComponentId(id)?.type === 'suricata_eve');
          return [name, { ...pipeline, receivers: [...ids.filter((id) => !isLive(id)), ...(hadEve ? replayIds : [])] }];
        }),
      );
    }
    const telemetry = isMapping(service.telemetry) ? service.telemetry : {};
    service.telemetry = { ...telemetry, metrics: { address: '' } };
    return { ...document, receivers: kept, service };
  };
}

function isLive(id: string): boolean {
  return liveReceiverTypes.has(parseComponentId(id)?.type ?? '');
}
