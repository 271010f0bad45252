import { hash } from 'node:crypto';

/** A parent taken from a W3C `traceparent` request header. */
export interface RemoteParent {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

const hex32 = /^[0-9a-f]{32}$/;
const hex16 = /^[0-9a-f]{16}$/;
const hex2 = /^[0-9a-f]{2}$/;
const zeros32 = '0'.repeat(32);
const zeros16 = '0'.repeat(16);

/**
 * Parses a `traceparent` header value (W3C Trace Context §3.2): `version-traceid-parentid-flags`,
 * lowercase hex only. Version ff, all-zero ids, and a version-00 header with trailing data are
 * invalid. A future version is read by its version-00 prefix, and may only be followed by
 * `-` and more fields (§3.2.4). Returns undefined for anything invalid: the span then starts
 * a trace of its own.
 */
export function parseTraceparent(value: string): RemoteParent | undefined {
  const text = value.trim();
  if (text.length < 55) return undefined;
  const version = text.slice(0, 2);
  if (!hex2.test(version) || version === 'ff') return undefined;
  if (version === '00' && text.length !== 55) return undefined;
  if (text.length > 55 && text[55] !== '-') return undefined;
  if (text[2] !== '-' || text[35] !== '-' || text[52] !== '-') return undefined;
  const traceId = text.slice(3, 35);
  const spanId = text.slice(36, 52);
  const flags = text.slice(53, 55);
  if (!hex32.test(traceId) || traceId === zeros32) return undefined;
  if (!hex16.test(spanId) || spanId === zeros16) return undefined;
  if (!hex2.test(flags)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** The ids of one transaction's spans. */
export interface TransactionIds {
  readonly traceId: string;
  readonly clientSpanId: string;
  readonly serverSpanId: string;
}

/**
 * Ids derived from what identifies a transaction, so that processing the same input again
 * gives the same ids (reference/otel.md R3): SHA-256 over the node name and the transaction
 * key; bytes 0-15 are the trace id, 16-23 the client span id, 24-31 the server span id.
 * SHA-256 output is uniform, so trace-id ratio samplers downstream keep working. An all-zero
 * id (invalid in OTLP; odds 2^-64) is replaced by hashing again with a counter.
 */
export function transactionIds(nodeName: string, transactionKey: string): TransactionIds {
  for (let round = 0; ; round++) {
    const digest = hash('sha256', `l7flow\u0000${nodeName}\u0000${transactionKey}\u0000${round}`, 'hex');
    const ids = {
      traceId: digest.slice(0, 32),
      clientSpanId: digest.slice(32, 48),
      serverSpanId: digest.slice(48, 64),
    };
    if (ids.traceId !== zeros32 && ids.clientSpanId !== zeros16 && ids.serverSpanId !== zeros16) return ids;
  }
}
