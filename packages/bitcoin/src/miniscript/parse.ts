/**
 * Miniscript text -> AST. Leaf values (keys, hashes, numbers) go through a LeafParser so that
 * descriptors (key expressions) and patterns (wildcards) reuse the same grammar.
 */
import { hex } from '@scure/base';
import { PositionedError } from './errors.ts';
import type { Fragment, MsContext, MsNode } from './node.ts';
import { computeType, has, T, typeString } from './types.ts';

/** Nesting bound: far beyond any valid miniscript within standard script sizes. */
export const MAX_DEPTH = 400;
/** Text length bound for one expression. */
export const MAX_TEXT = 100_000;

export type NumRole = 'older' | 'after' | 'thresh' | 'multi' | 'multi_a';

export interface LeafParser {
  key(text: string, pos: number, ctx: MsContext): Uint8Array;
  hash(text: string, pos: number, size: 20 | 32, frag: Fragment): Uint8Array;
  num(text: string, pos: number, role: NumRole): number;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

export function parseHexKey(text: string, pos: number, ctx: MsContext): Uint8Array {
  if (!HEX_RE.test(text) || text.length % 2)
    throw new PositionedError('miniscript', pos, `key '${text}' is not hex`);
  const b = hex.decode(text.toLowerCase());
  if (ctx === 'tapscript') {
    if (b.length !== 32)
      throw new PositionedError(
        'miniscript',
        pos,
        `tapscript key must be 32-byte x-only, got ${b.length} bytes`,
      );
  } else if (b.length === 33) {
    if (b[0] !== 2 && b[0] !== 3)
      throw new PositionedError('miniscript', pos, 'compressed key must start 02 or 03');
  } else if (b.length === 65 && ctx === 'p2sh') {
    if (b[0] !== 4) throw new PositionedError('miniscript', pos, 'uncompressed key must start 04');
  } else {
    throw new PositionedError('miniscript', pos, `key has bad length ${b.length}`);
  }
  return b;
}

export function parseDecimal(text: string, pos: number, what: string): number {
  if (!/^[0-9]{1,10}$/.test(text))
    throw new PositionedError('miniscript', pos, `${what} '${text}' is not a number`);
  return Number(text);
}

export const hexLeaves: LeafParser = {
  key: parseHexKey,
  hash(text, pos, size) {
    if (!HEX_RE.test(text) || text.length !== size * 2)
      throw new PositionedError('miniscript', pos, `hash must be ${size * 2} hex characters`);
    return hex.decode(text.toLowerCase());
  },
  num(text, pos, role) {
    return parseDecimal(text, pos, role);
  },
};

/** Builds a node, computing its type. Throws at pos when the combination has no type. */
export function makeNode(
  frag: Fragment,
  subs: MsNode[],
  ctx: MsContext,
  opts: { k?: number; keys?: Uint8Array[]; data?: Uint8Array; pos?: number } = {},
): MsNode {
  const k = opts.k ?? 0;
  const keys = opts.keys ?? [];
  const type = computeType(
    frag,
    k,
    keys.length,
    subs.map((s) => s.type),
    ctx,
  );
  return { frag, subs, k, keys, data: opts.data, type, pos: opts.pos };
}

class Parser {
  i = 0;
  constructor(
    readonly s: string,
    readonly ctx: MsContext,
    readonly leaves: LeafParser,
    readonly base: number,
  ) {}

  fail(pos: number, detail: string): never {
    throw new PositionedError('miniscript', this.base + pos, detail);
  }

  expect(c: string): void {
    if (this.s[this.i] !== c)
      this.fail(this.i, `expected '${c}', got ${this.s[this.i] ? `'${this.s[this.i]}'` : 'end of input'}`);
    this.i++;
  }

