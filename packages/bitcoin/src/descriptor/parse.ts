/**
 * BIP 380-386 output descriptors: parse (with the BIP-380 checksum), print in Core's public
 * form, and derive scriptPubKeys. Miniscript inside sh/wsh/tr goes through miniscript/, with
 * key expressions parked as placeholders and substituted per derivation.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { Address, NETWORK, OutScript, TEST_NETWORK } from '@scure/btc-signer';
import { compileMiniscript, hash160 } from '../miniscript/compile.ts';
import { PositionedError } from '../miniscript/errors.ts';
import { formatMiniscript } from '../miniscript/format.ts';
import type { MsContext, MsNode } from '../miniscript/node.ts';
import { compareBytes, hexLeaves, type LeafParser, parseMiniscript } from '../miniscript/parse.ts';
import { ScriptBuilder } from '../miniscript/script.ts';
import { has, T } from '../miniscript/types.ts';
import { OP } from '../script/opcodes.ts';
import { descriptorChecksum, invalidCharPosition } from './checksum.ts';
import { type KeyContext, KeyExpr } from './keys.ts';
import { tapBranchHash, tapLeafHash, tweakXOnly } from './taproot.ts';

export type DescNode =
  | { t: 'wpkh'; key: KeyExpr }
  | { t: 'combo'; key: KeyExpr }
  | { t: 'sh'; inner: DescNode }
  | { t: 'wsh'; inner: DescNode }
  | { t: 'ms'; ms: MsNode; keys: KeyExpr[]; ctx: MsContext }
  | { t: 'sorted'; k: number; keys: KeyExpr[]; tap: boolean }
  | { t: 'tr'; internal: KeyExpr; tree?: TapTree }
  | { t: 'rawtr'; key: KeyExpr }
  | { t: 'addr'; text: string; script: Uint8Array }
  | { t: 'raw'; script: Uint8Array };

export type TapTree = { leaf: DescNode } | { left: TapTree; right: TapTree };

/** Bound on descriptor text: the longest standard ones are a few kilobytes. */
export const MAX_DESCRIPTOR_LENGTH = 100_000;
const MAX_TREE_DEPTH = 128;

function fail(pos: number, detail: string): never {
  throw new PositionedError('descriptor', pos, detail);
}

function matchClose(s: string, open: number, opener = '(', closer = ')'): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === opener) depth++;
    else if (c === closer) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits a,b,c at top level (outside (), {}, [], <>). */
