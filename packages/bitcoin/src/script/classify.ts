import { decodeScriptNum, isMinimalScriptNum } from './num.ts';
import { decodeSmallInt, OP } from './opcodes.ts';
import { isMinimalPush, isPushOnly, parseScript, pushedValue, type ScriptOp } from './tokenize.ts';

/**
 * The standard output types, as Bitcoin Core's Solver (src/script/solver.cpp) tells them apart.
 * Byte fields are views into the scriptPubKey passed in: copy them to keep them past its buffer.
 */
export type ScriptClass =
  | { readonly type: 'p2pk'; readonly pubkey: Uint8Array }
  | { readonly type: 'p2pkh'; readonly hash: Uint8Array }
  | { readonly type: 'p2sh'; readonly hash: Uint8Array }
  | { readonly type: 'p2wpkh'; readonly hash: Uint8Array }
  | { readonly type: 'p2wsh'; readonly hash: Uint8Array }
  | { readonly type: 'p2tr'; readonly outputKey: Uint8Array }
  /** Pay-to-anchor (OP_1 <0x4e73>), Core's ANCHOR type since v28: anyone can spend it. */
  | { readonly type: 'anchor' }
  /** Witness versions 1-16 other than P2TR/P2A, 2-40 byte programs: spendable by anyone today. */
  | { readonly type: 'witness_unknown'; readonly version: number; readonly program: Uint8Array }
  /** Bare multisig: m of pubkeys.length (n), 1 <= m <= n <= 20. */
  | { readonly type: 'multisig'; readonly m: number; readonly pubkeys: Uint8Array[] }
  /** OP_RETURN followed only by pushes; `data` holds each pushed value (OP_N as its number's bytes). */
  | { readonly type: 'op_return'; readonly data: Uint8Array[] }
  /** Anything else; `parsable` is false when a push runs past the end of the script. */
  | { readonly type: 'nonstandard'; readonly parsable: boolean };

export type ScriptType = ScriptClass['type'];

/** Core's CPubKey::ValidSize: 33 bytes with 02/03, or 65 bytes with 04/06/07 (hybrid). */
export function isValidPubkeySize(k: Uint8Array): boolean {
  if (k.length === 33) return k[0] === 2 || k[0] === 3;
  if (k.length === 65) return k[0] === 4 || k[0] === 6 || k[0] === 7;
  return false;
}

/**
 * Classifies a scriptPubKey. The common templates are recognised from length and fixed bytes
 * alone, without tokenizing: this runs for every output in the chain.
 */
export function classify(s: Uint8Array): ScriptClass {
  const n = s.length;
  const b0 = s[0];
  switch (n) {
    case 22:
      if (b0 === OP.OP_0 && s[1] === 20) return { type: 'p2wpkh', hash: s.subarray(2) };
      break;
    case 23:
      if (b0 === OP.OP_HASH160 && s[1] === 20 && s[22] === OP.OP_EQUAL)
        return { type: 'p2sh', hash: s.subarray(2, 22) };
      break;
    case 25:
      if (
        b0 === OP.OP_DUP &&
        s[1] === OP.OP_HASH160 &&
        s[2] === 20 &&
        s[23] === OP.OP_EQUALVERIFY &&
        s[24] === OP.OP_CHECKSIG
      ) {
        return { type: 'p2pkh', hash: s.subarray(3, 23) };
      }
      break;
    case 34:
      if (s[1] === 32) {
        if (b0 === OP.OP_0) return { type: 'p2wsh', hash: s.subarray(2) };
        if (b0 === OP.OP_1) return { type: 'p2tr', outputKey: s.subarray(2) };
      }
      break;
    case 35:
      if (b0 === 33 && s[34] === OP.OP_CHECKSIG && (s[1] === 2 || s[1] === 3)) {
        return { type: 'p2pk', pubkey: s.subarray(1, 34) };
      }
      break;
    case 67:
      if (b0 === 65 && s[66] === OP.OP_CHECKSIG && (s[1] === 4 || s[1] === 6 || s[1] === 7)) {
        return { type: 'p2pk', pubkey: s.subarray(1, 66) };
      }
      break;
  }
  // Witness program (Core's IsWitnessProgram): a version opcode and one direct push of 2-40 bytes.
  if (n >= 4 && n <= 42 && (b0 === OP.OP_0 || (b0 >= OP.OP_1 && b0 <= OP.OP_16)) && s[1] + 2 === n) {
    const version = decodeSmallInt(b0);
    // Version 0 only defines 20- and 32-byte programs (matched above); other lengths can never be spent.
    if (version === 0) return { type: 'nonstandard', parsable: true };
    if (version === 1 && n === 4 && s[2] === 0x4e && s[3] === 0x73) return { type: 'anchor' };
    return { type: 'witness_unknown', version, program: s.subarray(2) };
  }
  if (n >= 1 && b0 === OP.OP_RETURN) {
    if (!isPushOnly(s, 1)) return { type: 'nonstandard', parsable: parseScript(s).parsable };
    const data: Uint8Array[] = [];
    for (const o of parseScript(s.subarray(1)).ops) {
      const v = pushedValue(o);
      if (v) data.push(v);
    }
    return { type: 'op_return', data };
  }
  if (n > 0 && s[n - 1] === OP.OP_CHECKMULTISIG) {
    const ms = matchMultisig(s);
    if (ms) return ms;
  }
  return { type: 'nonstandard', parsable: parseScript(s).parsable };
}

/** Core's MAX_PUBKEYS_PER_MULTISIG. */
const MAX_MULTISIG_KEYS = 20;

/**
 * Core's MatchMultisig: <m> <pubkey>... <n> OP_CHECKMULTISIG with 1 <= m <= n <= 20. m and n are
 * OP_1..OP_16 or (for 17-20, as Core accepts since v24) minimal pushes of a minimal number.
 */
function matchMultisig(s: Uint8Array): ScriptClass | undefined {
  const { ops, parsable } = parseScript(s);
  if (!parsable || ops.length < 4 || ops[ops.length - 1].op !== OP.OP_CHECKMULTISIG) return undefined;
  const m = smallNumber(ops[0], 1);
  if (m < 0) return undefined;
  const n = smallNumber(ops[ops.length - 2], m);
  if (n < 0 || ops.length !== n + 3) return undefined;
  const pubkeys: Uint8Array[] = [];
  for (let i = 1; i <= n; i++) {
    const d = ops[i].data;
    if (!d || !isValidPubkeySize(d)) return undefined;
    pubkeys.push(d);
  }
  return { type: 'multisig', m, pubkeys };
}

/** Core's GetScriptNumber for multisig counts; -1 when not a number in min..20. */
function smallNumber(o: ScriptOp, min: number): number {
  let v = decodeSmallInt(o.op);
  if (o.op === OP.OP_0) v = -1;
  else if (v < 0 && o.data) {
    if (!isMinimalPush(o.op, o.data) || o.data.length > 4 || !isMinimalScriptNum(o.data)) return -1;
    v = decodeScriptNum(o.data);
  }
  return v >= min && v <= MAX_MULTISIG_KEYS ? v : -1;
}
