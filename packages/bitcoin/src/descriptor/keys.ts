/**
 * BIP-380 key expressions: optional origin [fingerprint/path], then a hex public key, a WIF
 * private key, or an extended key with a derivation path, optional multipath step <a;b;...>
 * and optional range /* (or /*h, which needs the private key).
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check, hex } from '@scure/base';
import { HDKey } from '@scure/bip32';
import { PositionedError } from '../miniscript/errors.ts';

const base58check = createBase58check(sha256);
export const HARDENED = 0x80000000;

/** Where a key appears: decides uncompressed / x-only acceptance. */
export type KeyContext = 'top' | 'p2sh' | 'segwit' | 'tap';

export interface Origin {
  fingerprint: string;
  path: number[];
}

interface ExtendedKey {
  hd: HDKey;
  isPrivate: boolean;
  /** Steps after the key; multipath step holds the placeholder -1. */
  steps: number[];
  multipath?: { at: number; values: number[] };
  range?: 'unhardened' | 'hardened';
}

const VERSIONS: Record<string, { private: number; public: number }> = {
  x: { private: 0x0488ade4, public: 0x0488b21e },
  t: { private: 0x04358394, public: 0x043587cf },
};

function fail(pos: number, detail: string): never {
  throw new PositionedError('descriptor', pos, detail);
}

function fmtPath(path: number[]): string {
  return path.map((p) => (p >= HARDENED ? `${p - HARDENED}h` : String(p))).join('/');
}

/** A parsed key expression; derive() gives the public key for (index, branch). */
export class KeyExpr {
  readonly origin?: Origin;
  /** Fixed public key (hex or from WIF), as it goes into scripts before context conversion. */
  private readonly fixed?: Uint8Array;
  private readonly xkey?: ExtendedKey;
  readonly isPrivate: boolean;
  readonly xonly: boolean;
  private cache = new Map<number, HDKey>();

  constructor(
    readonly text: string,
    readonly pos: number,
    readonly ctx: KeyContext,
  ) {
    let body = text;
    let bodyPos = pos;
    if (body.startsWith('[')) {
      const close = body.indexOf(']');
      if (close < 0) fail(pos, "key origin has no closing ']'");
      const inner = body.slice(1, close);
      const parts = inner.split('/');
      if (!/^[0-9a-fA-F]{8}$/.test(parts[0]))
        fail(pos + 1, `fingerprint '${parts[0]}' is not 8 hex characters`);
      const path: number[] = [];
      let p = pos + 2 + parts[0].length;
      for (const s of parts.slice(1)) {
        if (s.startsWith('<')) fail(p, 'multipath is not allowed in a key origin');
        path.push(parseStep(s, p));
        p += s.length + 1;
      }
      this.origin = { fingerprint: parts[0].toLowerCase(), path };
      body = body.slice(close + 1);
      bodyPos = pos + close + 1;
    }
    if (body.includes(']') || body.includes('['))
      fail(bodyPos + Math.max(body.indexOf(']'), body.indexOf('[')), "unexpected '[' or ']' in key");
    const slash = body.indexOf('/');
    const head = slash < 0 ? body : body.slice(0, slash);
    if (head.length === 0) fail(bodyPos, 'empty key');
    if (/^[0-9a-fA-F]+$/.test(head) && (head.length === 64 || head.length === 66 || head.length === 130)) {
      if (slash >= 0) fail(bodyPos + slash, 'a hex key cannot have a derivation path');
      const b = hex.decode(head.toLowerCase());
      this.isPrivate = false;
      this.xonly = b.length === 32;
      if (b.length === 32 && ctx !== 'tap') fail(bodyPos, 'x-only keys are only allowed in tr()');
      if (b.length === 33 && b[0] !== 2 && b[0] !== 3)
        fail(bodyPos, 'compressed key must start with 02 or 03');
      if (b.length === 65) {
        if (b[0] === 6 || b[0] === 7) fail(bodyPos, 'hybrid public keys are not allowed');
        if (b[0] !== 4) fail(bodyPos, 'uncompressed key must start with 04');
        if (ctx === 'segwit' || ctx === 'tap')
          fail(bodyPos, 'uncompressed keys are not allowed in segwit and taproot');
      }
      try {
        if (b.length === 32) secp256k1.Point.fromHex(`02${head}`);
        else secp256k1.Point.fromHex(head.toLowerCase());
      } catch {
        fail(bodyPos, `public key '${head}' is not on the curve`);
      }
      this.fixed = b;
      return;
    }
    const v = head.slice(0, 4);
    if (v === 'xpub' || v === 'xprv' || v === 'tpub' || v === 'tprv') {
      let hd: HDKey;
      try {
        hd = HDKey.fromExtendedKey(head, VERSIONS[v[0]]);
      } catch (e) {
        fail(bodyPos, `bad extended key: ${(e as Error).message}`);
      }
      const xk: ExtendedKey = { hd, isPrivate: v.endsWith('prv'), steps: [] };
      const parts = slash < 0 ? [] : body.slice(slash + 1).split('/');
      let p = bodyPos + head.length + 1;
      parts.forEach((s, idx) => {
        if (xk.range) fail(p, "'*' must be the last step");
        if (s === '*' || s === "*'" || s === '*h') {
          xk.range = s === '*' ? 'unhardened' : 'hardened';
        } else if (s.startsWith('<')) {
          if (xk.multipath) fail(p, 'only one multipath step <a;b> is allowed per key');
          if (!s.endsWith('>')) fail(p, `bad multipath step '${s}'`);
          const items = s.slice(1, -1).split(';');
          if (items.length < 2) fail(p, 'multipath step needs at least two values');
          const values = items.map((it, j) =>
            parseStep(it, p + 1 + items.slice(0, j).join(';').length + (j ? 1 : 0)),
          );
          if (new Set(values).size !== values.length) fail(p, 'duplicate value in multipath step');
          xk.multipath = { at: idx, values };
          xk.steps.push(-1);
        } else {
          xk.steps.push(parseStep(s, p));
        }
        p += s.length + 1;
      });
      const hardenedAfter =
        xk.steps.some((s) => s >= HARDENED) ||
        xk.range === 'hardened' ||
        (xk.multipath?.values.some((s) => s >= HARDENED) ?? false);
      this.isPrivate = xk.isPrivate;
      this.xonly = false;
      this.xkey = xk;
      this.needsPrivate = hardenedAfter && !xk.isPrivate;
      return;
    }
    // WIF private key
    let raw: Uint8Array;
    try {
      raw = base58check.decode(head);
    } catch {
      fail(bodyPos, `key '${head.length > 20 ? `${head.slice(0, 20)}...` : head}' is not a valid key`);
    }
    if (slash >= 0) fail(bodyPos + slash, 'a WIF key cannot have a derivation path');
    if ((raw[0] !== 0x80 && raw[0] !== 0xef) || (raw.length !== 33 && !(raw.length === 34 && raw[33] === 1)))
      fail(bodyPos, 'not a valid WIF private key');
    const compressed = raw.length === 34;
    if (!compressed && (ctx === 'segwit' || ctx === 'tap'))
      fail(bodyPos, 'uncompressed keys are not allowed in segwit and taproot');
    try {
      this.fixed = secp256k1.getPublicKey(raw.subarray(1, 33), compressed);
    } catch {
      fail(bodyPos, 'private key out of range');
    }
    this.isPrivate = true;
    // Core prints a WIF key inside tr() as its x-only public key.
    this.xonly = ctx === 'tap' && compressed;
    if (this.xonly) this.fixed = (this.fixed as Uint8Array).subarray(1);
  }

