import { ByteWriter } from './byte-writer.js';
import type { Template } from './templates.js';

/** RFC 7011 §3.1: Version, Length, Export Time, Sequence Number, Observation Domain ID. */
export const MESSAGE_HEADER_LENGTH = 16;
/** RFC 7011 §3.3.2: Set ID and Length. */
export const SET_HEADER_LENGTH = 4;
/** The Length field is 16 bits. */
export const MAX_MESSAGE_SIZE = 0xffff;
export const IPFIX_VERSION = 10;
export const TEMPLATE_SET_ID = 2;
export const OPTIONS_TEMPLATE_SET_ID = 3;

const EXPORT_TIME_OFFSET = 4;
const SEQUENCE_OFFSET = 8;
const NO_SET = -1;

/** A finished message, ready for a transport session to stamp and send. */
export interface EncodedMessage {
  /** The whole message. Export Time and Sequence Number are zero until stampMessage(). */
  readonly bytes: Buffer;
  /** Data Records (including Options Data Records): what the Sequence Number counts. */
  readonly dataRecords: number;
  /** Template and Options Template records. */
  readonly templateRecords: number;
  /** Flows whose main record this message carries (see MessageBuilder.countFlow). */
  readonly flows: number;
  /** Sum of those flows' packet and octet deltas, both directions (RFC 7011 §4.3 notSent*). */
  readonly packets: number;
  readonly octets: number;
}

/**
 * How sets are laid out. go-ipfix's collector (Antrea's Flow Aggregator) reads only the
 * first set of a message and the first record of a template set; an RFC 7011 collector
 * takes any number of both.
 */
export interface Framing {
  readonly oneSetPerMessage: boolean;
  readonly oneTemplatePerSet: boolean;
}

export const antreaFraming: Framing = { oneSetPerMessage: true, oneTemplatePerSet: true };
export const rfcFraming: Framing = { oneSetPerMessage: false, oneTemplatePerSet: false };

export interface MessageOptions {
  /** Whole-message bound, header included: the path MTU budget over UDP, at most 65535. */
  readonly maxMessageSize: number;
  readonly observationDomainId: number;
  readonly framing: Framing;
}

/** `too_large`: the record alone does not fit an empty message; `invalid`: a value cannot be encoded. */
export type AddResult = 'added' | 'invalid' | 'too_large';

/**
 * Packs template and data records into messages of at most `maxMessageSize` octets and
 * hands each finished message to `emit`. A record is never split across messages: it is
 * written where it would go, and if it overflows it is moved into the next message.
 * Set and message lengths are back-patched when a set or message closes; no padding is
 * ever written (RFC 7011 §3.3.1 makes it optional, and go-ipfix rejects it).
 */
export class MessageBuilder {
  readonly #w: ByteWriter;
  #open = false;
  #setId = NO_SET;
  #setStart = 0;
  #setRecords = 0;
  #sets = 0;
  #dataRecords = 0;
  #templateRecords = 0;
  #flows = 0;
  #packets = 0;
  #octets = 0;

  constructor(
    readonly options: MessageOptions,
    private readonly emit: (message: EncodedMessage) => void,
  ) {
    const min = MESSAGE_HEADER_LENGTH + SET_HEADER_LENGTH + 1;
    if (!Number.isInteger(options.maxMessageSize) || options.maxMessageSize < min || options.maxMessageSize > 0xffff)
      throw new RangeError(`maximum message size must be ${min}..65535 (got ${options.maxMessageSize})`);
    this.#w = new ByteWriter(Math.min(options.maxMessageSize * 2, 0x20000));
  }

  /** The largest record a message can carry: one set of one record. */
  get maxRecordLength(): number {
    return this.options.maxMessageSize - MESSAGE_HEADER_LENGTH - SET_HEADER_LENGTH;
  }

  /** Adds a Template or Options Template record (Set ID 2 or 3). */
  addTemplate(template: Template<never>): AddResult {
    return this.#add(template.isOptions ? OPTIONS_TEMPLATE_SET_ID : TEMPLATE_SET_ID, template, undefined, true);
  }

  /** Adds a Data Record of `template` (Set ID = Template ID). */
  addRecord<S>(template: Template<S>, source: S): AddResult {
    return this.#add(template.id, template, source, false);
  }

