/**
 * A test-only IPFIX decoder, written from RFC 7011 and the IANA / Antrea registries
 * independently of the exporter: it imports nothing from exporter/ipfix, so a shared
 * misreading of the spec cannot make encoder and decoder agree by construction.
 *
 * It keeps templates per Observation Domain (as a collector keeps them per session),
 * checks every length it reads, never throws on any input, and reports Sequence Number
 * gaps: expected = previous message's sequence + its data records (mod 2^32).
 */
import { canonicalIp } from '../../pipeline/ip.js';

type Kind =
  'u' | 's' | 'f' | 'bool' | 'mac' | 'string' | 'octets' | 'ipv4' | 'ipv6' | 'dtSeconds' | 'dtMillis' | 'dtMicros';

/** Element names and types this decoder knows, keyed by `pen/id`. Others decode as octets. */
const known: Readonly<Record<string, readonly [string, Kind]>> = {
  '0/1': ['octetDeltaCount', 'u'],
  '0/2': ['packetDeltaCount', 'u'],
  '0/4': ['protocolIdentifier', 'u'],
  '0/7': ['sourceTransportPort', 'u'],
  '0/8': ['sourceIPv4Address', 'ipv4'],
  '0/11': ['destinationTransportPort', 'u'],
  '0/12': ['destinationIPv4Address', 'ipv4'],
  '0/27': ['sourceIPv6Address', 'ipv6'],
  '0/28': ['destinationIPv6Address', 'ipv6'],
  '0/56': ['sourceMacAddress', 'mac'],
  '0/85': ['octetTotalCount', 'u'],
  '0/86': ['packetTotalCount', 'u'],
  '0/96': ['applicationName', 'string'],
  '0/136': ['flowEndReason', 'u'],
  '0/144': ['exportingProcessId', 'u'],
  '0/148': ['flowId', 'u'],
  '0/150': ['flowStartSeconds', 'dtSeconds'],
  '0/151': ['flowEndSeconds', 'dtSeconds'],
  '0/152': ['flowStartMilliseconds', 'dtMillis'],
  '0/153': ['flowEndMilliseconds', 'dtMillis'],
  '0/154': ['flowStartMicroseconds', 'dtMicros'],
  '0/166': ['notSentFlowTotalCount', 'u'],
  '0/167': ['notSentPacketTotalCount', 'u'],
  '0/168': ['notSentOctetTotalCount', 'u'],
  '0/276': ['dataRecordsReliability', 'bool'],
  '0/303': ['informationElementId', 'u'],
  '0/323': ['observationTimeMilliseconds', 'dtMillis'],
  '0/339': ['informationElementDataType', 'u'],
  '0/341': ['informationElementName', 'string'],
  '0/344': ['informationElementSemantics', 'u'],
  '0/346': ['privateEnterpriseNumber', 'u'],
  '0/457': ['httpStatusCode', 'u'],
  '0/459': ['httpRequestMethod', 'string'],
  '0/460': ['httpRequestHost', 'string'],
  '0/461': ['httpRequestTarget', 'string'],
  '0/462': ['httpMessageVersion', 'string'],
  '0/468': ['httpUserAgent', 'string'],
  '0/469': ['httpContentType', 'string'],
  '0/470': ['httpReasonPhrase', 'string'],
  '29305/1': ['reverseOctetDeltaCount', 'u'],
  '29305/2': ['reversePacketDeltaCount', 'u'],
  '29305/85': ['reverseOctetTotalCount', 'u'],
  '29305/86': ['reversePacketTotalCount', 'u'],
  '56506/100': ['sourcePodNamespace', 'string'],
  '56506/101': ['sourcePodName', 'string'],
  '56506/102': ['destinationPodNamespace', 'string'],
  '56506/103': ['destinationPodName', 'string'],
  '56506/104': ['sourceNodeName', 'string'],
  '56506/105': ['destinationNodeName', 'string'],
  '56506/106': ['destinationClusterIPv4', 'ipv4'],
  '56506/107': ['destinationClusterIPv6', 'ipv6'],
  '56506/108': ['destinationServicePort', 'u'],
  '56506/109': ['destinationServicePortName', 'string'],
  '56506/110': ['ingressNetworkPolicyName', 'string'],
  '56506/111': ['ingressNetworkPolicyNamespace', 'string'],
  '56506/112': ['egressNetworkPolicyName', 'string'],
  '56506/113': ['egressNetworkPolicyNamespace', 'string'],
  '56506/115': ['ingressNetworkPolicyType', 'u'],
  '56506/116': ['ingressNetworkPolicyRulePriority', 's'],
  '56506/118': ['egressNetworkPolicyType', 'u'],
  '56506/136': ['tcpState', 'string'],
  '56506/137': ['flowType', 'u'],
  '56506/139': ['ingressNetworkPolicyRuleAction', 'u'],
  '56506/140': ['egressNetworkPolicyRuleAction', 'u'],
  '56506/141': ['ingressNetworkPolicyRuleName', 'string'],
  '56506/142': ['egressNetworkPolicyRuleName', 'string'],
  '56506/153': ['egressName', 'string'],
  '56506/154': ['egressIP', 'string'],
  '56506/155': ['appProtocolName', 'string'],
  '56506/156': ['httpVals', 'string'],
  '56506/157': ['egressNodeName', 'string'],
};

