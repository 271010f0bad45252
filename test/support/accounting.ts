import type { Telemetry } from '../../pipeline/telemetry.js';

/**
 * The accounting identities of docs/metrics.md, checked against a scrape of `/metrics` (or of a
 * Telemetry registry in process). Nothing here knows how a component counts: it reads the
 * exposition text the way any Prometheus would, and sums.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One scrape, parsed from the Prometheus text exposition format (version 0.0.4). */
export class MetricsSnapshot {
  constructor(readonly samples: readonly Sample[]) {}

  static parse(text: string): MetricsSnapshot {
    const samples: Sample[] = [];
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      samples.push({ name: match[1] ?? '', labels: parseLabels(match[2] ?? ''), value: Number(match[3]) });
    }
    return new MetricsSnapshot(samples);
  }

  /** GET /metrics from a running agent (`address` is host:port). */
  static async scrape(address: string): Promise<MetricsSnapshot> {
    const response = await fetch(`http://${address}/metrics`);
    if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
    return MetricsSnapshot.parse(await response.text());
  }

  /** The same text /metrics would serve, from a registry in this process. */
  static async of(telemetry: Telemetry): Promise<MetricsSnapshot> {
    return MetricsSnapshot.parse(await telemetry.registry.metrics());
  }

  /** Sum of the samples of `name` whose labels include `labels` (0 when there are none). */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number {
    let sum = 0;
    for (const s of this.samples) if (s.name === name && matches(s.labels, labels)) sum += s.value;
    return sum;
  }

  /** The samples of `name` matching `labels`, summed by the value of `label`. */
  by(name: string, label: string, labels: Readonly<Record<string, string>> = {}): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples) {
      if (s.name !== name || !matches(s.labels, labels)) continue;
      const key = s.labels[label] ?? '';
      out[key] = (out[key] ?? 0) + s.value;
    }
    return out;
  }

  /** Component ids that report any record counter, held gauge or drop. */
  components(): string[] {
    const ids = new Set<string>();
    for (const s of this.samples)
      if (recordFamilies.includes(s.name) && s.labels.component) ids.add(s.labels.component);
    return [...ids].sort();
  }
}

const recordFamilies = [
  'l7flow_records_received_total',
  'l7flow_records_sent_total',
  'l7flow_records_dropped_total',
  'l7flow_records_held',
];

/** One component's terms of received = sent + dropped + held. */
export interface StageAccount {
  readonly component: string;
  readonly received: number;
  readonly sent: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly held: Readonly<Record<string, number>>;
}

export function stageAccount(snapshot: MetricsSnapshot, component: string): StageAccount {
  const of = { component };
  return {
    component,
    received: snapshot.value('l7flow_records_received_total', of),
    sent: snapshot.value('l7flow_records_sent_total', of),
    dropped: snapshot.by('l7flow_records_dropped_total', 'reason', of),
    held: snapshot.by('l7flow_records_held', 'buffer', of),
  };
}

/**
 * Every identity of docs/metrics.md that fails in `snapshot`, one line each (empty when all
 * hold). Generic components: received = sent + dropped + held. flow_join: its transaction,
 * record and connection identities. suricata_eve: also lines read against their fates.
 */
