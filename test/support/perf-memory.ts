import type { AgentBounds } from './perf-agent.js';

/**
 * The memory bound of an agent configured with `AgentBounds`, as docs/overload.md derives it:
 * every queue, store and buffer holds at most its configured number of items, so the live
 * heap above the idle agent is at most the sum of capacity x item size; V8 lets the heap grow
 * to at most `heapGrowth` times the live data before it collects; the rest of the process
 * (code, native buffers, the young generation) is what the idle agent has plus fixed slack.
 *
 * Item sizes were measured with `node --expose-gc` (heap used after a full collection, with
 * and without 20,000 items held) on node 20, for perf-workload.ts's lines (~420 bytes of
 * JSON). They grow with the lines: an event holds its strings.
 */
export const itemBytes = {
  /** A decoded L7 event. */
  event: 520,
  /** A connection in flow_join's store, with its last conntrack sample. */
  connection: 830,
  /** A flow record, without the events it carries. */
  flowRecord: 270,
  /** A mapped OTLP span (its strings shared with the event). */
  span: 620,
  /** A mapped OTLP flow log. */
  log: 2750,
  /** A Pod in k8s_l7's index (a generous figure: names, labels, addresses). */
  pod: 2048,
} as const;

/**
 * V8 lets the old generation grow to at most 4x what survived the last full collection before
 * it collects again (its heap controller's maximum growing factor), so garbage can take up to
 * three times the live data.
 */
export const heapGrowth = 4;
/** The young generation: two 16 MiB semi-spaces and the new large-object space (node 20, 64-bit). */
export const youngGenerationBytes = 48 * 1024 * 1024;
/** Buffers outside the heap (socket reads, gRPC requests) not yet collected. */
export const externalSlackBytes = 64 * 1024 * 1024;

/** The agent measured idle, after a full collection. */
export interface IdleMemory {
  readonly rssBytes: number;
  readonly heapTotalBytes: number;
  /** Heap used after a full collection: code-independent live data of the idle agent. */
  readonly liveHeapBytes: number;
}

export interface MemoryBound {
  /** Live bytes each bounded structure can hold at most, by name. */
  readonly terms: Readonly<Record<string, number>>;
  readonly liveBytes: number;
  /**
   * RSS outside the heap when idle, plus heapGrowth x (idle live heap + live bytes), plus the
   * young generation and external slack.
   */
  readonly rssBytes: number;
}

export function memoryBound(b: AgentBounds, idle: IdleMemory): MemoryBound {
  const flowRecord = itemBytes.flowRecord + b.maxTransactionsPerFlow * itemBytes.event;
  // A client holds a partial line and one 64 KiB read (with its decoded events) at a time.
  const readChunk = 64 * 1024;
  const eventsPerChunk = Math.ceil(readChunk / 100);
  const terms = {
    eve_clients: b.maxClients * (2 * b.maxLineBytes + readChunk + eventsPerChunk * itemBytes.event),
    join_connections:
      b.maxConnections * itemBytes.connection +
      Math.min(b.maxHeldTransactions, b.maxConnections * b.maxTransactionsPerFlow) * itemBytes.event,
    join_pending: b.maxPending * itemBytes.event,
    // Two exporters, each its queue plus the batch it is working on.
    sending_queues: 2 * (b.sendingQueue + b.sendingBatch) * flowRecord,
    otlp_spans: (b.otlpQueue + b.otlpConsumers * b.otlpBatch) * itemBytes.span,
    otlp_logs: (b.otlpQueue + b.otlpConsumers * b.otlpBatch) * itemBytes.log,
    ipfix_messages: b.ipfixQueue * (b.ipfixMessageSize || 65535),
    k8s_pods: b.maxPods * itemBytes.pod,
  };
  const liveBytes = Object.values(terms).reduce((sum, v) => sum + v, 0);
  const outsideHeap = idle.rssBytes - idle.heapTotalBytes;
  const rssBytes =
    outsideHeap + heapGrowth * (idle.liveHeapBytes + liveBytes) + youngGenerationBytes + externalSlackBytes;
  return { terms, liveBytes, rssBytes };
}
