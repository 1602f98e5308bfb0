/**
 * Pattern language. A pattern is either
 *  - miniscript whose keys, hashes and numbers may be wildcards: `*` (anonymous), `@name`
 *    (named: every use binds the same value), `@name>=144` / `*<=10` (constraints: = != < <= > >=
 *    on numbers), or literals; thresholds of thresh/multi/multi_a may be wildcards too (they are
 *    part of the shape, so each allowed k becomes its own shape); or
 *  - an opcode template in ASM: opcode names, decimal numbers, hex pushes, and typed wildcards
 *    `<pubkey>`, `<pubkey65>`, `<hash20>`, `<hash32>` (alias `<xonly>`), `<num>`, `<sig>`, `<data>`,
 *    named as `<pubkey@A>` and constrained as `<num@delay>=144>`.
 * compilePattern gives the shapes to look up (shapeKeys) and a filter over a shape's values.
 */
import { hex } from '@scure/base';
import { compileMiniscript, hash160 } from '../miniscript/compile.ts';
import { PositionedError } from '../miniscript/errors.ts';
import type { MsContext } from '../miniscript/node.ts';
import { type LeafParser, type NumRole, parseHexKey, parseMiniscript } from '../miniscript/parse.ts';
import {
  miniscriptShape,
  pushClass,
  type ScriptShape,
  type ShapeValue,
  shapeKeyOf,
  templateOpcode,
  templateOpName,
} from './shape.ts';

export const MAX_PATTERN_LENGTH = 10_000;
/** Bound on shapes one pattern may expand to (threshold wildcards multiply). */
export const MAX_PATTERN_SHAPES = 256;

export type Bindings = Record<string, string | number>;

type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';
interface Slot {
  kind: 'key' | 'hash' | 'num' | 'tpl';
  name?: string;
  cmp?: { op: Cmp; value: number };
  /** Literal value (hex, or number) the position must equal. */
  literal?: string | number;
  pos: number;
}

export interface PatternShape {
  shape: string;
  shapeKey: Uint8Array;
  /** Slot index for each value position of the shape. */
  slots: number[];
}

export interface CompiledPattern {
  kind: 'miniscript' | 'template';
  text: string;
  shapes: PatternShape[];
  /** Index keys to look up (deduplicated). */
  shapeKeys: Uint8Array[];
  /** Bindings of named wildcards when the shape's values satisfy the pattern, else null. */
  match(s: Pick<ScriptShape, 'shape' | 'values'>): Bindings | null;
}

function fail(pos: number, detail: string): never {
  throw new PositionedError('pattern', pos, detail);
}

const WILD = /^(\*|@([A-Za-z_][A-Za-z0-9_]*))(?:(>=|<=|!=|=|<|>)(-?[0-9]{1,10}))?$/;

function parseWild(text: string, pos: number): { name?: string; cmp?: { op: Cmp; value: number } } | null {
  const m = WILD.exec(text);
  if (!m) {
    if (text.startsWith('*') || text.startsWith('@')) fail(pos, `bad wildcard '${text}'`);
    return null;
  }
  return { name: m[2], cmp: m[3] ? { op: m[3] as Cmp, value: Number(m[4]) } : undefined };
}

function cmpOk(v: number, c: { op: Cmp; value: number }): boolean {
  switch (c.op) {
    case '=':
      return v === c.value;
    case '!=':
      return v !== c.value;
    case '<':
      return v < c.value;
    case '<=':
      return v <= c.value;
    case '>':
      return v > c.value;
    case '>=':
      return v >= c.value;
  }
}

/** Distinct placeholder values so lifted values map back to pattern positions. */
function keyPlaceholder(i: number, tap: boolean): Uint8Array {
  const b = new Uint8Array(tap ? 32 : 33);
  b[0] = tap ? 0xfd : 0x03;
  b.fill(0xfd, 1, 28);
  b[28] = 0x5a;
  b[29] = 0xa5;
  b[30] = i >> 8;
  b[31] = i & 0xff;
  return b;
}
function hashPlaceholder(i: number, size: number): Uint8Array {
  const b = new Uint8Array(size).fill(0xfc);
  b[size - 2] = i >> 8;
  b[size - 1] = i & 0xff;
  return b;
}
const NUM_BASE = 0x2a0000;

