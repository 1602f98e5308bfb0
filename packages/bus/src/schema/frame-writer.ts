import type { Writer } from './codec.ts';

/** Scratch space kept between frames up to this size; a bigger one is dropped after use. */
const KEEP_BYTES = 1 << 20;

/**
 * A reusable scratch writer for frames: RPC headers, bodies and batch length prefixes are written
 * in place (the lengths patched once known), and each finished frame is copied out once, into a
 * Buffer of its exact size. One per server listener / client / schema: frames are written and
 * taken synchronously, so it is never shared by two frames at once.
 */
export class FrameWriter implements Writer {
  private buf: Buffer;
  private view: DataView;
  pos = 0;

  constructor(private readonly initial = 16 << 10) {
    this.buf = Buffer.allocUnsafeSlow(initial);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16le(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  u32le(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  u64le(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, v), true);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Overwrites 4 bytes already written (a length prefix, once the length is known). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }

  /** The bytes from `from` to the end, copied into a Buffer of their own. */
  take(from = 0): Buffer {
    const out = Buffer.allocUnsafe(this.pos - from);
    this.buf.copy(out, 0, from, this.pos);
    return out;
  }

  /** The same as a plain Uint8Array (what schema.encode returns). */
  takeBytes(from = 0): Uint8Array {
    return new Uint8Array(this.buf.subarray(from, this.pos));
  }

  /** Starts over; a scratch grown past KEEP_BYTES by one big frame is let go. */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > KEEP_BYTES) {
      this.buf = Buffer.allocUnsafeSlow(this.initial);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
  }
}