  /** A leaf argument: everything up to the next ',' or ')' at this level. */
  arg(): { text: string; pos: number } {
    const start = this.i;
    let depth = 0;
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === '(') depth++;
      else if (c === ')') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) break;
      this.i++;
    }
    if (this.i === start) this.fail(start, 'empty argument');
    return { text: this.s.slice(start, this.i), pos: this.base + start };
  }

  check(node: MsNode): MsNode {
    if (node.type === 0) {
      const subs = node.subs.map((s) => typeString(s.type)).join(',');
      this.fail((node.pos ?? this.base) - this.base, `${node.frag}(${subs}) has no valid miniscript type`);
    }
    return node;
  }

  expr(depth: number): MsNode {
    if (depth > MAX_DEPTH) this.fail(this.i, `nesting deeper than ${MAX_DEPTH}`);
    const start = this.i;
    let m = /^[a-z0-9_]+/.exec(this.s.slice(this.i, this.i + 64));
    if (!m)
      this.fail(
        this.i,
        `expected a miniscript fragment, got ${this.s[this.i] ? `'${this.s[this.i]}'` : 'end of input'}`,
      );
    let name = m[0];
    this.i += name.length;
    let wrappers = '';
    if (this.s[this.i] === ':') {
      wrappers = name;
      for (let w = 0; w < wrappers.length; w++)
        if (!'asctdvjnlu'.includes(wrappers[w])) this.fail(start + w, `unknown wrapper '${wrappers[w]}'`);
      this.i++;
      m = /^[a-z0-9_]+/.exec(this.s.slice(this.i, this.i + 64));
      if (!m) this.fail(this.i, 'expected a fragment after wrappers');
      name = m[0];
      this.i += name.length;
    }
    const fragPos = this.base + this.i - name.length;
    let node = this.fragment(name, fragPos, depth);
    // Wrappers apply innermost-last: "vc:X" is v:(c:X).
    for (let w = wrappers.length - 1; w >= 0; w--) {
      const wp = this.base + start + w;
      const c = wrappers[w];
      if (c === 't') node = makeNode('and_v', [node, this.leafConst('just_1', wp)], this.ctx, { pos: wp });
      else if (c === 'l')
        node = makeNode('or_i', [this.leafConst('just_0', wp), node], this.ctx, { pos: wp });
      else if (c === 'u')
        node = makeNode('or_i', [node, this.leafConst('just_0', wp)], this.ctx, { pos: wp });
      else node = makeNode(c as Fragment, [node], this.ctx, { pos: wp });
      this.check(node);
    }
    return node;
  }

  leafConst(f: 'just_0' | 'just_1', pos: number): MsNode {
    return makeNode(f, [], this.ctx, { pos });
  }

  subExprs(depth: number, count: number | 'many'): MsNode[] {
    const out: MsNode[] = [];
    for (;;) {
      out.push(this.expr(depth + 1));
      if (this.s[this.i] === ',') {
        this.i++;
        continue;
      }
      break;
    }
    if (count !== 'many' && out.length !== count)
      this.fail(this.i, `expected ${count} arguments, got ${out.length}`);
    return out;
  }

  fragment(name: string, pos: number, depth: number): MsNode {
    const ctx = this.ctx;
    const L = this.leaves;
    if (name === '0' || name === '1') return this.leafConst(name === '0' ? 'just_0' : 'just_1', pos);
    if (this.s[this.i] !== '(') this.fail(this.i, `expected '(' after '${name}'`);
    this.i++;
    let node: MsNode;
    switch (name) {
      case 'pk_k':
      case 'pk_h':
      case 'pk':
      case 'pkh': {
        const a = this.arg();
        const key = L.key(a.text, a.pos, ctx);
        const inner = makeNode(name === 'pk' || name === 'pk_k' ? 'pk_k' : 'pk_h', [], ctx, {
          keys: [key],
          pos,
        });
        node = name === 'pk' || name === 'pkh' ? makeNode('c', [inner], ctx, { pos }) : inner;
        break;
      }
      case 'older':
      case 'after': {
        const a = this.arg();
        const n = L.num(a.text, a.pos, name);
        if (n < 1 || n > 0x7fffffff)
          throw new PositionedError('miniscript', a.pos, `${name}() value must be in 1..2^31-1`);
        node = makeNode(name, [], ctx, { k: n, pos });
        break;
      }
      case 'sha256':
      case 'hash256':
      case 'ripemd160':
      case 'hash160': {
        const a = this.arg();
        const size = name === 'sha256' || name === 'hash256' ? 32 : 20;
        node = makeNode(name, [], ctx, { data: L.hash(a.text, a.pos, size, name), pos });
        break;
      }
      case 'multi':
      case 'multi_a':
      case 'sortedmulti':
      case 'sortedmulti_a': {
        const base = name.startsWith('multi_a') || name === 'sortedmulti_a' ? 'multi_a' : 'multi';
        const ka = this.arg();
        const k = L.num(ka.text, ka.pos, base);
        const keys: Uint8Array[] = [];
        while (this.s[this.i] === ',') {
          this.i++;
          const a = this.arg();
          keys.push(L.key(a.text, a.pos, ctx));
        }
        if (name.startsWith('sorted')) keys.sort(compareBytes);
        if (base === 'multi' && ctx === 'tapscript')
          this.fail(pos - this.base, 'multi() is not allowed in tapscript (use multi_a)');
        if (base === 'multi_a' && ctx !== 'tapscript')
          this.fail(pos - this.base, 'multi_a() is only allowed in tapscript');
        if (keys.length === 0) this.fail(this.i, `${name}() needs at least one key`);
        if (k < 1 || k > keys.length)
          throw new PositionedError('miniscript', ka.pos, `threshold ${k} out of range 1..${keys.length}`);
        if (base === 'multi' && keys.length > 20) this.fail(pos - this.base, 'multi() takes at most 20 keys');
        if (base === 'multi_a' && keys.length > 999)
          this.fail(pos - this.base, 'multi_a() takes at most 999 keys');
        node = makeNode(base, [], ctx, { k, keys, pos });
        break;
      }
      case 'and_v':
      case 'and_b':
      case 'or_b':
      case 'or_c':
      case 'or_d':
      case 'or_i': {
        const [x, y] = this.subExprs(depth, 2);
        node = makeNode(name, [x, y], ctx, { pos });
        break;
      }
      case 'and_n': {
        const [x, y] = this.subExprs(depth, 2);
        node = makeNode('andor', [x, y, this.leafConst('just_0', pos)], ctx, { pos });
        break;
      }
      case 'andor': {
        const subs = this.subExprs(depth, 3);
        node = makeNode('andor', subs, ctx, { pos });
        break;
      }
      case 'thresh': {
        const ka = this.arg();
        const k = L.num(ka.text, ka.pos, 'thresh');
        if (this.s[this.i] !== ',') this.fail(this.i, 'thresh() needs sub-expressions');
        this.i++;
        const subs = this.subExprs(depth, 'many');
        if (k < 1 || k > subs.length)
          throw new PositionedError('miniscript', ka.pos, `threshold ${k} out of range 1..${subs.length}`);
        node = makeNode('thresh', subs, ctx, { k, pos });
        break;
      }
      default:
        this.fail(pos - this.base, `unknown miniscript fragment '${name}'`);
    }
    this.expect(')');
    return this.check(node);
  }
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export interface ParseOptions {
  leaves?: LeafParser;
  /** Offset of text within a larger input (descriptor), so positions point into it. */
  base?: number;
  /** Accept a non-B top level (Core's IsValid rather than IsValidTopLevel). */
  allowNonTop?: boolean;
}

/** Parses and type-checks a miniscript expression in the given context. */
export function parseMiniscript(text: string, ctx: MsContext, opts: ParseOptions = {}): MsNode {
  const base = opts.base ?? 0;
  if (text.length > MAX_TEXT)
    throw new PositionedError('miniscript', base, `expression longer than ${MAX_TEXT} characters`);
  const p = new Parser(text, ctx, opts.leaves ?? hexLeaves, base);
  const node = p.expr(0);
  if (p.i !== text.length) p.fail(p.i, `unexpected '${text[p.i]}' after expression`);
  if (!opts.allowNonTop && !has(node.type, T('B')))
    throw new PositionedError('miniscript', base, `top level must be of type B, is ${typeString(node.type)}`);
  return node;
}