function compileMiniscriptPattern(text: string): CompiledPattern {
  const slots: Slot[] = [];
  const slotAt = new Map<number, number>();
  const slotFor = (pos: number, make: () => Slot): number => {
    let i = slotAt.get(pos);
    if (i === undefined) {
      i = slots.length;
      slots.push(make());
      slotAt.set(pos, i);
    }
    return i;
  };
  // Threshold sites: each wildcard k is enumerated.
  const kSites: { pos: number; cmp?: { op: Cmp; value: number }; name?: string }[] = [];
  const kIndexAt = new Map<number, number>();
  let kAssign: number[] = [];

  const leaves = (ctx: MsContext): LeafParser => ({
    key(t, pos) {
      const w = parseWild(t, pos);
      const i = slotFor(pos, () =>
        w ? { kind: 'key', ...w, pos } : { kind: 'key', literal: hex.encode(parseHexKey(t, pos, ctx)), pos },
      );
      if (!w && slots[i].literal !== undefined) parseHexKey(t, pos, ctx);
      return keyPlaceholder(i, ctx === 'tapscript');
    },
    hash(t, pos, size) {
      const w = parseWild(t, pos);
      const i = slotFor(pos, () => {
        if (w) return { kind: 'hash', ...w, pos };
        if (!/^[0-9a-fA-F]+$/.test(t) || t.length !== size * 2)
          fail(pos, `hash must be ${size * 2} hex characters`);
        return { kind: 'hash', literal: t.toLowerCase(), pos };
      });
      return hashPlaceholder(i, size);
    },
    num(t, pos, role: NumRole) {
      const w = parseWild(t, pos);
      if (role === 'older' || role === 'after') {
        const i = slotFor(pos, () => {
          if (w) return { kind: 'num', ...w, pos };
          if (!/^[0-9]{1,10}$/.test(t)) fail(pos, `'${t}' is not a number`);
          return { kind: 'num', literal: Number(t), pos };
        });
        return NUM_BASE + i;
      }
      if (!w) {
        if (!/^[0-9]{1,4}$/.test(t)) fail(pos, `threshold '${t}' is not a number`);
        return Number(t);
      }
      let k = kIndexAt.get(pos);
      if (k === undefined) {
        k = kSites.length;
        kSites.push({ pos, ...w });
        kIndexAt.set(pos, k);
      }
      return kAssign[k] ?? 1;
    },
  });

  // First pass (k wildcards = 1) discovers slots and threshold sites, and reports syntax errors.
  const ctxs: MsContext[] = ['p2wsh', 'tapscript'];
  const firstErrors: PositionedError[] = [];
  for (const ctx of ctxs) {
    try {
      parseMiniscript(text, ctx, { leaves: leaves(ctx) });
    } catch (e) {
      if (!(e instanceof PositionedError)) throw e;
      firstErrors.push(e);
    }
  }
  // With threshold wildcards a k=1 failure is not final; otherwise both contexts failing is.
  if (firstErrors.length === ctxs.length && kSites.length === 0) throw firstErrors[0];

  const assignments: number[][] = [[]];
  for (const site of kSites) {
    const next: number[][] = [];
    for (const a of assignments)
      for (let k = 1; k <= 20; k++) if (!site.cmp || cmpOk(k, site.cmp)) next.push([...a, k]);
    if (next.length > MAX_PATTERN_SHAPES * 4)
      fail(site.pos, `pattern expands to more than ${MAX_PATTERN_SHAPES} shapes`);
    assignments.splice(0, assignments.length, ...next);
  }
  const shapes: PatternShape[] = [];
  const seen = new Set<string>();
  let lastError: PositionedError | undefined = firstErrors[0];
  for (const a of assignments) {
    kAssign = a;
    for (const ctx of ctxs) {
      let script: Uint8Array;
      try {
        script = compileMiniscript(parseMiniscript(text, ctx, { leaves: leaves(ctx) }));
      } catch (e) {
        if (e instanceof PositionedError) lastError = e;
        continue;
      }
      const sh = miniscriptShape(script, ctx);
      if (!sh) continue;
      if (seen.has(sh.shape)) continue;
      seen.add(sh.shape);
      const tap = ctx === 'tapscript';
      shapes.push({
        shape: sh.shape,
        shapeKey: sh.shapeKey,
        slots: sh.values.map((v) => slotOfValue(v, slots, tap)),
      });
      if (shapes.length > MAX_PATTERN_SHAPES)
        fail(0, `pattern expands to more than ${MAX_PATTERN_SHAPES} shapes`);
    }
  }
  if (shapes.length === 0)
    throw lastError ?? new PositionedError('pattern', 0, 'pattern matches no valid miniscript');
  // Named thresholds bind to the k of the shape: check by re-reading k from the shape text is
  // unnecessary since k is structural; they are reported through the shape only.
  return finish('miniscript', text, shapes, slots);
}

