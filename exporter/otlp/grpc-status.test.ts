import fc from 'fast-check';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { retryInfoTrailer } from '../../test/support/otlp-receiver.js';
import { grpcCodeName, retryDelayMs, statusVerdict } from './grpc-status.js';

const statusDetails = (delayMs: number) => retryInfoTrailer(delayMs).get('grpc-status-details-bin')[0] as Buffer;

describe('gRPC status verdicts (OTLP specification, failures and throttling)', () => {
  it.each(['CANCELLED', 'DEADLINE_EXCEEDED', 'ABORTED', 'OUT_OF_RANGE', 'UNAVAILABLE', 'DATA_LOSS'] as const)(
    'retries %s',
    (name) => {
      expect(statusVerdict(status[name])).toEqual({ retryable: true });
    },
  );

  it.each([
    'UNKNOWN',
    'INVALID_ARGUMENT',
    'NOT_FOUND',
    'ALREADY_EXISTS',
    'PERMISSION_DENIED',
    'FAILED_PRECONDITION',
    'UNIMPLEMENTED',
    'INTERNAL',
    'UNAUTHENTICATED',
  ] as const)('gives up on %s', (name) => {
    expect(statusVerdict(status[name])).toEqual({ retryable: false });
  });

  it('retries RESOURCE_EXHAUSTED only when the server sent RetryInfo, after its delay', () => {
    expect(statusVerdict(status.RESOURCE_EXHAUSTED)).toEqual({ retryable: false });
    expect(statusVerdict(status.RESOURCE_EXHAUSTED, statusDetails(2500))).toEqual({
      retryable: true,
      throttleMs: 2500,
    });
    expect(statusVerdict(status.UNAVAILABLE, statusDetails(1000))).toEqual({ retryable: true, throttleMs: 1000 });
  });

  it('treats a failure without a status (a local error) as permanent', () => {
    expect(statusVerdict(undefined)).toEqual({ retryable: false });
    expect(grpcCodeName(undefined)).toBe('NONE');
    expect(grpcCodeName(status.UNAVAILABLE)).toBe('UNAVAILABLE');
  });
});

describe('RetryInfo decoding', () => {
  it('reads seconds and nanos of retry_delay from an encoded google.rpc.Status', () => {
    expect(retryDelayMs(statusDetails(0))).toBe(0);
    expect(retryDelayMs(statusDetails(1500))).toBe(1500);
    expect(retryDelayMs(statusDetails(61_250))).toBe(61_250);
  });

  it('finds nothing in a status without RetryInfo, and never throws on random bytes', () => {
    expect(retryDelayMs(new Uint8Array([0x08, 0x0e, 0x12, 0x02, 0x68, 0x69]))).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const delay = retryDelayMs(bytes);
        expect(delay === undefined || Number.isFinite(delay)).toBe(true);
      }),
    );
  });
});
