import type { ByteWriter } from './byte-writer.js';
import {
  DataType,
  naturalLength,
  VARIABLE_LENGTH,
  type DataTypeName,
  type InformationElement,
  type ValueOf,
} from './registry.js';

/** One field of a template: an element, its length on the wire, and where its value comes from. */
export interface Field<S> {
  readonly element: InformationElement;
  /** Field length in the template; 65535 for variable length. */
  readonly length: number;
  readonly value: (source: S) => unknown;
}

const integerTypes: ReadonlySet<DataTypeName> = new Set([
  'unsigned8',
  'unsigned16',
  'unsigned32',
  'unsigned64',
  'signed8',
  'signed16',
  'signed32',
  'signed64',
]);

/**
 * A field whose value `value(source)` has the element's type. `length` defaults to the
 * type's natural length; integers may be given a reduced size and float64 may be sent as
 * float32 (RFC 7011 §6.2); strings and octet arrays may be fixed length.
 */
export function field<S, T extends DataTypeName>(
  element: InformationElement<T>,
  value: (source: S) => ValueOf<T>,
  length: number = naturalLength(element.type),
): Field<S> {
  const natural = naturalLength(element.type);
  const reducible =
    (integerTypes.has(element.type) && length >= 1 && length <= natural) ||
    (element.type === 'float64' && length === 4) ||
    ((element.type === 'string' || element.type === 'octetArray') && length >= 0 && length <= VARIABLE_LENGTH);
  if (length !== natural && !reducible)
    throw new RangeError(`${element.name}: ${element.type} cannot be encoded in ${length} octets`);
  return { element, length, value };
}

/** RFC 7011 §3.4.1: Template IDs 0-255 are reserved for set ids. */
export const MIN_TEMPLATE_ID = 256;

/**
 * A Template or Options Template (scopeFieldCount > 0) and the writer of its data records.
 * Immutable; field descriptors are flattened into arrays so that writing a record is one
 * loop with no allocation.
 */
export class Template<S> {
  readonly #types: Uint8Array;
  readonly #lengths: Uint16Array;
  readonly #values: readonly ((source: S) => unknown)[];
  /** Octets of the template record (RFC 7011 §3.4.1, §3.4.2). */
  readonly definitionLength: number;

  constructor(
    readonly id: number,
    readonly fields: readonly Field<S>[],
    /** Number of leading scope fields; > 0 makes this an Options Template (RFC 7011 §3.4.2.2). */
    readonly scopeFieldCount = 0,
  ) {
    if (!Number.isInteger(id) || id < MIN_TEMPLATE_ID || id > 0xffff)
      throw new RangeError(`template id must be 256..65535 (got ${id})`);
    if (fields.length === 0 || fields.length > 0xffff) throw new RangeError('a template has 1..65535 fields');
    if (scopeFieldCount < 0 || scopeFieldCount > fields.length) throw new RangeError('scope fields out of range');
    this.#types = Uint8Array.from(fields, (f) => DataType[f.element.type]);
    this.#lengths = Uint16Array.from(fields, (f) => f.length);
    this.#values = fields.map((f) => f.value);
    this.definitionLength =
      (scopeFieldCount > 0 ? 6 : 4) + fields.reduce((sum, f) => sum + (f.element.pen === 0 ? 4 : 8), 0);
  }

  get isOptions(): boolean {
    return this.scopeFieldCount > 0;
  }

  /**
   * The template record: Template ID, Field Count, [Scope Field Count], then one field
   * specifier per field: E bit + element id, length, and the PEN when E is set (§3.2).
   */
  writeDefinition(w: ByteWriter): void {
    w.u16(this.id);
    w.u16(this.fields.length);
    if (this.isOptions) w.u16(this.scopeFieldCount);
    for (const { element, length } of this.fields) {
      if (element.pen === 0) {
        w.u16(element.id);
        w.u16(length);
      } else {
        w.u16(0x8000 | element.id);
        w.u16(length);
        w.u32(element.pen);
      }
    }
  }

  /**
   * Writes one data record for `source`. Returns false, with the writer's cursor somewhere
   * past the record start, when a value cannot be represented in its field (out of range,
   * not an address, longer than 65535 octets): the caller rewinds and drops the record.
   */
  writeRecord(w: ByteWriter, source: S): boolean {
    const types = this.#types;
    const lengths = this.#lengths;
    const values = this.#values;
    for (let i = 0; i < types.length; i++) {
      const value = (values[i] as (source: S) => unknown)(source);
      const length = lengths[i] as number;
      if (!writeValue(w, types[i] as number, length, value)) return false;
    }
    return true;
  }
}

/** RFC 7011 §6.1: the encoding of each abstract data type. */
function writeValue(w: ByteWriter, type: number, length: number, value: unknown): boolean {
  switch (type) {
    case DataType.unsigned8:
    case DataType.unsigned16:
    case DataType.unsigned32:
    case DataType.unsigned64:
      return w.unsigned(value as number, length);
    case DataType.signed8:
    case DataType.signed16:
    case DataType.signed32:
    case DataType.signed64:
      return w.signed(value as number, length);
    case DataType.string:
      if (length === VARIABLE_LENGTH) return w.varlenString(value as string);
      w.fixedString(value as string, length);
      return true;
    case DataType.ipv4Address:
      return w.ipv4(value as string);
    case DataType.ipv6Address:
      return w.ipv6(value as string);
    case DataType.dateTimeSeconds:
      return w.unsigned(Math.floor(value as number), 4);
    case DataType.dateTimeMilliseconds:
      return w.unsigned(Math.floor(value as number), 8);
    case DataType.dateTimeMicroseconds:
      return writeNtpMicroseconds(w, value as number);
    case DataType.boolean:
      // §6.1.5: true is 1, false is 2.
      w.u8(value === true ? 1 : 2);
      return true;
    case DataType.float32:
      w.float32(value as number);
      return true;
    case DataType.float64:
      if (length === 4) w.float32(value as number);
      else w.float64(value as number);
      return true;
    case DataType.macAddress:
      return w.mac(value as string);
    case DataType.octetArray: {
      const bytes = value as Uint8Array;
      if (length === VARIABLE_LENGTH) return w.varlenBytes(bytes);
      if (bytes.length !== length) return false;
      w.bytes(bytes);
      return true;
    }
    default:
      return false;
  }
}

/** Seconds between the NTP era 0 epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2_208_988_800;

/**
 * RFC 7011 §6.1.9: dateTimeMicroseconds is NTP format, 32-bit seconds since 1900 and a
 * 32-bit binary fraction whose low 11 bits SHOULD be zero at microsecond resolution. The
 * seconds wrap into NTP era 1 in 2036, as the RFC allows.
 */
function writeNtpMicroseconds(w: ByteWriter, unixMicroseconds: number): boolean {
  if (!Number.isFinite(unixMicroseconds) || unixMicroseconds < 0) return false;
  const seconds = Math.floor(unixMicroseconds / 1e6);
  const micros = unixMicroseconds - seconds * 1e6;
  const fraction = Math.floor((micros * 0x1_0000_0000) / 1e6) & ~0x7ff;
  w.u32((seconds + NTP_UNIX_OFFSET) % 0x1_0000_0000);
  w.u32(fraction >>> 0);
  return true;
}
