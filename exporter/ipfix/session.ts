import { stampMessage } from './codec/message.js';

const MOD32 = 0x1_0000_0000;

/**
 * The header state of one transport session and Observation Domain (RFC 7011 §3.1):
 * the Sequence Number, which counts the Data Records sent before a message (mod 2^32), and
 * an Export Time that never goes backwards (§8: a data set may not precede, in export time,
 * the template that defines it). A new session (a TCP reconnect, a new file) starts a new
 * instance: sequence numbers restart.
 */
export class SessionHeader {
  #sequence: number;
  #exportTime = 0;

  constructor(initialSequence = 0) {
    this.#sequence = initialSequence % MOD32;
  }

  get sequence(): number {
    return this.#sequence;
  }

  /**
   * Stamps `message` as leaving now. `skippedBefore` data records were lost just before it
   * (dropped from the queue): its sequence number jumps past them, so that the collector
   * sees the loss as a gap (§3.1 requires discarded records to show in the sequence).
   */
  stamp(message: Buffer, nowUs: number, skippedBefore: number): void {
    this.#exportTime = Math.max(this.#exportTime, Math.floor(nowUs / 1e6));
    stampMessage(message, this.#exportTime, (this.#sequence + skippedBefore) % MOD32);
  }

  /** Moves past data records sent (or lost) in this session. */
  advance(records: number): void {
    this.#sequence = (this.#sequence + records) % MOD32;
  }
}
