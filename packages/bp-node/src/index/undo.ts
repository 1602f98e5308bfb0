import { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import { DecodeError } from '@lnpbp/bitcoin/errors';

/**
 * A block's undo record: one entry per input of its non-coinbase txs, in block order, holding
 * what connecting the block took away so disconnecting can put it back.
 *   0x00                                        the spent output is not in the index (extspend)
 *   0x01 | output id (8) | value u64 LE | compactSize script length | script
 */
export interface UndoEntry {
  /** The spent output's id (8 bytes) or null when the index does not hold it. */
  id: Uint8Array | null;
  value: bigint;
  script: Uint8Array;
}

export class UndoWriter {
  private buf = new Uint8Array(4096);
  private pos = 0;
  private view = new DataView(this.buf.buffer);

  reset(): void {
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  external(): void {
    this.room(1);
    this.buf[this.pos++] = 0;
  }

  spent(id: Uint8Array, value: bigint, script: Uint8Array): void {
    this.room(1 + 8 + 8 + 9 + script.length);
    this.buf[this.pos++] = 1;
    this.buf.set(id, this.pos);
    this.pos += 8;
    this.view.setBigUint64(this.pos, value, true);
    this.pos += 8;
    const n = script.length;
    if (n < 0xfd) this.buf[this.pos++] = n;
    else if (n <= 0xffff) {
      this.buf[this.pos++] = 0xfd;
      this.view.setUint16(this.pos, n, true);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xfe;
      this.view.setUint32(this.pos, n, true);
      this.pos += 4;
    }
    this.buf.set(script, this.pos);
    this.pos += n;
  }

  /** The record so far (a view, valid until the next write). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Decodes a whole undo record; `inputs`, when given, is the entry count it must hold. */
export function decodeUndo(bytes: Uint8Array, inputs?: number): UndoEntry[] {
  const r = new ByteReader(bytes);
  const out: UndoEntry[] = [];
  for (let i = 0; inputs === undefined ? r.remaining > 0 : i < inputs; i++) {
    const tag = r.u8(`undo[${i}]`);
    if (tag === 0) {
      out.push({ id: null, value: 0n, script: new Uint8Array(0) });
    } else if (tag === 1) {
      const id = r.bytes(8);
      const value = r.u64le(`undo[${i}].value`);
      const script = r.varBytes(`undo[${i}].script`);
      out.push({ id, value, script });
    } else {
      throw new DecodeError('invalid-value', `undo[${i}]`, r.pos - 1, `tag ${tag}`);
    }
  }
  r.expectEnd('undo');
  return out;
}