  /** Hardened steps after a public extended key: derivation needs the private key. */
  readonly needsPrivate: boolean = false;

  get isRange(): boolean {
    return this.xkey?.range !== undefined;
  }

  get multipathCount(): number {
    return this.xkey?.multipath?.values.length ?? 1;
  }

  /** Public key bytes for this derivation (33 or 65 bytes; 32 for x-only input). */
  derive(index: number, branch = 0): Uint8Array {
    const xk = this.xkey;
    if (!xk) return this.fixed as Uint8Array;
    let parent = this.cache.get(branch);
    if (!parent) {
      let hd = xk.hd;
      xk.steps.forEach((s, i) => {
        const step = s === -1 ? (xk.multipath as { values: number[] }).values[branch] : s;
        if (step >= HARDENED && !hd.privateKey)
          throw new PositionedError('descriptor', this.pos, 'hardened derivation needs a private key');
        hd = hd.deriveChild(step);
        void i;
      });
      parent = hd;
      this.cache.set(branch, parent);
    }
    if (!xk.range) return parent.publicKey as Uint8Array;
    if (!Number.isInteger(index) || index < 0 || index >= HARDENED)
      throw new RangeError(`derivation index ${index} out of range`);
    const step = xk.range === 'hardened' ? index + HARDENED : index;
    if (step >= HARDENED && !parent.privateKey)
      throw new PositionedError('descriptor', this.pos, 'hardened derivation needs a private key');
    return parent.deriveChild(step).publicKey as Uint8Array;
  }

  /** Public form, Core style ('h' for hardened). branch selects one multipath value. */
  toString(branch?: number): string {
    let s = '';
    if (this.origin)
      s += `[${[this.origin.fingerprint, ...this.origin.path.map((p) => fmtPath([p]))].join('/')}]`;
    const xk = this.xkey;
    if (!xk) return s + hex.encode(this.fixed as Uint8Array);
    s += xk.hd.publicExtendedKey;
    for (const st of xk.steps) {
      if (st !== -1) s += `/${fmtPath([st])}`;
      else if (branch !== undefined)
        s += `/${fmtPath([(xk.multipath as { values: number[] }).values[branch]])}`;
      else s += `/<${(xk.multipath as { values: number[] }).values.map((v) => fmtPath([v])).join(';')}>`;
    }
    if (xk.range) s += xk.range === 'hardened' ? '/*h' : '/*';
    return s;
  }
}

function parseStep(s: string, pos: number): number {
  const hard = s.endsWith("'") || s.endsWith('h');
  const digits = hard ? s.slice(0, -1) : s;
  if (!/^[0-9]{1,10}$/.test(digits)) fail(pos, `key path value '${s}' is not a valid uint32`);
  const n = Number(digits);
  if (n >= HARDENED) fail(pos, `key path value ${n} is out of range`);
  return hard ? n + HARDENED : n;
}
