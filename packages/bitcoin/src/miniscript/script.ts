/**
 * Minimal script tokenizing and number encoding for miniscript and shapes. Local until the
 * shared script/ module lands (see opcodes.ts).
 */
import { OP } from './opcodes.ts';

/** One script element: an opcode, and for pushes the pushed bytes. */
export interface ScriptOp {
  op: number;
  /** Pushed bytes for push opcodes (OP_0 and OP_PUSHBYTES_n/PUSHDATAn); undefined otherwise. */
  data?: Uint8Array;
  /** Byte offset of the opcode in the script. */
  offset: number;
}

/** Splits a script into ops; returns null when a push runs past the end. */
export function tokenize(script: Uint8Array): ScriptOp[] | null {
  const out: ScriptOp[] = [];
  let i = 0;
  while (i < script.length) {
    const offset = i;
    const op = script[i++];
    if (op === 0) {
      out.push({ op, data: new Uint8Array(0), offset });
    } else if (op <= OP.OP_PUSHDATA4) {
      let len: number;
      if (op < OP.OP_PUSHDATA1) len = op;
      else if (op === OP.OP_PUSHDATA1) {
        if (i + 1 > script.length) return null;
        len = script[i];
        i += 1;
      } else if (op === OP.OP_PUSHDATA2) {
        if (i + 2 > script.length) return null;
        len = script[i] | (script[i + 1] << 8);
        i += 2;
      } else {
        if (i + 4 > script.length) return null;
        len = (script[i] | (script[i + 1] << 8) | (script[i + 2] << 16)) + script[i + 3] * 0x1000000;
        i += 4;
      }
      if (i + len > script.length) return null;
      out.push({ op, data: script.subarray(i, i + len), offset });
      i += len;
    } else {
      out.push({ op, offset });
    }
  }
  return out;
}

/** True when a push uses the shortest encoding (Core's CheckMinimalPush). */
export function isMinimalPush(op: number, data: Uint8Array): boolean {
  const n = data.length;
  if (n === 0) return op === OP.OP_0;
  if (n === 1 && data[0] >= 1 && data[0] <= 16) return false;
  if (n === 1 && data[0] === 0x81) return false;
  if (n <= 75) return op === n;
  if (n <= 255) return op === OP.OP_PUSHDATA1;
  if (n <= 65535) return op === OP.OP_PUSHDATA2;
  return true;
}

/** Script number encoding (minimal, sign-magnitude little endian). */
export function encodeScriptNum(n: number): Uint8Array {
  if (n === 0) return new Uint8Array(0);
  const neg = n < 0;
  let abs = Math.abs(n);
  const bytes: number[] = [];
  while (abs > 0) {
    bytes.push(abs & 0xff);
    abs = Math.floor(abs / 256);
  }
  if (bytes[bytes.length - 1] & 0x80) bytes.push(neg ? 0x80 : 0);
  else if (neg) bytes[bytes.length - 1] |= 0x80;
  return Uint8Array.from(bytes);
}

/** Decodes a minimally encoded script number of at most maxLen bytes; null if not one. */
export function decodeScriptNum(data: Uint8Array, maxLen = 4): number | null {
  const n = data.length;
  if (n === 0) return 0;
  if (n > maxLen) return null;
  // Minimal encoding: the top byte must carry more than the sign bit unless needed.
  if ((data[n - 1] & 0x7f) === 0 && (n === 1 || (data[n - 2] & 0x80) === 0)) return null;
  let v = 0;
  for (let i = 0; i < n; i++) v += (i === n - 1 ? data[i] & 0x7f : data[i]) * 2 ** (8 * i);
  return data[n - 1] & 0x80 ? -v : v;
}

/** The number an op stands for: OP_0..OP_16, OP_1NEGATE, or a minimal numeric push. */
export function opNumber(o: ScriptOp, maxLen = 4): number | null {
  if (o.op === OP.OP_0) return 0;
  if (o.op === OP.OP_1NEGATE) return -1;
  if (o.op >= OP.OP_1 && o.op <= OP.OP_16) return o.op - 0x50;
  if (o.data && isMinimalPush(o.op, o.data)) return decodeScriptNum(o.data, maxLen);
  return null;
}

/** Appends script pieces into one buffer. */
export class ScriptBuilder {
  private parts: number[] = [];
  private lastOp = -1;
  op(code: number): this {
    this.lastOp = this.parts.length;
    this.parts.push(code);
    return this;
  }
  push(data: Uint8Array): this {
    this.lastOp = -1;
    const n = data.length;
    if (n === 0) this.parts.push(OP.OP_0);
    else if (n === 1 && data[0] >= 1 && data[0] <= 16) this.parts.push(0x50 + data[0]);
    else if (n === 1 && data[0] === 0x81) this.parts.push(OP.OP_1NEGATE);
    else {
      if (n <= 75) this.parts.push(n);
      else if (n <= 255) this.parts.push(OP.OP_PUSHDATA1, n);
      else this.parts.push(OP.OP_PUSHDATA2, n & 0xff, n >> 8);
      for (const b of data) this.parts.push(b);
    }
    return this;
  }
  num(n: number): this {
    if (n === 0) return this.op(OP.OP_0);
    if (n === -1) return this.op(OP.OP_1NEGATE);
    if (n >= 1 && n <= 16) return this.op(0x50 + n);
    return this.push(encodeScriptNum(n));
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
  /** Last opcode written (for v: folding into *VERIFY forms). */
  get last(): number | undefined {
    return this.lastOp >= 0 ? this.parts[this.lastOp] : undefined;
  }
  replaceLast(code: number): void {
    this.parts[this.lastOp] = code;
  }
}
