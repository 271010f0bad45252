import { formatHostPort } from '../../config/address.js';
import { sleep, type Timer } from '../../pipeline/clock.js';
import type { ConsumingComponent, Host, Settings } from '../../pipeline/component.js';
import { ClosedError } from '../../pipeline/errors.js';
import { deferred, once, type Deferred } from '../../pipeline/once.js';
import type { PipelineRecord } from '../../pipeline/records.js';
import { reconnectDelayMs } from './backoff.js';
import type { EncodedMessage } from './codec/message.js';
import { FlowEncoder, type EncodeReport } from './encoder.js';
import type { ResolvedIpfixConfig } from './factory.js';
import { createMetrics, type DropReason, type Metrics } from './metrics.js';
import type { ReliabilityStats } from './options.js';
import { SendQueue, type QueuedMessage } from './send-queue.js';
import { SessionHeader } from './session.js';
import { FileFull, type Connection, type Transport } from './transport.js';
import { FileTransport } from './transport-file.js';
import { StreamTransport } from './transport-tcp.js';
import { UdpTransport } from './transport-udp.js';

/**
 * The IPFIX exporter: consume() encodes flow records into messages (pure, synchronous) and
 * queues them; one background runner owns the transport, opening sessions with back-off,
 * sending templates first on each, then the queued messages in order.
 *
 * Back-pressure: while a session is up (or being opened) and the queue is full, consume()
 * waits for the runner to make room, so a slow collector slows the pipeline (the graph's
 * sending queue absorbs it). While no session is up, consume() never waits: a full queue
 * drops by `overflow` and counts, and the sequence numbers of the next session skip the
 * loss. Every wait is bounded: by connect_timeout, or by write_timeout on a stalled session.
 *
 * Accounting: a flow counts as sent when the message holding its main record is written,
 * and as dropped (by reason) when that message is dropped. Continuation and IANA HTTP
 * records are counted in the IPFIX data-record metrics. Until then it is held, in records:
 * `encoding` (its consume() call waits for room in the queue), `send_queue`, or `sending`
 * (its message is being written).
 */
export class IpfixExporter implements ConsumingComponent {
  readonly #encoder: FlowEncoder;
  readonly #queue: SendQueue;
  readonly #metrics: Metrics;
  readonly #transport: Transport;
  /** Aborts the runner: shutdown deadline passed, or shutdown done. */
  readonly #abort = new AbortController();
  #runner: Promise<void> | undefined;
  #closed = false;
  #flushing = false;
  #connection: Connection | undefined;
  #connecting = false;
  #wakeRunner: Deferred | undefined;
  #roomFreed: Deferred | undefined;
  #pauseEnded: AbortController | undefined;
  #refreshTimer: Timer | undefined;
  #refreshDue = false;
  /** A datagram was lost: the collector may have restarted, so templates go before the next message. */
  #templatesLost = false;
  #sessions = 0;
  #outage = false;
  /** Flows of consume() calls not queued yet (waiting for room). */
  #encoding = 0;
  /** Flows of messages taken off the queue whose write has not settled. */
  #sending = 0;
  readonly #notSent = { flows: 0, packets: 0, octets: 0, firstMs: 0, lastMs: 0 };