export function accountingViolations(snapshot: MetricsSnapshot): string[] {
  const problems: string[] = [];
  const check = (component: string, identity: string, left: number, right: number) => {
    if (left !== right) problems.push(`${component}: ${identity}: ${left} != ${right}`);
  };
  for (const component of snapshot.components()) {
    const a = stageAccount(snapshot, component);
    const of = { component };
    const dropped = sum(a.dropped);
    const held = sum(a.held);
    const type = component.split('/')[0];
    if (type === 'flow_join') {
      check(
        component,
        'transactions received = exported + dropped(unmatched) + held',
        snapshot.value('l7flow_join_transactions_received_total', of),
        snapshot.value('l7flow_join_transactions_exported_total', of) + (a.dropped.unmatched ?? 0) + held,
      );
      check(
        component,
        'flow records made = sent + dropped(rejected)',
        snapshot.value('l7flow_join_records_total', of),
        a.sent + (a.dropped.rejected ?? 0),
      );
      check(
        component,
        'connections opened = forgotten + held',
        snapshot.value('l7flow_join_connections_opened_total', of),
        snapshot.value('l7flow_join_connections_forgotten_total', of) +
          snapshot.value('l7flow_queue_size', { component, queue: 'connections' }),
      );
      continue;
    }
    check(component, 'received = sent + dropped + held', a.received, a.sent + dropped + held);
    if (type === 'suricata_eve') {
      const lost = (a.dropped.oversize ?? 0) + (a.dropped.truncated ?? 0);
      check(
        component,
        'lines read = lines skipped + records received - lines lost before framing (oversize, truncated)',
        snapshot.value('l7flow_eve_lines_total', of),
        snapshot.value('l7flow_eve_lines_skipped_total', of) + a.received - lost,
      );
    }
  }
  return problems;
}

/** A linear pipeline, as in the service section of the config. */
export interface PipelineIds {
  readonly receivers: readonly string[];
  readonly processors: readonly string[];
  readonly exporters: readonly string[];
}

/**
 * Edges of one pipeline whose two ends disagree: what a component sent is what the next one
 * received (its exporters each receive everything the last processor sent). Only meaningful
 * when the components belong to this pipeline alone.
 */
export function edgeViolations(snapshot: MetricsSnapshot, pipeline: PipelineIds): string[] {
  const problems: string[] = [];
  const sent = (ids: readonly string[]) =>
    ids.reduce((n, component) => n + snapshot.value('l7flow_records_sent_total', { component }), 0);
  const received = (component: string) => snapshot.value('l7flow_records_received_total', { component });
  let from = pipeline.receivers;
  for (const to of [...pipeline.processors.map((p) => [p]), pipeline.exporters]) {
    for (const component of to) {
      if (sent(from) !== received(component))
        problems.push(`${from.join('+')} -> ${component}: sent ${sent(from)}, received ${received(component)}`);
    }
    from = to;
  }
  return problems;
}

/** Where the L7 transactions decoded by the EVE receivers went, summed over components. */
export interface TransactionFates {
  /** Decoded from EVE lines (receiver records received, minus the lines lost). */
  readonly decoded: number;
  /** Dropped before or inside flow_join, by `component/reason`. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Placed into flow records by flow_join (each exactly once). */
  readonly exported: number;
  /** Still waiting inside flow_join. */
  readonly held: number;
}

export function transactionFates(snapshot: MetricsSnapshot): TransactionFates {
  let decoded = 0;
  let exported = 0;
  let held = 0;
  const dropped: Record<string, number> = {};
  for (const component of snapshot.components()) {
    const a = stageAccount(snapshot, component);
    const type = component.split('/')[0];
    const add = (reason: string, n: number) => {
      if (n > 0) dropped[`${component}/${reason}`] = n;
    };
    if (type === 'suricata_eve') {
      const lost = ['malformed', 'invalid', 'oversize', 'truncated'].reduce((n, r) => n + (a.dropped[r] ?? 0), 0);
      decoded += a.received - lost;
      add('rejected', a.dropped.rejected ?? 0);
    } else if (type === 'k8s_l7') {
      for (const reason of ['no_pod', 'not_opted_in', 'not_synced']) add(reason, a.dropped[reason] ?? 0);
    } else if (type === 'flow_join') {
      add('unmatched', a.dropped.unmatched ?? 0);
      exported += snapshot.value('l7flow_join_transactions_exported_total', { component });
      held += sum(a.held);
    }
  }
  return { decoded, dropped, exported, held };
}

function sum(values: Readonly<Record<string, number>>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}

function matches(labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(wanted)) if (labels[key] !== value) return false;
  return true;
}

/** `a="x",b="y\"z"` as Prometheus escapes label values (backslash, quote, newline). */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
  for (const match of text.matchAll(pattern)) {
    labels[match[1] ?? ''] = (match[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}