function splitTop(s: string, base: number): { text: string; pos: number }[] {
  const out: { text: string; pos: number }[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(' || c === '{' || c === '[' || c === '<') depth++;
    else if (c === ')' || c === '}' || c === ']' || c === '>') depth--;
    else if (c === ',' && depth === 0) {
      out.push({ text: s.slice(start, i), pos: base + start });
      start = i + 1;
    }
  }
  out.push({ text: s.slice(start), pos: base + start });
  return out;
}

type Where = 'top' | 'sh' | 'wsh' | 'tap';

function placeholder(i: number, tap: boolean): Uint8Array {
  const b = new Uint8Array(tap ? 32 : 33);
  b[0] = tap ? 0xfe : 0x02;
  b[1] = 0xfe;
  b[2] = i >> 8;
  b[3] = i & 0xff;
  return b;
}

function placeholderIndex(b: Uint8Array): number {
  return (b[2] << 8) | b[3];
}

class DescParser {
  keys: KeyExpr[] = [];
  constructor(readonly s: string) {}

  key(text: string, pos: number, ctx: KeyContext): KeyExpr {
    if (text.length === 0) fail(pos, 'missing key');
    if (text.startsWith('musig(')) fail(pos, 'musig() key expressions are not supported');
    const k = new KeyExpr(text, pos, ctx);
    this.keys.push(k);
    return k;
  }

  /** Parses s[pos..end) as one script expression in the given place. */
  expr(pos: number, end: number, where: Where, depth: number): DescNode {
    const s = this.s;
    const open = s.indexOf('(', pos);
    if (open < 0 || open >= end)
      fail(pos, `expected a descriptor function, got '${s.slice(pos, Math.min(end, pos + 20))}'`);
    const name = s.slice(pos, open);
    const close = matchClose(s, open);
    if (close < 0 || close >= end) fail(open, "missing ')'");
    if (close !== end - 1) fail(close + 1, `unexpected '${s[close + 1]}' after ${name}()`);
    const argPos = open + 1;
    const body = s.slice(argPos, close);
    const args = () => splitTop(body, argPos);
    switch (name) {
      case 'sh': {
        if (where !== 'top') fail(pos, 'sh() is only allowed at the top level');
        const inner = this.expr(argPos, close, 'sh', depth + 1);
        const script = innerScriptSize(inner);
        if (script > 520) fail(pos, `P2SH script is too large, ${script} bytes is larger than 520 bytes`);
        return { t: 'sh', inner };
      }
      case 'wsh': {
        if (where !== 'top' && where !== 'sh')
          fail(pos, 'wsh() is only allowed at the top level or inside sh()');
        const inner = this.expr(argPos, close, 'wsh', depth + 1);
        const size = innerScriptSize(inner);
        if (size > 3600) fail(pos, `P2WSH script is too large, ${size} bytes is larger than 3600 bytes`);
        return { t: 'wsh', inner };
      }
      case 'wpkh': {
        if (where !== 'top' && where !== 'sh')
          fail(pos, 'wpkh() is only allowed at the top level or inside sh()');
        return { t: 'wpkh', key: this.key(body, argPos, 'segwit') };
      }
      case 'combo':
        if (where !== 'top') fail(pos, 'combo() is only allowed at the top level');
        return { t: 'combo', key: this.key(body, argPos, 'top') };
      case 'tr':
        if (where !== 'top') fail(pos, 'tr() is only allowed at the top level');
        return this.tr(body, argPos);
      case 'rawtr':
        if (where !== 'top') fail(pos, 'rawtr() is only allowed at the top level');
        return { t: 'rawtr', key: this.key(body, argPos, 'tap') };
      case 'addr': {
        if (where !== 'top') fail(pos, 'addr() is only allowed at the top level');
        return { t: 'addr', text: body, script: decodeAddress(body, argPos) };
      }
      case 'raw': {
        if (where !== 'top') fail(pos, 'raw() is only allowed at the top level');
        if (!/^([0-9a-fA-F]{2})*$/.test(body)) fail(argPos, 'raw() needs hex');
        return { t: 'raw', script: hex.decode(body.toLowerCase()) };
      }
      case 'sortedmulti':
      case 'sortedmulti_a': {
        const tap = name === 'sortedmulti_a';
        if (tap && where !== 'tap') fail(pos, 'sortedmulti_a() is only allowed in tr() leaves');
        if (!tap && where === 'tap')
          fail(pos, 'sortedmulti() is not allowed in tapscript (use sortedmulti_a)');
        const a = args();
        if (!/^[0-9]{1,4}$/.test(a[0].text)) fail(a[0].pos, `threshold '${a[0].text}' is not a number`);
        const k = Number(a[0].text);
        const ctx: KeyContext =
          where === 'tap' ? 'tap' : where === 'wsh' ? 'segwit' : where === 'sh' ? 'p2sh' : 'top';
        const keys = a.slice(1).map((x) => this.key(x.text, x.pos, ctx));
        if (keys.length === 0) fail(argPos, `${name}() needs keys`);
        if (k < 1 || k > keys.length) fail(a[0].pos, `threshold ${k} out of range 1..${keys.length}`);
        if (!tap && keys.length > (where === 'top' ? 3 : 20))
          fail(pos, `${name}() takes at most ${where === 'top' ? 3 : 20} keys here`);
        if (tap && keys.length > 999) fail(pos, 'sortedmulti_a() takes at most 999 keys');
        return { t: 'sorted', k, keys, tap };
      }
      default:
        return this.miniscript(pos, end, name, where);
    }
  }

  miniscript(pos: number, end: number, name: string, where: Where): DescNode {
    const ctx: MsContext = where === 'tap' ? 'tapscript' : where === 'wsh' ? 'p2wsh' : 'p2sh';
    const bare = name.replace(/^[a-z]+:/, '');
    if (where === 'top' && !['pk', 'pkh', 'multi'].includes(name))
      fail(pos, `'${name}' is not a valid descriptor function`);
    // Core (and BIP 379) allow miniscript only inside wsh() and tr(); sh() takes the BIP-381 forms.
    if (where === 'sh' && !['pk', 'pkh', 'multi'].includes(name))
      fail(pos, 'miniscript expressions can only be used in wsh() or tr()');
    const keyCtx: KeyContext =
      where === 'tap' ? 'tap' : where === 'wsh' ? 'segwit' : where === 'sh' ? 'p2sh' : 'top';
    const keys: KeyExpr[] = [];
    const leaves: LeafParser = {
      ...hexLeaves,
      key: (text, p) => {
        const k = this.key(text, p, keyCtx);
        keys.push(k);
        return placeholder(keys.length - 1, ctx === 'tapscript');
      },
    };
    void bare;
    const ms = parseMiniscript(this.s.slice(pos, end), ctx, { leaves, base: pos });
    if (where === 'top' && name === 'multi' && keys.length > 3)
      fail(pos, 'bare multi() takes at most 3 keys');
    if (where !== 'top') {
      // Descriptors only accept sane miniscript (Core's IsSane).
      if (!has(ms.type, T('m'))) fail(pos, 'miniscript is not sane: malleable witnesses exist');
      if (!has(ms.type, T('s'))) fail(pos, 'miniscript is not sane: witnesses without signature exist');
      if (!has(ms.type, T('k')))
        fail(pos, 'miniscript is not sane: contains mixes of timelocks expressed in blocks and seconds');
      const seen = new Set<string>();
      for (const k of keys) {
        const id = k.toString();
        if (seen.has(id)) fail(k.pos, 'miniscript is not sane: contains duplicate public keys');
        seen.add(id);
      }
    }
    return { t: 'ms', ms, keys, ctx };
  }

  tr(body: string, argPos: number): DescNode {
    const a = splitTop(body, argPos);
    if (a.length > 2) fail(a[2].pos - 1, 'tr() takes an internal key and at most one tree');
    const internal = this.key(a[0].text, a[0].pos, 'tap');
    if (a.length === 1) return { t: 'tr', internal };
    return { t: 'tr', internal, tree: this.tree(a[1].pos, a[1].pos + a[1].text.length, 0) };
  }

  tree(pos: number, end: number, depth: number): TapTree {
    if (depth > MAX_TREE_DEPTH) fail(pos, `taproot tree deeper than ${MAX_TREE_DEPTH}`);
    const s = this.s;
    if (pos >= end) fail(pos, 'empty taproot tree branch');
    if (s[pos] === '{') {
      const close = matchClose(s, pos, '{', '}');
      if (close !== end - 1) fail(close < 0 ? pos : close + 1, "bad '{...}' taproot branch");
      const parts = splitTop(s.slice(pos + 1, close), pos + 1);
      if (parts.length !== 2) fail(pos, `a taproot branch has 2 children, got ${parts.length}`);
      return {
        left: this.tree(parts[0].pos, parts[0].pos + parts[0].text.length, depth + 1),
        right: this.tree(parts[1].pos, parts[1].pos + parts[1].text.length, depth + 1),
      };
    }
    return { leaf: this.expr(pos, end, 'tap', depth + 1) };
  }
}

function innerScriptSize(n: DescNode): number {
  if (n.t === 'ms') return compileMiniscript(n.ms).length;
  if (n.t === 'sorted') return n.tap ? 34 * n.keys.length + 3 : 34 * n.keys.length + 3;
  if (n.t === 'wsh') return 34;
  if (n.t === 'wpkh') return 22;
  return 0;
}

function decodeAddress(text: string, pos: number): Uint8Array {
  for (const net of [NETWORK, TEST_NETWORK, { ...TEST_NETWORK, bech32: 'bcrt' }]) {
    try {
      return OutScript.encode(Address(net).decode(text));
    } catch {
      /* try next network */
    }
  }
  fail(pos, `'${text}' is not a valid address`);
}

/** x-only form of a derived key (drops the parity byte of a 33-byte key). */
function xonly(k: Uint8Array): Uint8Array {
  return k.length === 33 ? k.subarray(1) : k;
}

function p2sh(script: Uint8Array): Uint8Array {
  return new ScriptBuilder().op(OP.OP_HASH160).push(hash160(script)).op(OP.OP_EQUAL).bytes();
}
function p2wsh(script: Uint8Array): Uint8Array {
  return new ScriptBuilder().op(OP.OP_0).push(sha256(script)).bytes();
}
function p2wpkh(key: Uint8Array): Uint8Array {
  return new ScriptBuilder().op(OP.OP_0).push(hash160(key)).bytes();
}
function p2pkh(key: Uint8Array): Uint8Array {
  return new ScriptBuilder()
    .op(OP.OP_DUP)
    .op(OP.OP_HASH160)
    .push(hash160(key))
    .op(OP.OP_EQUALVERIFY)
    .op(OP.OP_CHECKSIG)
    .bytes();
}

function substKeys(n: MsNode, derived: Uint8Array[]): MsNode {
  const keys = n.keys.map((k) => derived[placeholderIndex(k)]);
  return { ...n, keys, subs: n.subs.map((s) => substKeys(s, derived)) };
}

/** A parsed output descriptor. */
export class Descriptor {
  /** Some key is private (WIF, xprv). The node refuses these: see assertWatchOnly(). */
  readonly containsPrivateKey: boolean;
  /** Some key has /* (derive per index). */
  readonly isRange: boolean;
  /** Number of descriptors a <a;b;...> step expands to (1 without multipath). */
  readonly multipathCount: number;
  /** Hardened steps after an xpub: derivation needs a private key. */
  readonly needsPrivateDerivation: boolean;

  constructor(
    readonly root: DescNode,
    readonly keys: KeyExpr[],
  ) {
    this.containsPrivateKey = keys.some((k) => k.isPrivate);
    this.isRange = keys.some((k) => k.isRange);
    this.needsPrivateDerivation = keys.some((k) => k.needsPrivate);
    let m = 1;
    for (const k of keys) {
      const c = k.multipathCount;
      if (c > 1) {
        if (m > 1 && c !== m) fail(k.pos, 'multipath derivation paths have mismatched lengths');
        m = c;
      }
    }
    this.multipathCount = m;
  }

  /** Public form (Core's ToString), without checksum; branch picks one multipath expansion. */
  toStringNoChecksum(branch?: number): string {
    return fmt(this.root, branch);
  }

  /** Public form with '#checksum'. */
  toString(branch?: number): string {
    const s = this.toStringNoChecksum(branch);
    return `${s}#${descriptorChecksum(s)}`;
  }

  /** scriptPubKeys at derivation index (ignored when not ranged); combo() gives several. */
  scriptPubKeys(index = 0, branch = 0): Uint8Array[] {
    if (branch < 0 || branch >= this.multipathCount)
      throw new RangeError(`multipath branch ${branch} out of range`);
    return spks(this.root, index, branch);
  }

  /** The one scriptPubKey (throws for combo()). */
  scriptPubKey(index = 0, branch = 0): Uint8Array {
    const s = this.scriptPubKeys(index, branch);
    if (s.length !== 1) throw new Error('descriptor yields several scripts (combo)');
    return s[0];
  }
}

function fmtTree(t: TapTree, b?: number): string {
  return 'leaf' in t ? fmt(t.leaf, b) : `{${fmtTree(t.left, b)},${fmtTree(t.right, b)}}`;
}

function fmt(n: DescNode, b?: number): string {
  switch (n.t) {
    case 'wpkh':
      return `wpkh(${n.key.toString(b)})`;
    case 'combo':
      return `combo(${n.key.toString(b)})`;
    case 'sh':
      return `sh(${fmt(n.inner, b)})`;
    case 'wsh':
      return `wsh(${fmt(n.inner, b)})`;
    case 'rawtr':
      return `rawtr(${n.key.toString(b)})`;
    case 'addr':
      return `addr(${n.text})`;
    case 'raw':
      return `raw(${hex.encode(n.script)})`;
    case 'sorted':
      return `${n.tap ? 'sortedmulti_a' : 'sortedmulti'}(${n.k},${n.keys.map((k) => k.toString(b)).join(',')})`;
    case 'tr':
      return `tr(${n.internal.toString(b)}${n.tree ? `,${fmtTree(n.tree, b)}` : ''})`;
    case 'ms': {
      const keyText = (k: Uint8Array) => n.keys[placeholderIndex(k)].toString(b);
      return formatMiniscript(n.ms, {
        key: keyText,
        keyHash: (h) => hex.encode(h),
        hash: (h) => hex.encode(h),
        num: (x) => String(x),
      });
    }
  }
}

function leafScript(n: DescNode, i: number, b: number): Uint8Array {
  if (n.t === 'ms') {
    const tap = n.ctx === 'tapscript';
    const derived = n.keys.map((k) => (tap ? xonly(k.derive(i, b)) : k.derive(i, b)));
    return compileMiniscript(substKeys(n.ms, derived));
  }
  if (n.t === 'sorted') {
    const keys = n.keys.map((k) => (n.tap ? xonly(k.derive(i, b)) : k.derive(i, b))).sort(compareBytes);
    const sb = new ScriptBuilder();
    if (n.tap) {
      keys.forEach((k, j) => {
        sb.push(k).op(j ? OP.OP_CHECKSIGADD : OP.OP_CHECKSIG);
      });
      return sb.num(n.k).op(OP.OP_NUMEQUAL).bytes();
    }
    sb.num(n.k);
    for (const k of keys) sb.push(k);
    return sb.num(keys.length).op(OP.OP_CHECKMULTISIG).bytes();
  }
  if (n.t === 'wpkh') return p2wpkh(n.key.derive(i, b));
  if (n.t === 'wsh') return p2wsh(leafScript(n.inner, i, b));
  throw new Error(`${n.t}() has no inner script`);
}

function merkleRoot(t: TapTree, i: number, b: number): Uint8Array {
  if ('leaf' in t) return tapLeafHash(leafScript(t.leaf, i, b));
  return tapBranchHash(merkleRoot(t.left, i, b), merkleRoot(t.right, i, b));
}

function spks(n: DescNode, i: number, b: number): Uint8Array[] {
  switch (n.t) {
    case 'wpkh':
      return [p2wpkh(n.key.derive(i, b))];
    case 'combo': {
      const k = n.key.derive(i, b);
      const pk = new ScriptBuilder().push(k).op(OP.OP_CHECKSIG).bytes();
      if (k.length !== 33) return [pk, p2pkh(k)];
      return [pk, p2pkh(k), p2wpkh(k), p2sh(p2wpkh(k))];
    }
    case 'sh':
      return [p2sh(leafScript(n.inner, i, b))];
    case 'wsh':
      return [p2wsh(leafScript(n.inner, i, b))];
    case 'tr': {
      const p = xonly(n.internal.derive(i, b));
      return [
        new ScriptBuilder()
          .op(OP.OP_1)
          .push(tweakXOnly(p, n.tree ? merkleRoot(n.tree, i, b) : undefined))
          .bytes(),
      ];
    }
    case 'rawtr':
      return [
        new ScriptBuilder()
          .op(OP.OP_1)
          .push(xonly(n.key.derive(i, b)))
          .bytes(),
      ];
    case 'addr':
    case 'raw':
      return [n.script];
    case 'ms':
    case 'sorted':
      return [leafScript(n, i, b)];
  }
}

export interface ParseDescriptorOptions {
  /** Require a '#checksum' suffix. */
  requireChecksum?: boolean;
}

/** Parses a descriptor; errors are PositionedError with the character position of the fault. */
export function parseDescriptor(text: string, opts: ParseDescriptorOptions = {}): Descriptor {
  if (text.length > MAX_DESCRIPTOR_LENGTH)
    fail(MAX_DESCRIPTOR_LENGTH, `descriptor longer than ${MAX_DESCRIPTOR_LENGTH} characters`);
  const hash = text.indexOf('#');
  let body = text;
  if (hash >= 0) {
    body = text.slice(0, hash);
    const given = text.slice(hash + 1);
    if (given.length !== 8) fail(hash + 1, `checksum must be 8 characters, got ${given.length}`);
    const bad = invalidCharPosition(body);
    if (bad >= 0) fail(bad, `invalid character '${body[bad]}'`);
    const want = descriptorChecksum(body);
    if (given !== want) fail(hash + 1, `bad checksum '${given}', expected '${want}'`);
  } else if (opts.requireChecksum) {
    fail(text.length, 'missing checksum');
  }
  const bad = invalidCharPosition(body);
  if (bad >= 0) fail(bad, `invalid character '${body[bad]}'`);
  if (body.length === 0) fail(0, 'empty descriptor');
  const p = new DescParser(body);
  const root = p.expr(0, body.length, 'top', 0);
  return new Descriptor(root, p.keys);
}

/**
 * The query/push layer's gate: a node must never receive private keys, and cannot derive
 * hardened steps without them.
 */
export function assertWatchOnly(d: Descriptor): void {
  if (d.containsPrivateKey)
    throw new PositionedError(
      'descriptor',
      d.keys.find((k) => k.isPrivate)?.pos ?? 0,
      'descriptor contains a private key; a node must never receive private keys',
    );
  if (d.needsPrivateDerivation)
    throw new PositionedError(
      'descriptor',
      d.keys.find((k) => k.needsPrivate)?.pos ?? 0,
      'hardened derivation after an xpub needs the private key',
    );
}
