/**
 * The only code that knows byte offsets: a growable big-endian buffer with a cursor.
 * Every IPFIX byte we emit goes through it (RFC 7011 §3: network byte order everywhere).
 *
 * Writes never throw on a value they cannot represent: they return false and leave the
 * cursor where it was, so the caller can drop the whole record (bad input is data).
 * Capacity grows by doubling, so a writer reused across messages stops allocating once it
 * has seen the largest message.
 */
export class ByteWriter {
  #buf: Buffer;
  #offset = 0;

  constructor(initialCapacity = 2048) {
    this.#buf = Buffer.allocUnsafe(initialCapacity);
  }

  /** A writer over an existing buffer (to patch it in place), cursor at 0. */
  static over(buffer: Buffer): ByteWriter {
    const writer = new ByteWriter(0);
    writer.#buf = buffer;
    return writer;
  }

  get offset(): number {
    return this.#offset;
  }

  /** Moves the cursor back to `offset`, discarding what was written after it. */
  rewind(offset: number): void {
    this.#offset = offset;
  }

  /** Moves the cursor forward over bytes already in place (after copyWithin). */
  skip(count: number): void {
    this.#ensure(count);
    this.#offset += count;
  }

  /** memmove inside the buffer; the regions may overlap. */
  copyWithin(target: number, start: number, end: number): void {
    this.#buf.copyWithin(target, start, end);
  }

  /** A copy of bytes [start, end): the caller owns it, the writer keeps its buffer. */
  copyOut(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    this.#buf.copy(out, 0, start, end);
    return out;
  }

  u8(value: number): void {
    this.#ensure(1);
    this.#buf[this.#offset++] = value;
  }

  u16(value: number): void {
    this.#ensure(2);
    const b = this.#buf;
    const o = this.#offset;
    b[o] = value >>> 8;
    b[o + 1] = value;
    this.#offset = o + 2;
  }

  u32(value: number): void {
    this.#ensure(4);
    this.#put32(this.#offset, value);
    this.#offset += 4;
  }

  /** An unsigned integer below 2^53 in 8 bytes, as two 32-bit halves (no BigInt). */
  u64(value: number): void {
    this.#ensure(8);
    const high = Math.floor(value / 0x1_0000_0000);
    this.#put32(this.#offset, high);
    this.#put32(this.#offset + 4, value - high * 0x1_0000_0000);
    this.#offset += 8;
  }

  /**
   * An unsigned integer in `width` bytes (1..8): the natural width, or a reduced-size
   * encoding (RFC 7011 §6.2). False when the value is not an integer that fits.
   */
  unsigned(value: number, width: number): boolean {
    switch (width) {
      // The masks reject fractions, NaN, negatives and overflow in one comparison.
      case 1:
        if ((value & 0xff) !== value) return false;
        this.u8(value);
        return true;
      case 2:
        if ((value & 0xffff) !== value) return false;
        this.u16(value);
        return true;
      case 4:
        if (value >>> 0 !== value) return false;
        this.u32(value);
        return true;
      case 8:
        if (!Number.isSafeInteger(value) || value < 0) return false;
        this.u64(value);
        return true;
      default: {
        if (!Number.isSafeInteger(value) || value < 0 || (width < 7 && value >= 2 ** (8 * width))) return false;
        this.#ensure(width);
        for (let i = width - 1; i >= 0; i--) {
          this.#buf[this.#offset + i] = value % 256;
          value = Math.floor(value / 256);
        }
        this.#offset += width;
        return true;
      }
    }
  }

  /** A two's-complement integer in `width` bytes (1..8), reduced size allowed. */
  signed(value: number, width: number): boolean {
    if (!Number.isSafeInteger(value)) return false;
    if (width < 7) {
      const limit = 2 ** (8 * width - 1);
      if (value < -limit || value >= limit) return false;
    }
    // Two's complement in `width` bytes is the unsigned value modulo 2^(8*width); for
    // width 8 a negative value is split into halves with the high one sign-extended.
    if (width === 8) {
      this.#ensure(8);
      const high = Math.floor(value / 0x1_0000_0000);
      this.#put32(this.#offset, high);
      this.#put32(this.#offset + 4, value - high * 0x1_0000_0000);
      this.#offset += 8;
      return true;
    }
    return this.unsigned(value < 0 ? value + 2 ** (8 * width) : value, width);
  }

  float32(value: number): void {
    this.#ensure(4);
    this.#buf.writeFloatBE(value, this.#offset);
    this.#offset += 4;
  }

  float64(value: number): void {
    this.#ensure(8);
    this.#buf.writeDoubleBE(value, this.#offset);
    this.#offset += 8;
  }

  bytes(value: Uint8Array): void {
    this.#ensure(value.length);
    this.#buf.set(value, this.#offset);
    this.#offset += value.length;
  }

  /** `count` zero bytes. */
  zeros(count: number): void {
    this.#ensure(count);
    this.#buf.fill(0, this.#offset, this.#offset + count);
    this.#offset += count;
  }

  /**
   * RFC 7011 §7 variable-length prefix: one octet for lengths below 255, else 255 and a
   * 16-bit length. False when the length exceeds 65535.
   */
  varlenPrefix(length: number): boolean {
    if (length > 0xffff) return false;
    if (length < 255) this.u8(length);
    else {
      this.u8(255);
      this.u16(length);
    }
    return true;
  }