  constructor(
    private readonly settings: Settings,
    private readonly resolved: ResolvedIpfixConfig,
    transport?: Transport,
  ) {
    const { config } = resolved;
    this.#encoder = new FlowEncoder({
      profile: config.profile,
      httpEncoding: config.http_encoding,
      maxMessageSize: resolved.maxMessageSize,
      observationDomainId: resolved.observationDomainId,
    });
    this.#queue = new SendQueue(config.queue_size, config.overflow, (m) => this.#dropped(m, 'queue_full'));
    this.#transport = transport ?? createTransport(resolved, settings, () => this.#udpError());
    this.#metrics = createMetrics(settings, this.#transport.name);
    settings.telemetry.queue('send_queue', this.#queue);
    settings.telemetry.holds('encoding', () => this.#encoding);
    settings.telemetry.holds('send_queue', () => this.#queue.flows);
    settings.telemetry.holds('sending', () => this.#sending);
  }

  details(): Readonly<Record<string, unknown>> {
    const { config, transport, endpoint, maxMessageSize, observationDomainId } = this.resolved;
    return {
      transport,
      ...(transport === 'file' || !endpoint ? { path: config.path } : { endpoint: formatHostPort(endpoint) }),
      profile: config.profile,
      httpEncoding: config.http_encoding,
      observationDomainId,
      maxMessageSize,
    };
  }

  async start(_host: Host): Promise<void> {
    if (this.#closed || this.#runner) return;
    await this.#transport.check?.();
    this.#runner = this.#run();
  }

  async consume(batch: readonly PipelineRecord[]): Promise<void> {
    if (this.#closed) throw new ClosedError(this.settings.id);
    const { messages, report } = this.#encoder.encode(batch);
    this.#account(report);
    for (const message of messages) this.#encoding += message.flows;
    for (const message of messages) {
      while (this.#queue.full && this.#sessionLikely && !this.#closed) {
        this.#roomFreed ??= deferred();
        await this.#roomFreed.promise;
      }
      this.#encoding -= message.flows;
      this.#queue.push(message);
      this.#wakeRunner?.resolve();
    }
  }

  /**
   * Stops intake, then sends what is queued while a session is up (making one immediate
   * connection attempt if none is), until the queue is empty or `signal` aborts. What is
   * left is counted as dropped.
   */
  readonly shutdown = once(async (signal?: AbortSignal): Promise<void> => {
    this.#closed = true;
    this.#flushing = true;
    this.#wakeProducers();
    this.#wakeRunner?.resolve();
    this.#pauseEnded?.abort();
    const abort = () => {
      this.#abort.abort();
      void this.#connection?.close();
    };
    if (signal?.aborted) abort();
    signal?.addEventListener('abort', abort, { once: true });
    await this.#runner;
    signal?.removeEventListener('abort', abort);
    this.#abort.abort();
    this.#refreshTimer?.cancel();
    const reason: DropReason = signal?.aborted ? 'shutdown_timeout' : 'collector_unreachable';
    for (const item of this.#queue.clear()) this.#dropped(item.message, reason);
  });

  /**
   * Whether messages are about to move: a session is up, or a connection attempt (bounded
   * by connect_timeout) is under way. Only then does a producer wait for room.
   */
  get #sessionLikely(): boolean {
    return this.#connection !== undefined || this.#connecting;
  }

  /** Opens sessions one after another until shutdown; never throws. */
  async #run(): Promise<void> {
    const { reconnect } = this.resolved.config;
    let failures = 0;
    let flushAttempted = false;
    let rotating = false;
    while (!this.#abort.signal.aborted) {
      if (this.#flushing && !rotating) {
        // Shutdown gets one more session at most, and none when there is nothing to send.
        if (this.#queue.size === 0 || flushAttempted) return;
        flushAttempted = true;
      }
      rotating = false;
      let connection: Connection;
      this.#connecting = true;
      try {
        connection = await this.#transport.open(this.#abort.signal);
      } catch (error) {
        this.#connecting = false;
        this.#wakeProducers(); // waiting producers now drop instead
        if (this.#abort.signal.aborted) return;
        failures++;
        this.#metrics.connectFailures.inc();
        this.#sessionLost(error);
        if (this.#flushing) return;
        await this.#pause(
          reconnectDelayMs(failures, reconnect.initial_interval, reconnect.max_interval, Math.random()),
        );
        continue;
      }
      this.#connecting = false;
      failures = 0;
      const ended = await this.#serve(connection);
      await connection.close().catch(() => {});
      if (this.#abort.signal.aborted || (this.#flushing && this.#queue.size === 0)) return;
      if (ended instanceof FileFull) {
        rotating = true; // a new file at once; every file takes at least one message
        continue;
      }
      this.#sessionLost(ended);
      if (!this.#flushing) await this.#pause(reconnect.initial_interval);
    }
  }

  /**
   * One session: templates first, then queued messages, until the session ends or the
   * flush is done. Returns why the session ended (undefined when we ended it).
   */
  async #serve(connection: Connection): Promise<Error | undefined> {
    let ended: Error | undefined;
    let over = false;
    void connection.ended.then((error) => {
      ended ??= error;
      over = true;
      this.#wakeRunner?.resolve();
    });
    const header = new SessionHeader();
    this.#connection = connection;
    this.#sessions++;
    this.#metrics.sessionUp.set(1);
    if (this.#sessions > 1) this.#metrics.reconnects.inc();
    if (this.#outage) this.settings.logger.info({ transport: this.#transport.name }, 'IPFIX session established');
    this.#outage = false;
    // Datagrams go out without waiting for each send's completion, a few at a time.
    const inFlight: Promise<void>[] = [];
    const settle = () => Promise.all(inFlight.splice(0));
    try {
      this.#refreshDue = true; // every session starts with the templates
      this.#templatesLost = false;
      while (!over) {
        if (this.#refreshDue) {
          this.#refreshDue = false;
          const failure = await this.#sendAll(connection, header, this.#encoder.sessionMessages(this.#stats()));
          if (failure) {
            ended = failure;
            break;
          }
          this.#scheduleRefresh();
        }
        const item = this.#queue.shift();
        if (item) this.#sending += item.message.flows;
        if (!item) {
          await settle();
          if (this.#flushing) {
            // The rfc profile's last word: how much this exporter could not send.
            ended = await this.#sendAll(connection, header, this.#encoder.statsMessages(this.#stats()));
            break;
          }
          await this.#idle();
          continue;
        }
        // Producers waiting for room resume once half the queue is free, not per message.
        if (this.#queue.size <= this.#queue.capacity / 2) this.#wakeProducers();
        if (this.#templatesLost) {
          this.#templatesLost = false;
          const lost = await this.#sendAll(connection, header, this.#encoder.sessionMessages(this.#stats()));
          if (lost) {
            this.#requeue(item);
            ended = lost;
            break;
          }
        }
        if (connection.kind === 'datagram') {
          inFlight.push(this.#sendDatagram(connection, header, item));
          if (inFlight.length >= DATAGRAM_WINDOW) await inFlight.shift();
          continue;
        }
        const failure = await this.#sendOnStream(connection, header, item);
        if (failure) {
          ended = failure;
          break;
        }
      }
      await settle();
    } finally {
      this.#connection = undefined;
      this.#refreshTimer?.cancel();
      this.#metrics.sessionUp.set(0);
      this.#wakeProducers();
    }
    return ended;
  }

  /**
   * Writes one queued message on a stream. A failed write ends the session: the message
   * goes back to the head of the queue for the next session, and the error is returned.
   */
  async #sendOnStream(connection: Connection, header: SessionHeader, item: QueuedMessage): Promise<Error | undefined> {
    const { message, skippedBefore } = item;
    header.stamp(message.bytes, this.settings.clock.nowUs(), skippedBefore);
    try {
      await connection.write(message.bytes);
    } catch (error) {
      this.#requeue(item);
      return asError(error);
    }
    header.advance(skippedBefore + message.dataRecords);
    this.#sending -= message.flows;
    this.#dataSent(message);
    return undefined;
  }

  /** Puts a message whose write failed back at the head of the queue, for the next session. */
  #requeue(item: QueuedMessage): void {
    this.#sending -= item.message.flows;
    this.#queue.unshift(item);
  }

  /**
   * Sends one queued message as a datagram. Its records count in the sequence as soon as
   * it leaves, delivered or not; a failed send loses that message only (counted), and as
   * the collector may have restarted without our templates, they go before the next one.
   */
  async #sendDatagram(connection: Connection, header: SessionHeader, item: QueuedMessage): Promise<void> {
    const { message, skippedBefore } = item;
    header.stamp(message.bytes, this.settings.clock.nowUs(), skippedBefore);
    header.advance(skippedBefore + message.dataRecords);
    try {
      await connection.write(message.bytes);
    } catch {
      this.#sending -= message.flows;
      this.#dropped(message, 'send_failed');
      this.#templatesLost = true;
      return;
    }
    this.#sending -= message.flows;
    this.#dataSent(message);
  }

  #dataSent(message: EncodedMessage): void {
    this.#sent(message);
    this.settings.telemetry.sent(message.flows);
  }

  /** Writes session messages (templates, options); returns the error that ended a stream session. */
  async #sendAll(
    connection: Connection,
    header: SessionHeader,
    messages: readonly EncodedMessage[],
  ): Promise<Error | undefined> {
    for (const message of messages) {
      header.stamp(message.bytes, this.settings.clock.nowUs(), 0);
      try {
        await connection.write(message.bytes);
      } catch (error) {
        if (connection.kind === 'stream') return asError(error);
        this.#templatesLost = true;
        continue;
      }
      header.advance(message.dataRecords);
      this.#sent(message);
    }
    return undefined;
  }

  /**
   * The UDP socket reported an error, typically ICMP port unreachable: some earlier
   * datagram did not reach a collector, and which one cannot be known (it was counted as
   * sent). Counted; the collector may be restarting, so templates go before the next message.
   */
  #udpError(): void {
    this.#metrics.udpErrors.inc();
    this.#templatesLost = true;
  }

  #sent(message: EncodedMessage): void {
    this.#metrics.messagesSent.inc();
    this.#metrics.bytesSent.inc(message.bytes.length);
    if (message.dataRecords > 0) this.#metrics.dataRecordsSent.inc(message.dataRecords);
    if (message.templateRecords > 0) this.#metrics.templateRecordsSent.inc(message.templateRecords);
  }

  #dropped(message: EncodedMessage, reason: DropReason): void {
    this.settings.telemetry.dropped(reason, message.flows);
    this.#metrics.dataRecordsDropped(reason).inc(message.dataRecords);
    this.#notSentFlows(message.flows, message.packets, message.octets);
  }

  #account(report: EncodeReport): void {
    this.settings.telemetry.dropped('invalid_record', report.invalid);
    this.settings.telemetry.dropped('record_too_large', report.tooLarge);
    this.settings.telemetry.dropped('unsupported_record', report.unsupported);
    this.#notSentFlows(report.invalid + report.tooLarge, 0, 0);
    if (report.continuations > 0) this.#metrics.continuations.inc(report.continuations);
    if (report.truncatedTransactions > 0) this.#metrics.transactionsTruncated.inc(report.truncatedTransactions);
    if (report.droppedTransactions > 0) this.#metrics.transactionsDropped.inc(report.droppedTransactions);
  }

  #notSentFlows(flows: number, packets: number, octets: number): void {
    if (flows === 0) return;
    const n = this.#notSent;
    const nowMs = Math.floor(this.settings.clock.nowUs() / 1000);
    if (n.flows === 0) n.firstMs = nowMs;
    n.lastMs = nowMs;
    n.flows += flows;
    n.packets += packets;
    n.octets += octets;
  }

  #stats(): ReliabilityStats {
    const n = this.#notSent;
    return {
      exportingProcessId: this.resolved.observationDomainId,
      notSentFlows: n.flows,
      notSentPackets: n.packets,
      notSentOctets: n.octets,
      firstDropMs: n.firstMs,
      lastDropMs: n.lastMs,
    };
  }

  /** UDP: templates again every template_refresh (RFC 7011 §8.4). */
  #scheduleRefresh(): void {
    if (!this.#transport.refreshesTemplates) return;
    this.#refreshTimer?.cancel();
    this.#refreshTimer = this.settings.clock.setTimeout(() => {
      this.#refreshDue = true;
      this.#wakeRunner?.resolve();
    }, this.resolved.config.template_refresh);
  }

  #wakeProducers(): void {
    this.#roomFreed?.resolve();
    this.#roomFreed = undefined;
  }

  /** Waits until a message is queued, the session ends, a refresh is due, or shutdown starts. */
  async #idle(): Promise<void> {
    if (this.#queue.size > 0 || this.#flushing || this.#refreshDue) return;
    this.#wakeRunner = deferred();
    await this.#wakeRunner.promise;
    this.#wakeRunner = undefined;
  }

  /** Sleeps on the clock; shutdown (for the flush's connection attempt) or abort end it early. */
  async #pause(ms: number): Promise<void> {
    if (this.#flushing || this.#abort.signal.aborted) return;
    this.#pauseEnded = new AbortController();
    const onAbort = () => this.#pauseEnded?.abort();
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    await sleep(this.settings.clock, ms, this.#pauseEnded.signal);
    this.#abort.signal.removeEventListener('abort', onAbort);
    this.#pauseEnded = undefined;
  }

  /** Logs the first failure of an outage; later ones only count. */
  #sessionLost(error: unknown): void {
    if (this.#outage) return;
    this.#outage = true;
    const detail = error === undefined ? 'session ended' : asError(error).message;
    this.settings.logger.warn(
      { transport: this.#transport.name, error: detail },
      this.#sessions > 0 ? 'IPFIX session lost; reconnecting' : 'IPFIX collector unreachable; retrying',
    );
  }
}

/** Datagrams handed to the socket before waiting for the oldest one's completion. */
const DATAGRAM_WINDOW = 32;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function createTransport(
  resolved: ResolvedIpfixConfig,
  settings: Settings,
  onUdpError: (error: Error) => void,
): Transport {
  const { config, endpoint } = resolved;
  switch (resolved.transport) {
    case 'file':
      return new FileTransport(
        { path: config.path, maxBytes: config.max_file_size, maxBackups: config.max_backups },
        ({ truncatedBytes }) => {
          if (truncatedBytes > 0)
            settings.logger.warn(
              { path: config.path, truncatedBytes },
              'cut an incomplete message off the end of the IPFIX file before appending',
            );
        },
      );
    case 'udp':
      return new UdpTransport(endpoint?.host ?? '', endpoint?.port ?? 0, onUdpError);
    case 'tcp':
    case 'tls': {
      const tls = config.tls;
      return new StreamTransport({
        host: endpoint?.host ?? '',
        port: endpoint?.port ?? 0,
        connectTimeoutMs: config.connect_timeout,
        writeTimeoutMs: config.write_timeout,
        ...(resolved.transport === 'tls'
          ? {
              tls: {
                caFile: tls.ca_file,
                certFile: tls.cert_file,
                keyFile: tls.key_file,
                serverName: tls.server_name,
                insecureSkipVerify: tls.insecure_skip_verify,
                minVersion: tls.min_version,
              },
            }
          : {}),
      });
    }
  }
}
