import { fromHex, toHex } from '../bytes/hex.ts';
import { ValueError } from '../errors.ts';
import { decodeScriptNum, encodeScriptNum, isMinimalScriptNum } from './num.ts';
import { encodeSmallInt, OP, opcodeByName, opcodeName } from './opcodes.ts';
import { encodePush, parseScript, type ScriptOp } from './tokenize.ts';

/**
 * ASM text for scripts.
 *
 * `core` mode is exactly Bitcoin Core's ScriptToAsmStr (decodescript's "asm", without sighash
 * decoding): pushes of up to 4 bytes print as decimal, longer ones as hex, unknown opcodes as
 * OP_UNKNOWN and an unparsable tail as [error]. It is lossy: a 1-byte push of 0x05 and OP_5 both
 * print "5", and a non-minimal push looks like a minimal one.
 *
 * `exact` mode (the default) prints the same text wherever that text reads back to the same bytes,
 * and otherwise writes the operation's raw bytes as one `0x..` token, Core's own raw-bytes notation
 * from ParseScript (e.g. `0x4c0105` for OP_PUSHDATA1 of 05, `0x0105` for a direct push of 05,
 * `0xbb` for an unknown opcode, `0x4d01` for an unparsable tail). fromAsm(toAsm(s)) === s for every
 * byte string s.
 */
export type AsmMode = 'exact' | 'core';

const DIGITS = /^-?\d+$/;
const HEX = /^[0-9a-fA-F]+$/;

export function toAsm(script: Uint8Array, opts: { mode?: AsmMode } = {}): string {
  const exact = (opts.mode ?? 'exact') === 'exact';
  const parsed = parseScript(script);
  const words: string[] = [];
  for (const o of parsed.ops) words.push(exact ? exactToken(script, o) : coreToken(o));
  if (!parsed.parsable) {
    const at = parsed.error?.offset ?? script.length;
    words.push(exact ? `0x${toHex(script.subarray(at))}` : '[error]');
  }
  return words.join(' ');
}

function coreToken(o: ScriptOp): string {
  if (!o.data) return opcodeName(o.op);
  if (o.data.length <= 4) return String(decodeScriptNum(o.data));
  return toHex(o.data);
}

function exactToken(script: Uint8Array, o: ScriptOp): string {
  const raw = () => `0x${toHex(script.subarray(o.offset, o.end))}`;
  const d = o.data;
  if (!d) {
    const name = opcodeName(o.op);
    return name === 'OP_UNKNOWN' ? raw() : name;
  }
  if (o.op === OP.OP_0) return '0';
  if (d.length <= 4) {
    // A decimal reads back as Core's push_int64: OP_N for -1..16, else the minimal direct push.
    if (o.op !== d.length || !isMinimalScriptNum(d)) return raw();
    const n = decodeScriptNum(d);
    return n >= -1 && n <= 16 ? raw() : String(n);
  }
  const hex = toHex(d);
  // Bare hex reads back as the shortest push; all-digit hex of up to 11 characters (a 5-byte push)
  // would read back as a decimal number.
  if (o.end - o.offset !== encodedPushLength(d.length) || (hex.length <= 11 && DIGITS.test(hex)))
    return raw();
  return hex;
}

function encodedPushLength(n: number): number {
  return n + (n < OP.OP_PUSHDATA1 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5);
}

/** Core's push_int64: OP_1NEGATE / OP_0 / OP_1..OP_16 for small values, else a minimal push. */
export function pushNumber(n: number | bigint): Uint8Array {
  const v = Number(n);
  if (v === -1) return Uint8Array.of(OP.OP_1NEGATE);
  if (v >= 0 && v <= 16 && Number.isInteger(v)) return Uint8Array.of(encodeSmallInt(v));
  return encodePush(encodeScriptNum(v));
}

/**
 * Parses ASM in both of Core's dialects: decodescript output (bare hex = push of those bytes,
 * decimal = number) and the test/bitcoin-tx notation of ParseScript (`0x..` raw bytes inserted as
 * is, `'text'` = push of the text's UTF-8 bytes, opcode names with or without OP_, plus OP_FALSE,
 * OP_TRUE, OP_NOP2, OP_NOP3). Decimals are limited to Core's range -0xffffffff..0xffffffff, so
 * an all-digit token of 12 or more characters can only be hex (decodescript prints a pubkey such as
 * 0201..01 that way) and is read as a push.
 * Lossy tokens ([error], OP_UNKNOWN) are refused. Throws ValueError naming the token.
 */
export function fromAsm(asm: string): Uint8Array {
  const parts: Uint8Array[] = [];
  const words = asm.split(/\s+/).filter((w) => w.length > 0);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const fail = (why: string): never => {
      throw new ValueError('asm', `token ${i} "${w.length > 40 ? `${w.slice(0, 40)}...` : w}": ${why}`);
    };
    const code = opcodeByName(w);
    if (code !== undefined) {
      parts.push(Uint8Array.of(code));
    } else if (DIGITS.test(w) && w.length <= 11) {
      const n = Number(w);
      if (!Number.isSafeInteger(n) || Math.abs(n) > 0xffffffff)
        fail('decimal outside -0xffffffff..0xffffffff');
      parts.push(pushNumber(n));
    } else if (w.startsWith('0x') || w.startsWith('0X')) {
      const h = w.slice(2);
      if (h.length === 0 || !HEX.test(h) || h.length % 2)
        fail('raw bytes must be an even number of hex digits');
      parts.push(fromHex(h));
    } else if (w.length >= 2 && w[0] === "'" && w[w.length - 1] === "'") {
      parts.push(encodePush(new TextEncoder().encode(w.slice(1, -1))));
    } else if (HEX.test(w) && w.length % 2 === 0) {
      parts.push(encodePush(fromHex(w)));
    } else if (w === '[error]' || w === 'OP_UNKNOWN') {
      fail('lossy Core output: the bytes it stood for are unknown');
    } else {
      fail('not an opcode, number, hex push, 0x raw bytes or quoted string');
    }
  }
  // Not concatBytes(...parts): a spread of a huge token list would overflow the argument limit.
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}