  /**
   * A variable-length UTF-8 string (RFC 7011 §6.1.6, §7) written without measuring it
   * first: the text goes after a one-octet prefix and is moved two octets right when it
   * turns out to need the long form. Lone surrogates become U+FFFD, so the bytes are
   * always well-formed UTF-8. False when the encoding exceeds 65535 bytes.
   */
  varlenString(value: string): boolean {
    const length = value.length;
    if (length < 255) {
      // Short ASCII (names, states, methods) is copied by hand: cheaper than a call into
      // the UTF-8 encoder. Anything else takes the general path below.
      this.#ensure(1 + length);
      const b = this.#buf;
      const o = this.#offset;
      let i = 0;
      for (; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        b[o + 1 + i] = c;
      }
      if (i === length) {
        b[o] = length;
        this.#offset = o + 1 + length;
        return true;
      }
    }
    const start = this.#offset;
    this.#ensure(3 + value.length * 3);
    const written = this.#buf.write(value, start + 1, 'utf8');
    if (written < 255) {
      this.#buf[start] = written;
      this.#offset = start + 1 + written;
      return true;
    }
    if (written > 0xffff) return false;
    this.#buf.copyWithin(start + 3, start + 1, start + 1 + written);
    this.#buf[start] = 255;
    this.#buf[start + 1] = written >>> 8;
    this.#buf[start + 2] = written;
    this.#offset = start + 3 + written;
    return true;
  }

  /** A string in exactly `width` bytes: cut at a character boundary, zero-padded. */
  fixedString(value: string, width: number): void {
    this.#ensure(width + 3);
    const start = this.#offset;
    // Buffer.write never writes a partial character, so the cut is always clean.
    const written = this.#buf.write(value, start, width, 'utf8');
    this.#buf.fill(0, start + written, start + width);
    this.#offset = start + width;
  }

  varlenBytes(value: Uint8Array): boolean {
    if (!this.varlenPrefix(value.length)) return false;
    this.bytes(value);
    return true;
  }

  /** Dotted-quad IPv4 text as 4 octets, parsed without allocating. */
  ipv4(text: string): boolean {
    this.#ensure(4);
    const b = this.#buf;
    const o = this.#offset;
    let part = 0;
    let value = 0;
    let digits = 0;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 46; // a final '.' closes the last octet
      if (c === 46) {
        if (digits === 0 || part > 3) return false;
        b[o + part++] = value;
        value = 0;
        digits = 0;
      } else if (c >= 48 && c <= 57 && digits < 3) {
        value = value * 10 + (c - 48);
        digits++;
        if (value > 255) return false;
      } else {
        return false;
      }
    }
    if (part !== 4) return false;
    this.#offset = o + 4;
    return true;
  }

  /**
   * IPv6 text (any RFC 4291 §2.2 form, including `::` and a trailing dotted quad) as 16
   * octets, parsed without allocating.
   */
  ipv6(text: string): boolean {
    this.#ensure(16);
    const b = this.#buf;
    const o = this.#offset;
    let group = 0; // groups written so far
    let gap = -1; // group index where `::` was
    let value = 0;
    let digits = 0;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 58) {
        if (i + 1 < n && text.charCodeAt(i + 1) === 58) {
          if (gap >= 0) return false;
          if (digits > 0) {
            if (group >= 8) return false;
            b[o + 2 * group] = value >>> 8;
            b[o + 2 * group + 1] = value;
            group++;
          } else if (i !== 0) return false;
          gap = group;
          i++;
        } else {
          if (digits === 0 || group >= 8) return false;
          b[o + 2 * group] = value >>> 8;
          b[o + 2 * group + 1] = value;
          group++;
        }
        value = 0;
        digits = 0;
      } else if (c === 46) {
        // An embedded IPv4 address takes the last two groups.
        if (group > 6) return false;
        let start = i - 1;
        while (start > 0 && text.charCodeAt(start - 1) !== 58) start--;
        this.#offset = o + 2 * group;
        if (!this.ipv4(text.slice(start))) {
          this.#offset = o;
          return false;
        }
        this.#offset = o;
        group += 2;
        digits = 0;
        break;
      } else {
        const nibble = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (nibble < 0 || digits === 4) return false;
        value = (value << 4) | nibble;
        digits++;
      }
    }
    if (digits > 0) {
      if (group >= 8) return false;
      b[o + 2 * group] = value >>> 8;
      b[o + 2 * group + 1] = value;
      group++;
    } else if (n > 0 && text.charCodeAt(n - 1) === 58 && gap !== group) return false;
    if (gap < 0) {
      if (group !== 8) return false;
    } else {
      if (group > 7) return false;
      const tail = group - gap;
      const move = 8 - group;
      b.copyWithin(o + 2 * (gap + move), o + 2 * gap, o + 2 * (gap + tail));
      b.fill(0, o + 2 * gap, o + 2 * (gap + move));
    }
    this.#offset = o + 16;
    return true;
  }

  /** `aa:bb:cc:dd:ee:ff` (or `-` separated) as 6 octets. */
  mac(text: string): boolean {
    if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) return false;
    this.#ensure(6);
    for (let i = 0; i < 6; i++) this.#buf[this.#offset + i] = parseInt(text.slice(3 * i, 3 * i + 2), 16);
    this.#offset += 6;
    return true;
  }

  /** Overwrites 16 bits at `at` (set and message lengths, back-patched). */
  patchU16(at: number, value: number): void {
    this.#buf[at] = value >>> 8;
    this.#buf[at + 1] = value;
  }

  patchU32(at: number, value: number): void {
    this.#put32(at, value);
  }

  #put32(at: number, value: number): void {
    const b = this.#buf;
    b[at] = value >>> 24;
    b[at + 1] = value >>> 16;
    b[at + 2] = value >>> 8;
    b[at + 3] = value;
  }

  #ensure(extra: number): void {
    const needed = this.#offset + extra;
    if (needed <= this.#buf.length) return;
    let capacity = Math.max(64, this.#buf.length * 2);
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.#buf.copy(grown, 0, 0, this.#offset);
    this.#buf = grown;
  }
}
