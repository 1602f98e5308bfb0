/**
 * The shape of a script revealed on chain: its lifted miniscript with keys, key hashes, hashes
 * and timelock numbers abstracted (K, KH, H, N), or, for scripts that are not miniscript, an
 * opcode template with pushes abstracted by type (<pubkey>, <hash20>, <num>, ...). The values
 * taken out are listed in script order. Shapes come from the script bytes, never from text, so
 * spellings that compile to one script share one shape.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { formatMiniscript } from '../miniscript/format.ts';
import { liftMiniscript } from '../miniscript/lift.ts';
import type { MsContext } from '../miniscript/node.ts';
import { decodeMinimalNum } from '../miniscript/script.ts';
import { OP, opcodeByName, opcodeKeyName } from '../script/opcodes.ts';
import { parseScript, type ScriptOp } from '../script/tokenize.ts';

export type ShapeContext = 'p2wsh' | 'tapscript' | 'p2sh' | 'scriptPubKey';

/** One abstracted value. Byte values are lowercase hex. */
export type ShapeValue =
  | { type: 'key'; hex: string }
  | { type: 'keyhash'; hex: string }
  | { type: 'hash'; hex: string }
  | { type: 'num'; value: number }
  | { type: 'pubkey' | 'pubkey65' | 'hash20' | 'hash32' | 'sig' | 'data'; hex: string };

export interface ScriptShape {
  kind: 'miniscript' | 'template';
  shape: string;
  /** First 8 bytes of SHA256(shape): the index key. */
  shapeKey: Uint8Array;
  values: ShapeValue[];
}

export const SHAPE_KEY_BYTES = 8;

export function shapeKeyOf(shape: string): Uint8Array {
  return sha256(new TextEncoder().encode(shape)).subarray(0, SHAPE_KEY_BYTES);
}

export function msContextOf(ctx: ShapeContext): MsContext {
  return ctx === 'p2wsh' ? 'p2wsh' : ctx === 'tapscript' ? 'tapscript' : 'p2sh';
}

/** Template class of a push; shared by script shapes and pattern literals. */
export function pushClass(data: Uint8Array): { cls: string; value: ShapeValue } {
  const h = hex.encode(data);
  const n = data.length;
  if (n >= 1 && n <= 5) {
    const v = decodeMinimalNum(data, 5);
    if (v !== null) return { cls: '<num>', value: { type: 'num', value: v } };
  }
  if (n === 20) return { cls: '<hash20>', value: { type: 'hash20', hex: h } };
  if (n === 32) return { cls: '<hash32>', value: { type: 'hash32', hex: h } };
  if (n === 33 && (data[0] === 2 || data[0] === 3))
    return { cls: '<pubkey>', value: { type: 'pubkey', hex: h } };
  if (n === 65 && data[0] === 4) return { cls: '<pubkey65>', value: { type: 'pubkey65', hex: h } };
  if (n >= 9 && n <= 73 && data[0] === 0x30 && data[1] === n - 3)
    return { cls: '<sig>', value: { type: 'sig', hex: h } };
  return { cls: '<data>', value: { type: 'data', hex: h } };
}

/** Template class of one op: small-number opcodes are <num> like numeric pushes. */
export function opClass(o: ScriptOp): { cls: string; value?: ShapeValue } {
  if (o.op === OP.OP_0) return { cls: 'OP_0' };
  if (o.data !== undefined) return pushClass(o.data);
  if (o.op === OP.OP_1NEGATE) return { cls: '<num>', value: { type: 'num', value: -1 } };
  if (o.op >= OP.OP_1 && o.op <= OP.OP_16)
    return { cls: '<num>', value: { type: 'num', value: o.op - 0x50 } };
  return { cls: templateOpName(o.op) };
}

/**
 * An opcode's name in template shapes: Core's name for each named opcode (OP_CSV and OP_NOP3
 * are both OP_CHECKSEQUENCEVERIFY), `OP_UNKNOWN_<n>` for 0xbb-0xff. Shape strings are hashed
 * into the index's keys, so these names must never change.
 */
export function templateOpName(op: number): string {
  return (op === 0xff ? undefined : opcodeKeyName(op)) ?? `OP_UNKNOWN_${op}`;
}

const TEMPLATE_ALIASES: Record<string, number> = {
  OP_CLTV: OP.OP_CHECKLOCKTIMEVERIFY,
  OP_CSV: OP.OP_CHECKSEQUENCEVERIFY,
};

/**
 * The opcode a template pattern names (any case; Core's aliases, OP_CLTV/OP_CSV, the
 * `OP_UNKNOWN_<n>` names shapes use, `OP_PUSHBYTES_<n>`); undefined when none.
 */
export function templateOpcode(name: string): number | undefined {
  const up = name.toUpperCase();
  const n = /^OP_(UNKNOWN|PUSHBYTES)_([0-9]{1,3})$/.exec(up);
  if (n) {
    const code = Number(n[2]);
    const ok = n[1] === 'UNKNOWN' ? code >= 0xbb && code <= 0xff : code >= 1 && code <= 0x4b;
    return ok ? code : undefined;
  }
  return TEMPLATE_ALIASES[up] ?? opcodeByName(up);
}

/** Opcode template of any script (also for ones that do not parse: '<truncated>' ends it). */
export function templateShape(script: Uint8Array): ScriptShape {
  const { ops, parsable } = parseScript(script);
  const parts: string[] = [];
  const values: ShapeValue[] = [];
  for (const o of ops) {
    const c = opClass(o);
    parts.push(c.cls);
    if (c.value) values.push(c.value);
  }
  if (!parsable) parts.push('<truncated>');
  const shape = parts.join(' ');
  return { kind: 'template', shape, shapeKey: shapeKeyOf(shape), values };
}

/** Lifted-miniscript shape, or null when the script is not miniscript in this context. */
export function miniscriptShape(script: Uint8Array, ctx: MsContext): ScriptShape | null {
  const node = liftMiniscript(script, ctx);
  if (!node) return null;
  const values: ShapeValue[] = [];
  const shape = formatMiniscript(node, {
    key(k) {
      values.push({ type: 'key', hex: hex.encode(k) });
      return 'K';
    },
    keyHash(h) {
      values.push({ type: 'keyhash', hex: hex.encode(h) });
      return 'KH';
    },
    hash(h) {
      values.push({ type: 'hash', hex: hex.encode(h) });
      return 'H';
    },
    num(n) {
      values.push({ type: 'num', value: n });
      return 'N';
    },
  });
  return { kind: 'miniscript', shape, shapeKey: shapeKeyOf(shape), values };
}

/** The shape of a revealed script: miniscript when it lifts in ctx, else its opcode template. */
export function scriptShape(script: Uint8Array, ctx: ShapeContext): ScriptShape {
  return miniscriptShape(script, msContextOf(ctx)) ?? templateShape(script);
}