function slotOfValue(v: ShapeValue, slots: Slot[], tap: boolean): number {
  const find = (pred: (i: number) => boolean) => {
    for (let i = 0; i < slots.length; i++) if (pred(i)) return i;
    return -1;
  };
  switch (v.type) {
    case 'key':
      return find((i) => slots[i].kind === 'key' && hex.encode(keyPlaceholder(i, tap)) === v.hex);
    case 'keyhash':
      return find((i) => slots[i].kind === 'key' && hex.encode(hash160(keyPlaceholder(i, tap))) === v.hex);
    case 'hash':
      return find(
        (i) =>
          slots[i].kind === 'hash' &&
          (hex.encode(hashPlaceholder(i, 32)) === v.hex || hex.encode(hashPlaceholder(i, 20)) === v.hex),
      );
    case 'num':
      return find((i) => slots[i].kind === 'num' && NUM_BASE + i === v.value);
    default:
      return -1;
  }
}

function plainValue(v: ShapeValue): string | number {
  return v.type === 'num' ? v.value : v.hex;
}

function finish(
  kind: CompiledPattern['kind'],
  text: string,
  shapes: PatternShape[],
  slots: Slot[],
): CompiledPattern {
  const byShape = new Map<string, PatternShape>();
  for (const s of shapes) byShape.set(s.shape, s);
  const keys = new Map<string, Uint8Array>();
  for (const s of shapes) keys.set(hex.encode(s.shapeKey), s.shapeKey);
  return {
    kind,
    text,
    shapes,
    shapeKeys: [...keys.values()],
    match(s) {
      const ps = byShape.get(s.shape);
      if (!ps || ps.slots.length !== s.values.length) return null;
      const bound: Bindings = {};
      const boundType: Record<string, ShapeValue> = {};
      for (let i = 0; i < s.values.length; i++) {
        const v = s.values[i];
        const slot = slots[ps.slots[i]];
        if (!slot) return null;
        const val = plainValue(v);
        if (slot.literal !== undefined) {
          if (v.type === 'keyhash' && typeof slot.literal === 'string') {
            if (hex.encode(hash160(hex.decode(slot.literal))) !== val) return null;
          } else if (val !== slot.literal) return null;
        }
        if (slot.cmp && (typeof val !== 'number' || !cmpOk(val, slot.cmp))) return null;
        if (slot.name) {
          const prev = boundType[slot.name];
          if (prev) {
            if (!sameValue(prev, v)) return null;
            if (prev.type === 'keyhash' && v.type === 'key') {
              bound[slot.name] = v.hex;
              boundType[slot.name] = v;
            }
          } else {
            bound[slot.name] = val;
            boundType[slot.name] = v;
          }
        }
      }
      return bound;
    },
  };
}

/** Equality for a named wildcard; a key and a key hash agree when HASH160(key) = hash. */
function sameValue(a: ShapeValue, b: ShapeValue): boolean {
  if (a.type === 'num' || b.type === 'num')
    return a.type === b.type && (a as { value: number }).value === (b as { value: number }).value;
  if (a.type === 'keyhash' && b.type === 'key') return hex.encode(hash160(hex.decode(b.hex))) === a.hex;
  if (a.type === 'key' && b.type === 'keyhash') return hex.encode(hash160(hex.decode(a.hex))) === b.hex;
  return a.hex === b.hex;
}

