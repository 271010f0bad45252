import type { FlowRecord, HttpEvent, PipelineRecord } from '../../pipeline/records.js';
import { antreaTemplate, type AntreaRow } from './antrea.js';
import { ByteWriter } from './codec/byte-writer.js';
import { antreaFraming, MessageBuilder, rfcFraming, type AddResult, type EncodedMessage } from './codec/message.js';
import type { Template } from './codec/templates.js';
import { httpValsCapacity, httpValsObject, planHttpVals } from './http-vals.js';
import { emptyHttpRow, fillHttpRow, ianaHttpTemplate, truncateHttpRow } from './iana-http.js';
import { antreaElementsOf, reliabilityTemplate, typeInfoTemplate, type ReliabilityStats } from './options.js';

export type Profile = 'antrea' | 'rfc';
export type HttpEncoding = 'antrea' | 'iana' | 'both';

export interface EncoderOptions {
  /** `antrea`: what go-ipfix's collector parses (one set per message, no options); `rfc`: packed sets, options. */
  readonly profile: Profile;
  /** `antrea`: httpVals JSON in the flow record; `iana`: one IANA HTTP record per transaction; `both`. */
  readonly httpEncoding: HttpEncoding;
  readonly maxMessageSize: number;
  readonly observationDomainId: number;
}

/** What a batch cost besides the messages it produced; the exporter turns it into metrics. */
export interface EncodeReport {
  /** Flows dropped because a value could not be encoded (e.g. a malformed address). */
  invalid: number;
  /** Flows dropped because their record alone exceeds the maximum message size. */
  tooLarge: number;
  /** Flows of a record kind this exporter does not encode. */
  unsupported: number;
  /** Extra Antrea records carrying transactions that did not fit the flow's record. */
  continuations: number;
  /** HTTP transactions whose strings were shortened to fit one record. */
  truncatedTransactions: number;
  /** HTTP transactions that could not fit a record at all. */
  droppedTransactions: number;
}

const noChunks: readonly string[] = [''];

/**
 * Turns flow records into IPFIX messages: pure, synchronous, no I/O. Export Time and
 * Sequence Number belong to a transport session: they are left at zero for the session to
 * stamp, and sessionMessages() gives what every session starts with.
 *
 * In the `antrea` profile each template has a message of its own being filled (go-ipfix
 * reads one set per message), so interleaved IPv4, IPv6 and HTTP records still pack well.
 */
export class FlowEncoder {
  readonly dataTemplates: readonly Template<never>[];
  readonly #ipv4: Template<AntreaRow>;
  readonly #ipv6: Template<AntreaRow>;
  readonly #builders = new Map<number, MessageBuilder>();
  readonly #shared: MessageBuilder | undefined;
  readonly #maxRecordLength: number;
  #out: EncodedMessage[] = [];
  readonly #row: AntreaRow;
  readonly #httpRow = emptyHttpRow();
  readonly #scratch = new ByteWriter();

