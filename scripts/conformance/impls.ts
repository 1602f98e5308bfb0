/**
 * Descriptor / miniscript implementations under comparison, behind one small interface:
 * parse (throws when the text is rejected), then scriptPubKeys (hex) per index and branch.
 */

import { DescriptorsFactory, networks } from '@bitcoinerlab/descriptors';
import * as blms from '@bitcoinerlab/miniscript';
import * as ecc from '@bitcoinerlab/secp256k1';
import { Descriptor as WasmDescriptor, Miniscript as WasmMiniscript } from '@bitgo/wasm-miniscript';
import { hex } from '@scure/base';
import { parseDescriptor } from '../../packages/bitcoin/src/descriptor/index.ts';
import {
  compileMiniscript,
  has,
  liftMiniscript,
  parseMiniscript,
  T,
} from '../../packages/bitcoin/src/miniscript/index.ts';
import { ScriptBuilder } from '../../packages/bitcoin/src/miniscript/script.ts';
import { opcodeByName } from '../../packages/bitcoin/src/script/opcodes.ts';

export interface DescImpl {
  name: string;
  /** Parses; returns a function giving scriptPubKeys (hex) for (index, branch). */
  parse(text: string, opts?: { requireChecksum?: boolean }): (index: number, branch: number) => string[];
  /** Public string form (ours only). */
  toPub?(text: string, branch?: number): string;
}

export const ours: DescImpl = {
  name: 'ours (@lnpbp/bitcoin descriptor/)',
  parse(text, opts) {
    const d = parseDescriptor(text, opts);
    return (i, b) => d.scriptPubKeys(i, b).map((s) => hex.encode(s));
  },
  toPub(text, branch) {
    return parseDescriptor(text).toStringNoChecksum(branch);
  },
};

const { Output } = DescriptorsFactory(ecc);
function netFor(text: string) {
  return /tpub|tprv|\btb1|bcrt1|^[mn2]/.test(text) ? networks.testnet : networks.bitcoin;
}

export const bitcoinerlab: DescImpl = {
  name: '@bitcoinerlab/descriptors 3.2.0',
  parse(text, opts) {
    if (opts?.requireChecksum && !text.includes('#')) throw new Error('missing checksum');
    const network = netFor(text);
    const ranged = text.includes('*');
    const multi = /<\d/.test(text);
    // Construct once to surface parse errors even for ranged descriptors.
    new Output({
      descriptor: text,
      network,
      ...(ranged ? { index: 0 } : {}),
      ...(multi ? { change: 0 } : {}),
    });
    return (i, b) => {
      const o = new Output({
        descriptor: text,
        network,
        ...(ranged ? { index: i } : {}),
        ...(multi ? { change: b } : {}),
      });
      return [hex.encode(o.getScriptPubKey())];
    };
  },
};

export const wasm: DescImpl = {
  name: '@bitgo/wasm-miniscript 1.18.1 (rust-miniscript)',
  parse(text, opts) {
    if (opts?.requireChecksum && !text.includes('#')) throw new Error('missing checksum');
    const d = WasmDescriptor.fromString(text, 'derivable');
    return (i) => {
      const x = d.hasWildcard() ? d.atDerivationIndex(i) : d.atDerivationIndex(0);
      return [hex.encode(x.scriptPubkey())];
    };
  },
};

export const descImpls = [ours, bitcoinerlab, wasm];

export interface MsImpl {
  name: string;
  /** Parse + type-check + compile; throws for invalid. Returns script hex. */
  compile(ms: string, ctx: 'p2wsh' | 'tapscript'): string;
  /** Lift script to miniscript and back to script hex; null when not supported. */
  liftRoundTrip?(scriptHex: string, ctx: 'p2wsh' | 'tapscript'): string | null;
  /** Type flags: nonmalleable, needs signature, no timelock mix. */
  props?(ms: string, ctx: 'p2wsh' | 'tapscript'): { m: boolean; s: boolean; k: boolean };
}

export const wasmMs: MsImpl = {
  name: '@bitgo/wasm-miniscript 1.18.1',
  compile(ms, ctx) {
    return hex.encode(WasmMiniscript.fromString(ms, ctx === 'p2wsh' ? 'segwitv0' : 'tap').encode());
  },
  // rust-miniscript exposes no type flags through the WASM API; props left out.
  liftRoundTrip(s, ctx) {
    const c = ctx === 'p2wsh' ? 'segwitv0' : 'tap';
    return hex.encode(WasmMiniscript.fromBitcoinScript(hex.decode(s), c).encode());
  },
};

/** bitcoinerlab prints ASM: <hex> pushes, OP_ names, small decimal numbers. */
function asmToHex(asm: string): string {
  const b = new ScriptBuilder();
  for (const t of asm.trim().split(/\s+/)) {
    if (t.startsWith('<')) b.push(hex.decode(t.slice(1, -1)));
    else if (/^-?[0-9]+$/.test(t)) b.num(Number(t));
    else {
      const code = opcodeByName(t);
      if (code === undefined) throw new Error(`unknown op ${t}`);
      b.op(code);
    }
  }
  return hex.encode(b.bytes());
}

export const bitcoinerlabMs: MsImpl = {
  name: '@bitcoinerlab/miniscript 2.0.0',
  compile(ms, ctx) {
    const tapscript = ctx === 'tapscript';
    const a = blms.analyzeMiniscript(ms, { tapscript });
    if (!a.valid) throw new Error(a.error ?? 'invalid');
    return asmToHex(blms.compileMiniscript(ms, { tapscript }).asm);
  },
  props(ms, ctx) {
    const a = blms.analyzeMiniscript(ms, { tapscript: ctx === 'tapscript' });
    return { m: a.nonMalleable, s: a.needsSignature, k: !a.timelockMix };
  },
};

export const oursMs: MsImpl = {
  name: 'ours (@lnpbp/bitcoin miniscript/)',
  compile(ms, ctx) {
    return hex.encode(compileMiniscript(parseMiniscript(ms, ctx)));
  },
  liftRoundTrip(s, ctx) {
    const n = liftMiniscript(hex.decode(s), ctx);
    if (!n) throw new Error('not miniscript');
    return hex.encode(compileMiniscript(n));
  },
  props(ms, ctx) {
    const t = parseMiniscript(ms, ctx).type;
    return { m: has(t, T('m')), s: has(t, T('s')), k: has(t, T('k')) };
  },
};

export const msImpls = [oursMs, wasmMs, bitcoinerlabMs];
