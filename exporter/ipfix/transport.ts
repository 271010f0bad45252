/**
 * The thin shell between encoded messages and the outside world. A Transport opens
 * sessions; a Connection is one session (RFC 7011 "Transport Session": a TCP or TLS
 * connection, a UDP socket, one file). Sequence numbers and templates are per session,
 * so the exporter starts both afresh on every Connection.
 */
export interface Transport {
  readonly name: TransportName;
  /** UDP loses templates with the collector's state: they are re-sent periodically (RFC 7011 §8.4). */
  readonly refreshesTemplates: boolean;
  /** Opens a session. Rejects when it cannot; honours `signal` by rejecting promptly. */
  open(signal: AbortSignal): Promise<Connection>;
  /**
   * Checks at start what a configuration mistake would break (unreadable certificates, an
   * unwritable file), so that it fails start-up with a message instead of retrying forever.
   * A collector that is down is not a mistake: it is never checked here.
   */
  check?(): Promise<void>;
}

export type TransportName = 'udp' | 'tcp' | 'tls' | 'file';

export interface Connection {
  /**
   * `datagram`: a failed write loses that message only, and the session goes on.
   * `stream`: a failed write ends the session; the message may be sent again on the next.
   */
  readonly kind: 'datagram' | 'stream';
  /** Writes one whole message; resolves once the OS has it, rejects when the write failed. */
  write(message: Buffer): Promise<void>;
  /** Settles (never rejects) when the session ends, with the reason; undefined after close(). */
  readonly ended: Promise<Error | undefined>;
  /** Ends the session and releases its socket or file. Idempotent. */
  close(): Promise<void>;
}

/** A file session ended because the file is full: reopen at once (rotated), no back-off. */
export class FileFull extends Error {
  constructor(path: string) {
    super(`${path} reached its maximum size`);
    this.name = 'FileFull';
  }
}

/** Rejects with the signal's reason (or a generic abort error) when it aborts. */
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
