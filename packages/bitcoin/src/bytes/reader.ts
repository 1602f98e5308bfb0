import { DecodeError } from '../errors.ts';

/**
 * Cursor over a byte buffer for Bitcoin serialization. Slices are views (subarray), never
 * copies. Every length read from input is checked against what remains before it is used, so
 * a hostile length can never cause an allocation or a read past the end.
 */
export class ByteReader {
  readonly buf: Uint8Array;
  readonly end: number;
  pos: number;
  private readonly view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless n more bytes are available. */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new DecodeError('truncated', what, this.pos, `need ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16le(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32le(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i32le(what = 'i32'): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64le(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** CompactSize (Bitcoin's var_int). Rejects non-canonical encodings as Core does. */
  compactSize(what = 'compactSize'): number {
    const start = this.pos;
    const first = this.u8(what);
    if (first < 0xfd) return first;
    let v: number;
    if (first === 0xfd) {
      v = this.u16le(what);
      if (v < 0xfd) throw new DecodeError('non-canonical', what, start);
    } else if (first === 0xfe) {
      v = this.u32le(what);
      if (v < 0x10000) throw new DecodeError('non-canonical', what, start);
    } else {
      const big = this.u64le(what);
      if (big < 0x100000000n) throw new DecodeError('non-canonical', what, start);
      // No real count or length can reach 2^32; refuse before any caller tries to use it.
      throw new DecodeError('oversized', what, start, `value ${big}`);
    }
    return v;
  }

  /**
   * A CompactSize that is a count of items each at least minItemSize bytes long: bounded by what
   * remains, so a hostile count is refused before any array is sized by it.
   */
  count(what: string, minItemSize: number): number {
    const start = this.pos;
    const n = this.compactSize(what);
    if (minItemSize > 0 && n > Math.floor(this.remaining / minItemSize)) {
      throw new DecodeError('truncated', what, start, `count ${n} exceeds remaining ${this.remaining} bytes`);
    }
    return n;
  }

  /** n bytes as a view into the buffer. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** CompactSize length followed by that many bytes (a view). */
  varBytes(what = 'varBytes'): Uint8Array {
    const n = this.compactSize(what);
    return this.bytes(n, what);
  }

  skip(n: number, what = 'skip'): void {
    this.need(n, what);
    this.pos += n;
  }

  /** Throws if any bytes are left: used where input must be exactly one item. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new DecodeError('trailing-bytes', what, this.pos, `${this.end - this.pos} bytes left`);
    }
  }
}
