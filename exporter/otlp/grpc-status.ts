/**
 * How an export attempt's gRPC status decides what happens next (OTLP specification,
 * "OTLP/gRPC Throttling" and "Failures"; collector exporterhelper): the transient codes are
 * retried, RESOURCE_EXHAUSTED only when the server says when to retry (a RetryInfo detail),
 * everything else is permanent and its data is dropped.
 */

export const grpcCodeNames: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

const RESOURCE_EXHAUSTED = 8;
/** CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS. */
const retryableCodes: ReadonlySet<number> = new Set([1, 4, 10, 11, 14, 15]);

export interface StatusVerdict {
  readonly retryable: boolean;
  /** The server's RetryInfo delay: wait at least this long before the next attempt. */
  readonly throttleMs?: number;
}

/**
 * `code` is the gRPC status (undefined when the failure has none, e.g. a local error, which
 * is permanent); `details` is the `grpc-status-details-bin` trailer, if any.
 */
export function statusVerdict(code: number | undefined, details?: Uint8Array): StatusVerdict {
  if (code === undefined) return { retryable: false };
  const throttleMs = details === undefined ? undefined : retryDelayMs(details);
  if (code === RESOURCE_EXHAUSTED)
    return throttleMs === undefined ? { retryable: false } : { retryable: true, throttleMs };
  if (!retryableCodes.has(code)) return { retryable: false };
  return throttleMs === undefined ? { retryable: true } : { retryable: true, throttleMs };
}

export function grpcCodeName(code: number | undefined): string {
  return code === undefined ? 'NONE' : (grpcCodeNames[code] ?? String(code));
}

const retryInfoType = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * The delay of a google.rpc.RetryInfo inside an encoded google.rpc.Status
 * (Status.details = repeated Any, field 3; Any.type_url = 1, value = 2;
 * RetryInfo.retry_delay = 1, a Duration of seconds = 1 and nanos = 2). Undefined when absent
 * or malformed: a broken trailer never breaks an export.
 */
export function retryDelayMs(status: Uint8Array): number | undefined {
  try {
    for (const [field, value] of fields(status)) {
      if (field !== 3 || !(value instanceof Uint8Array)) continue;
      let typeUrl = '';
      let payload: Uint8Array | undefined;
      for (const [anyField, anyValue] of fields(value)) {
        if (anyField === 1 && anyValue instanceof Uint8Array) typeUrl = new TextDecoder().decode(anyValue);
        if (anyField === 2 && anyValue instanceof Uint8Array) payload = anyValue;
      }
      if (typeUrl !== retryInfoType || payload === undefined) continue;
      for (const [infoField, duration] of fields(payload)) {
        if (infoField !== 1 || !(duration instanceof Uint8Array)) continue;
        let seconds = 0;
        let nanos = 0;
        for (const [durationField, n] of fields(duration)) {
          if (durationField === 1 && typeof n === 'number') seconds = n;
          if (durationField === 2 && typeof n === 'number') nanos = n;
        }
        return Math.max(0, Math.round(seconds * 1000 + nanos / 1e6));
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The fields of a protobuf message: varints as numbers, length-delimited as bytes; others skipped. */
function* fields(bytes: Uint8Array): Generator<[number, number | Uint8Array]> {
  let at = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= bytes.length) throw new RangeError('truncated varint');
      const byte = bytes[at++] ?? 0;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new RangeError('varint too long');
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        yield [field, varint()];
        break;
      case 1:
        at += 8;
        break;
      case 2: {
        const length = varint();
        if (at + length > bytes.length) throw new RangeError('truncated field');
        yield [field, bytes.subarray(at, at + length)];
        at += length;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        throw new RangeError('unsupported wire type');
    }
  }
}