  constructor(readonly options: EncoderOptions) {
    const linkHttp = options.httpEncoding !== 'antrea';
    this.#ipv4 = antreaTemplate(4, linkHttp);
    this.#ipv6 = antreaTemplate(6, linkHttp);
    this.dataTemplates = linkHttp ? [this.#ipv4, this.#ipv6, ianaHttpTemplate] : [this.#ipv4, this.#ipv6];
    if (options.profile === 'rfc') this.#shared = this.#newBuilder();
    else for (const t of this.dataTemplates) this.#builders.set(t.id, this.#newBuilder());
    this.#maxRecordLength = (this.#shared ?? this.#builderFor(this.#ipv4.id)).maxRecordLength;
    // Reused for every record; `flow` is set before each use.
    this.#row = { flow: undefined as unknown as FlowRecord, httpVals: '', continuation: false };
  }

  /** Encodes a batch; every message is finished at the end, so nothing waits for the next batch. */
  encode(records: readonly PipelineRecord[]): { messages: EncodedMessage[]; report: EncodeReport } {
    const report: EncodeReport = {
      invalid: 0,
      tooLarge: 0,
      unsupported: 0,
      continuations: 0,
      truncatedTransactions: 0,
      droppedTransactions: 0,
    };
    for (const record of records) {
      if (record.kind === 'flow') this.#encodeFlow(record, report);
      else report.unsupported++;
    }
    if (this.#shared) this.#shared.flush();
    else for (const builder of this.#builders.values()) builder.flush();
    const messages = this.#out;
    this.#out = [];
    return { messages, report };
  }

  /**
   * What opens every transport session (and every UDP template refresh): all templates;
   * in the `rfc` profile also the options templates, RFC 5610 type information for the
   * Antrea elements, and the reliability statistics when given.
   */
  sessionMessages(stats?: ReliabilityStats): EncodedMessage[] {
    const out: EncodedMessage[] = [];
    const builder = new MessageBuilder(this.#messageOptions(), (m) => out.push(m));
    for (const template of this.dataTemplates) builder.addTemplate(template);
    if (this.options.profile === 'rfc') {
      builder.addTemplate(reliabilityTemplate);
      builder.addTemplate(typeInfoTemplate);
      for (const element of antreaElementsOf(this.dataTemplates)) builder.addRecord(typeInfoTemplate, element);
      if (stats) builder.addRecord(reliabilityTemplate, stats);
    }
    builder.flush();
    return out;
  }

  /** The reliability statistics record alone (`rfc` profile), e.g. as the last message of a session. */
  statsMessages(stats: ReliabilityStats): EncodedMessage[] {
    if (this.options.profile !== 'rfc') return [];
    const out: EncodedMessage[] = [];
    const builder = new MessageBuilder(this.#messageOptions(), (m) => out.push(m));
    builder.addRecord(reliabilityTemplate, stats);
    builder.flush();
    return out;
  }

  #encodeFlow(flow: FlowRecord, report: EncodeReport): void {
    const template = flow.tuple.srcIp.includes(':') ? this.#ipv6 : this.#ipv4;
    const builder = this.#builderFor(template.id);
    const row = this.#row;
    row.flow = flow;
    row.httpVals = '';
    row.continuation = false;
    const http = httpEventsOf(flow);
    const withHttpVals = http.length > 0 && this.options.httpEncoding !== 'iana';

    // First try: every transaction in the flow's record (what nearly always fits).
    const whole = withHttpVals ? httpValsObject(http) : '';
    let chunks = noChunks;
    let result: AddResult = 'too_large';
    if (whole !== undefined) {
      row.httpVals = whole;
      result = builder.addRecord(template, row);
    }
    if (result !== 'added' && withHttpVals) {
      // Split (the whole object may also have passed the 65535-octet limit of a field, which
      // the writer reports as invalid): the room for httpVals is what an empty message holds
      // minus the record without it (whose empty httpVals took one prefix octet).
      row.httpVals = '';
      const base = this.#recordLength(template, row);
      if (base === undefined) {
        report.invalid++;
        return;
      }
      const plan = planHttpVals(http, httpValsCapacity(this.#maxRecordLength - (base - 1)));
      report.truncatedTransactions += plan.truncated;
      report.droppedTransactions += plan.dropped;
      if (plan.chunks.length > 0) chunks = plan.chunks;
      row.httpVals = chunks[0] as string;
      result = builder.addRecord(template, row);
    }
    if (result !== 'added') {
      if (result === 'invalid') report.invalid++;
      else report.tooLarge++;
      return;
    }
    const d = flow.deltas;
    builder.countFlow(d.packets + d.reversePackets, d.bytes + d.reverseBytes);

    // Continuations: the main record (which fitted) with a planned httpVals, so they fit.
    row.continuation = true;
    for (let i = 1; i < chunks.length; i++) {
      row.httpVals = chunks[i] as string;
      if (builder.addRecord(template, row) === 'added') report.continuations++;
    }

    if (this.options.httpEncoding !== 'antrea') for (const event of http) this.#encodeHttp(flow, event, report);
  }

  #encodeHttp(flow: FlowRecord, event: HttpEvent, report: EncodeReport): void {
    const row = this.#httpRow;
    const builder = this.#builderFor(ianaHttpTemplate.id);
    fillHttpRow(row, flow.flowKey, event);
    if (builder.addRecord(ianaHttpTemplate, row) === 'added') return;
    if (truncateHttpRow(row, this.#maxRecordLength) && builder.addRecord(ianaHttpTemplate, row) === 'added') {
      report.truncatedTransactions++;
      return;
    }
    report.droppedTransactions++;
  }

  /** Octets of the record `template` writes for `row`, or undefined when it cannot be written. */
  #recordLength(template: Template<AntreaRow>, row: AntreaRow): number | undefined {
    this.#scratch.rewind(0);
    return template.writeRecord(this.#scratch, row) ? this.#scratch.offset : undefined;
  }

  #builderFor(templateId: number): MessageBuilder {
    return this.#shared ?? (this.#builders.get(templateId) as MessageBuilder);
  }

  #newBuilder(): MessageBuilder {
    return new MessageBuilder(this.#messageOptions(), (m) => this.#out.push(m));
  }

  #messageOptions() {
    return {
      maxMessageSize: this.options.maxMessageSize,
      observationDomainId: this.options.observationDomainId,
      framing: this.options.profile === 'rfc' ? rfcFraming : antreaFraming,
    };
  }
}

const noEvents: readonly HttpEvent[] = [];

function httpEventsOf(flow: FlowRecord): readonly HttpEvent[] {
  if (flow.l7.length === 0) return noEvents;
  return flow.l7.filter((event): event is HttpEvent => event.kind === 'http');
}
