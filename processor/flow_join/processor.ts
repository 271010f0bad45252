import type { ConsumingComponent, Settings } from '../../pipeline/component.js';
import type { Consumer } from '../../pipeline/consumer.js';
import { ClosedError } from '../../pipeline/errors.js';
import { once } from '../../pipeline/once.js';
import type { FlowEndReason, PipelineRecord } from '../../pipeline/records.js';
import type { Timer } from '../../pipeline/clock.js';
import type { FlowJoinConfig } from './factory.js';
import { FlowTable, type CapLimit, type FlowTableEvents, type TransactionResult } from './flow-table.js';
import type { BoundCounter } from '../../pipeline/telemetry.js';

const reasonLabels: Readonly<Record<FlowEndReason, string>> = {
  1: 'idle_timeout',
  2: 'active_timeout',
  3: 'end_of_flow',
  4: 'forced_end',
  5: 'lack_of_resources',
};

/**
 * The shell around FlowTable: feeds it the batches it receives, runs its expiry on a timer
 * and after each batch, and hands the records it produces downstream. At shutdown every live
 * connection is exported as forced to end (flowEndReason 4).
 */
export class FlowJoinProcessor implements ConsumingComponent {
  readonly #table: FlowTable;
  readonly #tickMs: number;
  readonly #transactionsReceived: BoundCounter;
  #timer: Timer | undefined;
  #closed = false;