  /**
   * Attributes a flow to the message holding the record just added: call it right after
   * addRecord() returned `added` for a flow's main record.
   */
  countFlow(packets: number, octets: number): void {
    this.#flows++;
    this.#packets += packets;
    this.#octets += octets;
  }

  /** Finishes the open message, if it holds any record. */
  flush(): void {
    if (this.#open) this.#finish();
  }

  #add(setId: number, template: Template<never>, source: unknown, definition: boolean): AddResult {
    const w = this.#w;
    const { framing, maxMessageSize } = this.options;
    if (!this.#open) this.#openMessage();
    const needsSet = this.#setId !== setId || (definition && framing.oneTemplatePerSet && this.#setRecords > 0);
    if (needsSet && framing.oneSetPerMessage && this.#sets > 0) {
      this.#finish();
      this.#openMessage();
    }
    const rollback = w.offset;
    if (needsSet) {
      this.#closeSet();
      this.#openSet(setId);
    }
    const recordStart = w.offset;
    const written = definition ? (template.writeDefinition(w), true) : template.writeRecord(w, source as never);
    if (!written || w.offset - recordStart > this.maxRecordLength) {
      w.rewind(rollback);
      if (needsSet) this.#dropOpenSet();
      return written ? 'too_large' : 'invalid';
    }
    if (w.offset > maxMessageSize) {
      // Carry the record over: finish this message without it, then start the next one
      // with the record's bytes moved up behind a fresh header and set header.
      const recordEnd = w.offset;
      w.rewind(needsSet ? rollback : recordStart);
      if (needsSet) this.#dropOpenSet();
      this.#finish();
      w.copyWithin(MESSAGE_HEADER_LENGTH + SET_HEADER_LENGTH, recordStart, recordEnd);
      this.#openMessage();
      this.#openSet(setId);
      w.skip(recordEnd - recordStart);
    }
    this.#setRecords++;
    if (definition) this.#templateRecords++;
    else this.#dataRecords++;
    return 'added';
  }

  #openMessage(): void {
    const w = this.#w;
    w.rewind(0);
    w.u16(IPFIX_VERSION);
    w.u16(0); // Length, patched in #finish
    w.u32(0); // Export Time, stamped at send
    w.u32(0); // Sequence Number, stamped at send
    w.u32(this.options.observationDomainId);
    this.#open = true;
    this.#sets = 0;
    this.#dataRecords = 0;
    this.#templateRecords = 0;
    this.#flows = 0;
    this.#packets = 0;
    this.#octets = 0;
  }

  #openSet(setId: number): void {
    this.#setStart = this.#w.offset;
    this.#w.u16(setId);
    this.#w.u16(0); // Length, patched in #closeSet
    this.#setId = setId;
    this.#setRecords = 0;
    this.#sets++;
  }

  #closeSet(): void {
    if (this.#setId === NO_SET) return;
    this.#w.patchU16(this.#setStart + 2, this.#w.offset - this.#setStart);
    this.#setId = NO_SET;
  }

  /** Forgets a set just opened (its header was rewound over). */
  #dropOpenSet(): void {
    this.#setId = NO_SET;
    this.#sets--;
  }

  #finish(): void {
    this.#closeSet();
    this.#open = false;
    if (this.#dataRecords + this.#templateRecords === 0) return;
    const w = this.#w;
    w.patchU16(2, w.offset);
    this.emit({
      bytes: w.copyOut(0, w.offset),
      dataRecords: this.#dataRecords,
      templateRecords: this.#templateRecords,
      flows: this.#flows,
      packets: this.#packets,
      octets: this.#octets,
    });
  }
}

/**
 * Stamps the header fields that belong to the transport session, at send time: Export Time
 * (seconds since the epoch) and Sequence Number (data records sent before this message in
 * the session, modulo 2^32), RFC 7011 §3.1.
 */
export function stampMessage(message: Buffer, exportTime: number, sequence: number): void {
  const w = ByteWriter.over(message);
  w.patchU32(EXPORT_TIME_OFFSET, exportTime >>> 0);
  w.patchU32(SEQUENCE_OFFSET, sequence >>> 0);
}