export type Value = number | bigint | string | boolean | Uint8Array;

export interface FieldSpec {
  readonly pen: number;
  readonly id: number;
  readonly length: number;
  readonly name: string;
}

export interface DecodedTemplate {
  readonly id: number;
  readonly scopeFieldCount: number;
  readonly fields: readonly FieldSpec[];
}

export interface DecodedRecord {
  readonly templateId: number;
  /** Values in template order, by element name (a repeated element keeps every value). */
  readonly values: readonly (readonly [string, Value])[];
  /** Octets of each variable-length field's length prefix (1 or 3), in field order. */
  readonly prefixes: readonly number[];
}

export interface DecodedSet {
  readonly id: number;
  readonly length: number;
}

export interface DecodedMessage {
  readonly length: number;
  readonly exportTime: number;
  readonly sequence: number;
  readonly domain: number;
  readonly sets: readonly DecodedSet[];
  readonly templates: readonly DecodedTemplate[];
  readonly records: readonly DecodedRecord[];
  /** Records that are Data Records (counted by Sequence Numbers). */
  readonly dataRecords: number;
  /** Data records the sequence number says were lost before this message (0 when none). */
  readonly sequenceGap: number;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The value of `name` in a record (the first when repeated). */
export function valueOf(record: DecodedRecord, name: string): Value | undefined {
  return record.values.find(([n]) => n === name)?.[1];
}

/** A record as a plain object (a repeated element keeps its last value). */
export function recordObject(record: DecodedRecord): Record<string, Value> {
  return Object.fromEntries(record.values);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const NTP_UNIX_OFFSET = 2_208_988_800;

export class IpfixDecoder {
  readonly #templates = new Map<number, Map<number, DecodedTemplate>>();
  readonly #nextSequence = new Map<number, number>();

  /** Decodes one message (one UDP datagram, or one message cut from a stream). */
  decodeMessage(bytes: Uint8Array): Decoded<DecodedMessage> {
    if (bytes.length < 16) return fail(`message shorter than its header (${bytes.length} octets)`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = view.getUint16(0);
    if (version !== 10) return fail(`version ${version}, expected 10`);
    const length = view.getUint16(2);
    if (length !== bytes.length) return fail(`header length ${length} but ${bytes.length} octets`);
    const exportTime = view.getUint32(4);
    const sequence = view.getUint32(8);
    const domain = view.getUint32(12);
    let templates = this.#templates.get(domain);
    if (!templates) this.#templates.set(domain, (templates = new Map<number, DecodedTemplate>()));

    const sets: DecodedSet[] = [];
    const newTemplates: DecodedTemplate[] = [];
    const records: DecodedRecord[] = [];
    let dataRecords = 0;
    let offset = 16;
    while (offset < length) {
      if (length - offset < 4) return fail(`${length - offset} trailing octets after the last set`);
      const setId = view.getUint16(offset);
      const setLength = view.getUint16(offset + 2);
      if (setLength < 4 || offset + setLength > length) return fail(`set ${setId} length ${setLength} out of bounds`);
      sets.push({ id: setId, length: setLength });
      const end = offset + setLength;
      let at = offset + 4;
      if (setId === 2 || setId === 3) {
        while (at < end) {
          const parsed = readTemplate(view, at, end, setId === 3);
          if (!parsed.ok) return parsed;
          const [template, next] = parsed.value;
          templates.set(template.id, template);
          newTemplates.push(template);
          at = next;
        }
      } else if (setId >= 256) {
        const template = templates.get(setId);
        if (!template) return fail(`data set ${setId} before its template`);
        while (at < end) {
          const parsed = readRecord(bytes, view, at, end, template);
          if (!parsed.ok) return parsed;
          records.push(parsed.value[0]);
          dataRecords++;
          at = parsed.value[1];
        }
      } else {
        return fail(`reserved set id ${setId}`);
      }
      offset = end;
    }

    const expected = this.#nextSequence.get(domain);
    const sequenceGap = expected === undefined ? 0 : (sequence - expected + 2 ** 32) % 2 ** 32;
    this.#nextSequence.set(domain, (sequence + dataRecords) % 2 ** 32);
    return {
      ok: true,
      value: { length, exportTime, sequence, domain, sets, templates: newTemplates, records, dataRecords, sequenceGap },
    };
  }

  /** Decodes a stream of messages (a TCP stream, an RFC 5655 file). */
  decodeStream(bytes: Uint8Array): Decoded<DecodedMessage[]> {
    const messages: DecodedMessage[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      if (bytes.length - offset < 4) return fail(`${bytes.length - offset} trailing octets`);
      const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
      if (length < 16 || offset + length > bytes.length) return fail(`message length ${length} at ${offset}`);
      const decoded = this.decodeMessage(bytes.subarray(offset, offset + length));
      if (!decoded.ok) return fail(`message at ${offset}: ${decoded.error}`);
      messages.push(decoded.value);
      offset += length;
    }
    return { ok: true, value: messages };
  }
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

function readTemplate(
  view: DataView,
  at: number,
  end: number,
  options: boolean,
): Decoded<readonly [DecodedTemplate, number]> {
  const headerLength = options ? 6 : 4;
  if (end - at < headerLength) return fail('truncated template record header');
  const id = view.getUint16(at);
  const count = view.getUint16(at + 2);
  const scopeFieldCount = options ? view.getUint16(at + 4) : 0;
  if (id < 256) return fail(`template id ${id} below 256`);
  if (count === 0) return fail(`template ${id} withdrawn (not expected from this exporter)`);
  if (options && (scopeFieldCount === 0 || scopeFieldCount > count))
    return fail(`options template ${id}: scope field count ${scopeFieldCount} of ${count}`);
  let p = at + headerLength;
  const fields: FieldSpec[] = [];
  for (let i = 0; i < count; i++) {
    if (end - p < 4) return fail(`template ${id}: truncated field specifier ${i}`);
    const raw = view.getUint16(p);
    const length = view.getUint16(p + 2);
    p += 4;
    let pen = 0;
    if (raw & 0x8000) {
      if (end - p < 4) return fail(`template ${id}: missing enterprise number`);
      pen = view.getUint32(p);
      p += 4;
    }
    const elementId = raw & 0x7fff;
    const name = known[`${pen}/${elementId}`]?.[0] ?? `${pen}/${elementId}`;
    fields.push({ pen, id: elementId, length, name });
  }
  return { ok: true, value: [{ id, scopeFieldCount, fields }, p] };
}

function readRecord(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  end: number,
  template: DecodedTemplate,
): Decoded<readonly [DecodedRecord, number]> {
  const values: [string, Value][] = [];
  const prefixes: number[] = [];
  let p = at;
  for (const spec of template.fields) {
    let length = spec.length;
    if (length === 0xffff) {
      if (end - p < 1) return fail(`${spec.name}: missing length prefix`);
      length = bytes[p]!;
      p += 1;
      if (length === 255) {
        if (end - p < 2) return fail(`${spec.name}: missing long length`);
        length = view.getUint16(p);
        p += 2;
        prefixes.push(3);
      } else prefixes.push(1);
    }
    if (end - p < length) return fail(`${spec.name}: ${length} octets past the end of the set`);
    const kind = known[`${spec.pen}/${spec.id}`]?.[1] ?? 'octets';
    const value = readValue(bytes, view, p, length, kind);
    if (!value.ok) return fail(`${spec.name}: ${value.error}`);
    values.push([spec.name, value.value]);
    p += length;
  }
  return { ok: true, value: [{ templateId: template.id, values, prefixes }, p] };
}

function readUnsigned(view: DataView, at: number, length: number): number | bigint {
  let value = 0n;
  for (let i = 0; i < length; i++) value = (value << 8n) | BigInt(view.getUint8(at + i));
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function readValue(bytes: Uint8Array, view: DataView, at: number, length: number, kind: Kind): Decoded<Value> {
  const ok = (value: Value): Decoded<Value> => ({ ok: true, value });
  switch (kind) {
    case 'u':
      if (length < 1 || length > 8) return fail(`unsigned of ${length} octets`);
      return ok(readUnsigned(view, at, length));
    case 's': {
      if (length < 1 || length > 8) return fail(`signed of ${length} octets`);
      const unsigned = BigInt(readUnsigned(view, at, length));
      const signed = BigInt.asIntN(8 * length, unsigned);
      return ok(Number(signed));
    }
    case 'f':
      if (length === 4) return ok(view.getFloat32(at));
      if (length === 8) return ok(view.getFloat64(at));
      return fail(`float of ${length} octets`);
    case 'bool': {
      const b = length === 1 ? view.getUint8(at) : 0;
      if (b !== 1 && b !== 2) return fail(`boolean octet ${b}`);
      return ok(b === 1);
    }
    case 'mac':
      if (length !== 6) return fail(`mac of ${length} octets`);
      return ok([...bytes.subarray(at, at + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':'));
    case 'string':
      try {
        return ok(utf8.decode(bytes.subarray(at, at + length)));
      } catch {
        return fail('ill-formed UTF-8');
      }
    case 'octets':
      return ok(bytes.slice(at, at + length));
    case 'ipv4':
      if (length !== 4) return fail(`ipv4 of ${length} octets`);
      return ok([...bytes.subarray(at, at + 4)].join('.'));
    case 'ipv6': {
      if (length !== 16) return fail(`ipv6 of ${length} octets`);
      const groups: string[] = [];
      for (let i = 0; i < 8; i++) groups.push(view.getUint16(at + 2 * i).toString(16));
      return ok(canonicalIp(groups.join(':')) ?? '');
    }
    case 'dtSeconds':
      if (length !== 4) return fail(`dateTimeSeconds of ${length} octets`);
      return ok(view.getUint32(at));
    case 'dtMillis':
      if (length !== 8) return fail(`dateTimeMilliseconds of ${length} octets`);
      return ok(readUnsigned(view, at, 8));
    case 'dtMicros': {
      if (length !== 8) return fail(`dateTimeMicroseconds of ${length} octets`);
      const seconds = view.getUint32(at) - NTP_UNIX_OFFSET;
      const fraction = view.getUint32(at + 4);
      return ok(seconds * 1e6 + Math.round((fraction / 2 ** 32) * 1e6));
    }
  }
}