  constructor(
    private readonly settings: Settings,
    private readonly config: FlowJoinConfig,
    private readonly next: Consumer<PipelineRecord>,
  ) {
    const telemetry = settings.telemetry;
    const exports = telemetry.counter('l7flow_join_records_total', 'Flow records produced, by flowEndReason.', [
      'reason',
    ]);
    const transactions = telemetry.counter(
      'l7flow_join_transactions_total',
      'Transactions joined: matched on arrival, after waiting, late (after the end), or exported unmatched.',
      ['result'],
    );
    const forgotten = telemetry.counter(
      'l7flow_join_connections_forgotten_total',
      'Connections removed from the store, each after its last record: ended, replaced (tuple reused), stale (no sample for stale_timeout), evicted (max_connections).',
      ['reason'],
    );
    const opened = telemetry.counter(
      'l7flow_join_connections_opened_total',
      'Connections added to the store (opened = forgotten + held).',
    )();
    const transactionsReceived = telemetry.counter(
      'l7flow_join_transactions_received_total',
      'L7 transactions consumed (received = exported + dropped + held).',
    )();
    const transactionsExported = telemetry.counter(
      'l7flow_join_transactions_exported_total',
      'L7 transactions placed into flow records, each exactly once.',
    )();
    const pendingEvicted = telemetry.counter(
      'l7flow_join_pending_evicted_total',
      'Waiting transactions pushed out by max_pending and treated as unmatched.',
    )();
    const capExports = telemetry.counter(
      'l7flow_join_cap_records_total',
      'Records made early because a bound on waiting transactions was reached, by the bound (max_transactions_per_flow, max_held_transactions).',
      ['limit'],
    );
    // Children bound once: these run per record and per transaction.
    const exportCounters = Object.fromEntries(
      Object.entries(reasonLabels).map(([code, reason]) => [code, exports({ reason })]),
    ) as Record<string, BoundCounter>;
    const transactionCounters: Record<TransactionResult, BoundCounter> = {
      matched: transactions({ result: 'matched' }),
      matched_after_wait: transactions({ result: 'matched_after_wait' }),
      late: transactions({ result: 'late' }),
      unmatched: transactions({ result: 'unmatched' }),
    };
    const capExportsBy: Record<CapLimit, BoundCounter> = {
      max_transactions_per_flow: capExports({ limit: 'max_transactions_per_flow' }),
      max_held_transactions: capExports({ limit: 'max_held_transactions' }),
    };
    this.#transactionsReceived = transactionsReceived;
    const events: FlowTableEvents = {
      exported: (reason, transactions) => {
        exportCounters[reason]?.inc();
        if (transactions > 0) transactionsExported.inc(transactions);
      },
      opened: (count) => opened.inc(count),
      transactions: (result, count) => transactionCounters[result].inc(count),
      dropped: (reason, count) => telemetry.dropped(reason, count),
      forgotten: (reason, count) => forgotten({ reason }).inc(count),
      pendingEvicted: (count) => pendingEvicted.inc(count),
      capExports: (limit, count) => capExportsBy[limit].inc(count),
    };
    const ms = 1000;
    this.#table = new FlowTable(
      {
        activeTimeoutUs: config.active_timeout * ms,
        idleTimeoutUs: config.idle_timeout * ms,
        pendingTtlUs: config.l7_pending_ttl * ms,
        staleTimeoutUs: config.stale_timeout * ms,
        unmatched: config.unmatched,
        maxConnections: config.max_connections,
        maxPending: config.max_pending,
        maxTransactionsPerFlow: config.max_transactions_per_flow,
        maxHeldTransactions: config.max_held_transactions,
        connectionsExpected: settings.inputs?.has('conn') ?? true,
      },
      events,
    );
    const table = this.#table;
    telemetry.queue('connections', {
      get size() {
        return table.connections;
      },
      capacity: config.max_connections,
    });
    telemetry.queue('pending_l7', {
      get size() {
        return table.pending;
      },
      capacity: config.max_pending,
    });
    // Held transactions, in the unit flow_join's identity counts: L7 records received.
    telemetry.holds('pending_l7', () => table.pendingTransactions);
    telemetry.holds('joined_l7', () => table.joinedTransactions);
    // Timeouts are honoured to within a tenth of the shortest one (50 ms to 1 s).
    const shortest = Math.min(config.active_timeout, config.idle_timeout, config.l7_pending_ttl || Infinity);
    this.#tickMs = Math.min(1000, Math.max(50, Math.floor(shortest / 10)));
  }

  details() {
    return {
      activeTimeout: this.config.active_timeout,
      idleTimeout: this.config.idle_timeout,
      connectionsExpected: this.settings.inputs?.has('conn') ?? true,
    };
  }

  async start(): Promise<void> {
    if (!this.#closed) this.#arm();
    return Promise.resolve();
  }

  async consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#closed) throw new ClosedError(this.settings.id);
    const nowUs = this.settings.clock.nowUs();
    const passThrough: PipelineRecord[] = [];
    let transactions = 0;
    for (const record of batch) {
      switch (record.kind) {
        case 'conn':
          this.#table.ingestSample(record, nowUs);
          break;
        case 'conn_dump_end':
          this.#table.ingestDumpEnd(record, nowUs);
          break;
        case 'http':
        case 'tls':
        case 'dns':
          transactions++;
          this.#table.ingestEvent(record, nowUs);
          break;
        case 'flow':
          passThrough.push(record);
          break;
      }
    }
    if (transactions > 0) this.#transactionsReceived.inc(transactions);
    this.#table.expire(nowUs);
    await this.#emit(nowUs, passThrough);
  }

  readonly shutdown = once(async (): Promise<void> => {
    this.#closed = true;
    this.#timer?.cancel();
    const nowUs = this.settings.clock.nowUs();
    this.#table.flushAll(nowUs);
    await this.#emit(nowUs);
  });

  #arm(): void {
    this.#timer = this.settings.clock.setTimeout(() => {
      if (this.#closed) return;
      const nowUs = this.settings.clock.nowUs();
      this.#table.expire(nowUs);
      this.#arm();
      void this.#emit(nowUs);
    }, this.#tickMs);
  }

  /** Hands on what the table produced; never rejects (a refused batch is counted). */
  async #emit(nowUs: number, extra: readonly PipelineRecord[] = []): Promise<void> {
    const records: PipelineRecord[] = this.#table.takeOutput(nowUs);
    if (extra.length > 0) records.push(...extra);
    if (records.length === 0) return;
    try {
      await this.next.consume(records);
    } catch (error) {
      this.settings.telemetry.dropped(
        'rejected',
        records.length,
        error instanceof Error ? error.message : String(error),
      );
    }
  }
}
