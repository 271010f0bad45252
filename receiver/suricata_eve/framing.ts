const newline = 0x0a;
const carriageReturn = 0x0d;

export interface LineHandler {
  /** A complete line, without its `\n` (or `\r\n`). */
  line(text: string): void;
  /** A line longer than the limit was skipped up to its newline (called once per such line). */
  oversize(): void;
}

/**
 * Splits a byte stream into newline-delimited lines without ever holding more than
 * `maxLineBytes` of one line: an over-long line is reported once and skipped up to its
 * newline. A partial last line waits for the next chunk; finish() says whether one was left.
 * Lines are decoded as UTF-8 only once complete, so a multi-byte character split across
 * chunks decodes correctly.
 */
export class LineSplitter {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #skipping = false;

  constructor(
    readonly maxLineBytes: number,
    private readonly handler: LineHandler,
  ) {}

  /** Bytes held for an incomplete line. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    if (this.#skipping) {
      const end = chunk.indexOf(newline);
      if (end < 0) return;
      this.#skipping = false;
      start = end + 1;
    }
    for (;;) {
      const end = chunk.indexOf(newline, start);
      if (end < 0) break;
      this.#emit(chunk, start, end);
      start = end + 1;
    }
    if (start >= chunk.length) return;
    const rest = chunk.length - start;
    if (this.#pendingBytes + rest > this.maxLineBytes) {
      this.#dropPending();
      this.#skipping = true;
      this.handler.oversize();
      return;
    }
    this.#pending.push(chunk.subarray(start));
    this.#pendingBytes += rest;
  }

  /**
   * Ends the stream. With `emitPartial` (a file that ends without a final newline) the
   * partial line is delivered as a line; otherwise it is discarded. Returns whether a partial
   * line was left.
   */
  finish(emitPartial: boolean): boolean {
    const hadPartial = this.#pendingBytes > 0;
    if (hadPartial && emitPartial) {
      const joined = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#dropPending();
      this.#emit(joined, 0, joined.length);
    }
    this.#dropPending();
    this.#skipping = false;
    return hadPartial;
  }

  #emit(chunk: Buffer, start: number, end: number): void {
    let stop = end;
    if (stop > start && chunk[stop - 1] === carriageReturn) stop--;
    if (this.#pendingBytes === 0) {
      if (stop - start > this.maxLineBytes) return this.handler.oversize();
      this.handler.line(chunk.toString('utf8', start, stop));
      return;
    }
    const total = this.#pendingBytes + (end - start);
    if (total > this.maxLineBytes) {
      this.#dropPending();
      return this.handler.oversize();
    }
    this.#pending.push(chunk.subarray(start, end));
    const joined = Buffer.concat(this.#pending, total);
    this.#dropPending();
    const joinedStop =
      joined.length > 0 && joined[joined.length - 1] === carriageReturn ? joined.length - 1 : joined.length;
    this.handler.line(joined.toString('utf8', 0, joinedStop));
  }

  #dropPending(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}
