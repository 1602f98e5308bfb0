/**
 * Miniscript's view of script, on top of script/: its operations (script/'s tokenizer), the
 * numbers miniscript reads (OP_0..OP_16, OP_1NEGATE, minimal numeric pushes) and a builder that
 * writes the encodings miniscript compiles to.
 */
import { decodeScriptNum, encodeScriptNum, isMinimalScriptNum } from '../script/num.ts';
import { OP } from '../script/opcodes.ts';
import { encodePush, isMinimalPush, parseScript, type ScriptOp } from '../script/tokenize.ts';

export { isMinimalPush, type ScriptOp };

/** The script's operations, or null when a push runs past the end (such a script is not miniscript). */
export function tokenize(script: Uint8Array): ScriptOp[] | null {
  const r = parseScript(script);
  return r.parsable ? r.ops : null;
}

/** A minimally encoded script number of at most `maxLen` bytes; null when it is not one. */
export function decodeMinimalNum(data: Uint8Array, maxLen = 4): number | null {
  if (data.length > maxLen || !isMinimalScriptNum(data)) return null;
  return decodeScriptNum(data, { maxSize: maxLen });
}

/** The number an op stands for: OP_0..OP_16, OP_1NEGATE, or a minimal numeric push. */
export function opNumber(o: { op: number; data?: Uint8Array }, maxLen = 4): number | null {
  if (o.op === OP.OP_0) return 0;
  if (o.op === OP.OP_1NEGATE) return -1;
  if (o.op >= OP.OP_1 && o.op <= OP.OP_16) return o.op - OP.OP_1 + 1;
  if (o.data && isMinimalPush(o.op, o.data)) return decodeMinimalNum(o.data, maxLen);
  return null;
}

/** Appends script pieces into one buffer, each in its minimal encoding. */
export class ScriptBuilder {
  private parts: number[] = [];
  private lastOp = -1;
  op(code: number): this {
    this.lastOp = this.parts.length;
    this.parts.push(code);
    return this;
  }
  /** A push, as OP_0 / OP_1..OP_16 / OP_1NEGATE where one stands for the bytes (Core's CheckMinimalPush). */
  push(data: Uint8Array): this {
    this.lastOp = -1;
    const n = data.length;
    if (n === 0) this.parts.push(OP.OP_0);
    else if (n === 1 && data[0] >= 1 && data[0] <= 16) this.parts.push(OP.OP_1 + data[0] - 1);
    else if (n === 1 && data[0] === 0x81) this.parts.push(OP.OP_1NEGATE);
    else for (const b of encodePush(data)) this.parts.push(b);
    return this;
  }
  num(n: number): this {
    if (n === 0) return this.op(OP.OP_0);
    if (n === -1) return this.op(OP.OP_1NEGATE);
    if (n >= 1 && n <= 16) return this.op(OP.OP_1 + n - 1);
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