const TYPE_CLASS: Record<string, string> = {
  pubkey: '<pubkey>',
  pubkey65: '<pubkey65>',
  hash20: '<hash20>',
  hash32: '<hash32>',
  xonly: '<hash32>',
  num: '<num>',
  sig: '<sig>',
  data: '<data>',
};

function compileTemplate(text: string): CompiledPattern {
  const parts: string[] = [];
  const slots: Slot[] = [];
  const slotIdx: number[] = [];
  for (const m of text.matchAll(/\S+/g)) {
    const tok = m[0];
    const pos = m.index;
    if (tok.startsWith('<')) {
      if (!tok.endsWith('>') || tok.length < 3) fail(pos, `bad wildcard '${tok}'`);
      const w = /^<([a-z0-9]+)(?:@([A-Za-z_][A-Za-z0-9_]*))?(?:(>=|<=|!=|=|<|>)(-?[0-9]{1,10}))?>$/.exec(tok);
      if (!w) fail(pos, `bad wildcard '${tok}': expected <type>, <type@name> or <num@name>=N>`);
      const cls = TYPE_CLASS[w[1]];
      if (!cls)
        fail(
          pos + 1,
          `unknown wildcard type '${w[1]}' (pubkey, pubkey65, hash20, hash32, xonly, num, sig, data)`,
        );
      if (w[3] && w[1] !== 'num') fail(pos, 'constraints apply to <num> wildcards only');
      parts.push(cls);
      slotIdx.push(slots.length);
      slots.push({
        kind: 'tpl',
        name: w[2],
        cmp: w[3] ? { op: w[3] as Cmp, value: Number(w[4]) } : undefined,
        pos,
      });
    } else if (/^-?[0-9]{1,10}$/.test(tok)) {
      const n = Number(tok);
      if (n === 0) parts.push('OP_0');
      else {
        if (Math.abs(n) > 0x7fffffffff) fail(pos, 'number out of range');
        parts.push('<num>');
        slotIdx.push(slots.length);
        slots.push({ kind: 'tpl', literal: n, pos });
      }
    } else if (/^(0x)?([0-9a-fA-F]{2})+$/.test(tok) && !/^OP_/i.test(tok)) {
      const bytes = hex.decode(tok.replace(/^0x/, '').toLowerCase());
      const c = pushClass(bytes);
      parts.push(c.cls);
      slotIdx.push(slots.length);
      slots.push({ kind: 'tpl', literal: c.value.type === 'num' ? c.value.value : hex.encode(bytes), pos });
    } else {
      const code = templateOpcode(tok);
      if (code === undefined || !/^OP_/i.test(tok)) fail(pos, `unknown opcode '${tok}'`);
      if (code === 0) parts.push('OP_0');
      else if ((code >= 0x51 && code <= 0x60) || code === 0x4f) {
        parts.push('<num>');
        slotIdx.push(slots.length);
        slots.push({ kind: 'tpl', literal: code === 0x4f ? -1 : code - 0x50, pos });
      } else if (code <= 0x4e) fail(pos, `push opcodes are written as data, not '${tok}'`);
      else parts.push(templateOpName(code));
    }
  }
  if (parts.length === 0) fail(0, 'empty pattern');
  const shape = parts.join(' ');
  return finish('template', text, [{ shape, shapeKey: shapeKeyOf(shape), slots: slotIdx }], slots);
}

/** True when the text is an opcode template rather than miniscript. */
export function isTemplatePattern(text: string): boolean {
  return (
    /(^|\s)(OP_[A-Z0-9_]+|<[a-z0-9]+[@>=!<0-9A-Za-z_]*>)(\s|$)/.test(text.trim()) || /\s/.test(text.trim())
  );
}

/** Compiles a pattern; errors are PositionedError with the character position of the fault. */
export function compilePattern(text: string): CompiledPattern {
  if (text.length > MAX_PATTERN_LENGTH)
    fail(MAX_PATTERN_LENGTH, `pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  if (text.trim().length === 0) fail(0, 'empty pattern');
  return isTemplatePattern(text) ? compileTemplate(text) : compileMiniscriptPattern(text.trim());
}
