/**
 * Script -> miniscript ("lifting"), following Bitcoin Core's DecodeScript: the script is split
 * into ops (VERIFY forms split into op + OP_VERIFY), read back to front with an explicit work
 * stack, so it is linear in the script length and never recurses on input.
 */

import { OP } from '../script/opcodes.ts';
import type { Fragment, MsContext, MsNode } from './node.ts';
import { makeNode } from './parse.ts';
import { isMinimalPush, opNumber, tokenize } from './script.ts';
import { has, T } from './types.ts';

interface Tok {
  op: number;
  data?: Uint8Array;
}

const SPLIT: Record<number, number> = {
  [OP.OP_EQUALVERIFY]: OP.OP_EQUAL,
  [OP.OP_CHECKSIGVERIFY]: OP.OP_CHECKSIG,
  [OP.OP_CHECKMULTISIGVERIFY]: OP.OP_CHECKMULTISIG,
  [OP.OP_NUMEQUALVERIFY]: OP.OP_NUMEQUAL,
};

/** Core's DecomposeScript, reversed. null when not decodable as miniscript. */
function decompose(script: Uint8Array): Tok[] | null {
  const ops = tokenize(script);
  if (!ops) return null;
  const out: Tok[] = [];
  for (const o of ops) {
    if (o.data !== undefined) {
      if (!isMinimalPush(o.op, o.data)) return null;
      // OP_0 stays an opcode; numbers 1..16 are OP_n already (minimal).
      out.push(o.op === OP.OP_0 ? { op: OP.OP_0 } : { op: o.op, data: o.data });
      continue;
    }
    const base = SPLIT[o.op];
    if (base !== undefined) {
      out.push({ op: base }, { op: OP.OP_VERIFY });
      continue;
    }
    if (o.op === OP.OP_VERIFY && out.length) {
      const prev = out[out.length - 1].op;
      // x OP_VERIFY where x has a VERIFY form is not what miniscript emits.
      if (
        out[out.length - 1].data === undefined &&
        (prev === OP.OP_EQUAL ||
          prev === OP.OP_CHECKSIG ||
          prev === OP.OP_CHECKMULTISIG ||
          prev === OP.OP_NUMEQUAL)
      )
        return null;
    }
    out.push({ op: o.op });
  }
  return out.reverse();
}

function num(t: Tok | undefined): number | null {
  if (!t) return null;
  return opNumber(t);
}

enum D {
  SINGLE_BKV,
  BKV,
  W,
  MAYBE_AND_V,
  AND_V,
  AND_B,
  OR_B,
  OR_C,
  OR_D,
  OR_I,
  ANDOR,
  ALT,
  SWAP,
  CHECK,
  DUP_IF,
  VERIFY,
  NON_ZERO,
  ZERO_NOTEQUAL,
  THRESH_W,
  THRESH_E,
  ENDIF,
  ENDIF_NOTIF,
  ENDIF_ELSE,
}

function keyOk(d: Uint8Array | undefined, ctx: MsContext): boolean {
  if (!d) return false;
  if (ctx === 'tapscript') return d.length === 32;
  if (d.length === 33) return d[0] === 2 || d[0] === 3;
  return ctx === 'p2sh' && d.length === 65 && d[0] === 4;
}

/** Maximum script size we attempt to lift (consensus limit for P2WSH is 10,000 bytes). */
export const MAX_LIFT_SCRIPT = 100_000;

/**
 * Lifts a script to miniscript in ctx, or returns null when the script is not miniscript
 * (not decodable, or not a valid top-level B expression). Keys are checked for size and
 * prefix, not for being on the curve.
 */
export function liftMiniscript(script: Uint8Array, ctx: MsContext): MsNode | null {
  if (script.length === 0 || script.length > MAX_LIFT_SCRIPT) return null;
  const toks = decompose(script);
  if (!toks) return null;
  const tap = ctx === 'tapscript';
  const last = toks.length;
  let i = 0;
  const todo: [D, number, number][] = [[D.BKV, -1, -1]];
  const built: MsNode[] = [];
  const mk = (f: Fragment, subs: MsNode[], o?: { k?: number; keys?: Uint8Array[]; data?: Uint8Array }) =>
    makeNode(f, subs, ctx, o);
  const pop = (): MsNode => built.pop() as MsNode;
  while (todo.length) {
    if (built.length && built[built.length - 1].type === 0) return null;
    const [dc, n, k] = todo.pop() as [D, number, number];
    const t0 = toks[i];
    switch (dc) {
      case D.SINGLE_BKV: {
        if (i >= last) return null;
        const op = t0.op;
        if (op === OP.OP_1 && !t0.data) {
          i++;
          built.push(mk('just_1', []));
          break;
        }
        if (op === OP.OP_0) {
          i++;
          built.push(mk('just_0', []));
          break;
        }
        if (t0.data && keyOk(t0.data, ctx)) {
          i++;
          built.push(mk('pk_k', [], { keys: [t0.data] }));
          break;
        }
        if (
          last - i >= 5 &&
          op === OP.OP_VERIFY &&
          toks[i + 1].op === OP.OP_EQUAL &&
          toks[i + 2].data?.length === 20 &&
          toks[i + 3].op === OP.OP_HASH160 &&
          toks[i + 4].op === OP.OP_DUP
        ) {
          built.push(mk('pk_h', [], { data: toks[i + 2].data }));
          i += 5;
          break;
        }
        if (last - i >= 2 && (op === OP.OP_CHECKSEQUENCEVERIFY || op === OP.OP_CHECKLOCKTIMEVERIFY)) {
          const v = num(toks[i + 1]);
          if (v !== null) {
            if (v < 1 || v > 0x7fffffff) return null;
            i += 2;
            built.push(mk(op === OP.OP_CHECKSEQUENCEVERIFY ? 'older' : 'after', [], { k: v }));
            break;
          }
        }
        if (
          last - i >= 7 &&
          op === OP.OP_EQUAL &&
          toks[i + 3].op === OP.OP_VERIFY &&
          toks[i + 4].op === OP.OP_EQUAL &&
          num(toks[i + 5]) === 32 &&
          toks[i + 6].op === OP.OP_SIZE
        ) {
          const h = toks[i + 1].data;
          const hop = toks[i + 2].op;
          let f: Fragment | null = null;
          if (hop === OP.OP_SHA256 && h?.length === 32) f = 'sha256';
          else if (hop === OP.OP_RIPEMD160 && h?.length === 20) f = 'ripemd160';
          else if (hop === OP.OP_HASH256 && h?.length === 32) f = 'hash256';
          else if (hop === OP.OP_HASH160 && h?.length === 20) f = 'hash160';
          if (f) {
            i += 7;
            built.push(mk(f, [], { data: h }));
            break;
          }
        }
        if (last - i >= 3 && op === OP.OP_CHECKMULTISIG) {
          if (tap) return null;
          const nk = num(toks[i + 1]);
          if (nk === null || nk < 1 || nk > 20 || last - i < 3 + nk) return null;
          const keys: Uint8Array[] = [];
          for (let q = 0; q < nk; q++) {
            const d = toks[i + 2 + q].data;
            if (!keyOk(d, ctx)) return null;
            keys.push(d as Uint8Array);
          }
          const kk = num(toks[i + 2 + nk]);
          if (kk === null || kk < 1 || kk > nk) return null;
          i += 3 + nk;
          keys.reverse();
          built.push(mk('multi', [], { k: kk, keys }));
          break;
        }
        if (last - i >= 4 && op === OP.OP_NUMEQUAL) {
          if (!tap) return null;
          const kk = num(toks[i + 1]);
          if (kk === null || kk < 1 || kk > 999) return null;
          if (last - i < 2 + kk * 2) return null;
          const keys: Uint8Array[] = [];
          for (let pos = 2; ; pos += 2) {
            if (last - i < pos + 2) return null;
            const o = toks[i + pos].op;
            if (o !== OP.OP_CHECKSIGADD && o !== OP.OP_CHECKSIG) return null;
            const d = toks[i + pos + 1].data;
            if (d?.length !== 32) return null;
            keys.push(d);
            if (keys.length > 999) return null;
            if (o === OP.OP_CHECKSIG) break;
          }
          if (keys.length < kk) return null;
          i += 2 + keys.length * 2;
          keys.reverse();
          built.push(mk('multi_a', [], { k: kk, keys }));
          break;
        }
        // Wrappers commute with and_v here (c:and_v(X,Y) = and_v(X,c:Y)), so SINGLE suffices.
        if (op === OP.OP_CHECKSIG) {
          i++;
          todo.push([D.CHECK, -1, -1], [D.SINGLE_BKV, -1, -1]);
          break;
        }
        if (op === OP.OP_VERIFY) {
          i++;
          todo.push([D.VERIFY, -1, -1], [D.SINGLE_BKV, -1, -1]);
          break;
        }
        if (op === OP.OP_0NOTEQUAL) {
          i++;
          todo.push([D.ZERO_NOTEQUAL, -1, -1], [D.SINGLE_BKV, -1, -1]);
          break;
        }
        if (last - i >= 3 && op === OP.OP_EQUAL) {
          const v = num(toks[i + 1]);
          if (v !== null) {
            if (v < 1) return null;
            i += 2;
            todo.push([D.THRESH_W, 0, v]);
            break;
          }
        }
        if (op === OP.OP_ENDIF) {
          i++;
          todo.push([D.ENDIF, -1, -1], [D.BKV, -1, -1]);
          break;
        }
        if (op === OP.OP_BOOLAND) {
          i++;
          todo.push([D.AND_B, -1, -1], [D.SINGLE_BKV, -1, -1], [D.W, -1, -1]);
          break;
        }
        if (op === OP.OP_BOOLOR) {
          i++;
          todo.push([D.OR_B, -1, -1], [D.SINGLE_BKV, -1, -1], [D.W, -1, -1]);
          break;
        }
        return null;
      }
      case D.BKV:
        todo.push([D.MAYBE_AND_V, -1, -1], [D.SINGLE_BKV, -1, -1]);
        break;
      case D.W:
        if (i >= last) return null;
        // a:X is TOALTSTACK X FROMALTSTACK and s:X is SWAP X; read backwards, the opening op
        // comes after X and is checked by ALT / SWAP.
        if (t0.op === OP.OP_FROMALTSTACK) {
          i++;
          todo.push([D.ALT, -1, -1]);
        } else todo.push([D.SWAP, -1, -1]);
        todo.push([D.BKV, -1, -1]);
        break;
      case D.MAYBE_AND_V:
        if (
          i < last &&
          t0.op !== OP.OP_IF &&
          t0.op !== OP.OP_ELSE &&
          t0.op !== OP.OP_NOTIF &&
          t0.op !== OP.OP_TOALTSTACK &&
          t0.op !== OP.OP_SWAP
        ) {
          todo.push([D.AND_V, -1, -1], [D.BKV, -1, -1]);
        }
        break;
      case D.SWAP:
        if (i >= last || t0.op !== OP.OP_SWAP || !built.length) return null;
        i++;
        built.push(mk('s', [pop()]));
        break;
      case D.ALT:
        if (i >= last || t0.op !== OP.OP_TOALTSTACK || !built.length) return null;
        i++;
        built.push(mk('a', [pop()]));
        break;
      case D.CHECK:
        if (!built.length) return null;
        built.push(mk('c', [pop()]));
        break;
      case D.DUP_IF:
        if (!built.length) return null;
        built.push(mk('d', [pop()]));
        break;
      case D.VERIFY:
        if (!built.length) return null;
        built.push(mk('v', [pop()]));
        break;
      case D.NON_ZERO:
        if (!built.length) return null;
        built.push(mk('j', [pop()]));
        break;
      case D.ZERO_NOTEQUAL:
        if (!built.length) return null;
        built.push(mk('n', [pop()]));
        break;
      case D.AND_V:
      case D.AND_B:
      case D.OR_B:
      case D.OR_C:
      case D.OR_D:
      case D.OR_I: {
        if (built.length < 2) return null;
        // The left child was read last, so it is on top.
        const left = pop();
        const right = pop();
        const f = (
          {
            [D.AND_V]: 'and_v',
            [D.AND_B]: 'and_b',
            [D.OR_B]: 'or_b',
            [D.OR_C]: 'or_c',
            [D.OR_D]: 'or_d',
            [D.OR_I]: 'or_i',
          } as Record<number, Fragment>
        )[dc];
        built.push(mk(f, [left, right]));
        break;
      }
      case D.ANDOR: {
        if (built.length < 3) return null;
        const left = pop();
        const right = pop();
        const mid = pop();
        built.push(mk('andor', [left, mid, right]));
        break;
      }
      case D.THRESH_W:
        if (i >= last) return null;
        if (t0.op === OP.OP_ADD) {
          i++;
          todo.push([D.THRESH_W, n + 1, k], [D.W, -1, -1]);
        } else {
          todo.push([D.THRESH_E, n + 1, k], [D.SINGLE_BKV, -1, -1]);
        }
        break;
      case D.THRESH_E: {
        if (k < 1 || k > n || built.length < n) return null;
        const subs: MsNode[] = [];
        for (let q = 0; q < n; q++) subs.push(pop());
        built.push(mk('thresh', subs, { k }));
        break;
      }
      case D.ENDIF:
        if (i >= last) return null;
        if (t0.op === OP.OP_ELSE) {
          i++;
          todo.push([D.ENDIF_ELSE, -1, -1], [D.BKV, -1, -1]);
        } else if (t0.op === OP.OP_IF) {
          if (last - i >= 2 && toks[i + 1].op === OP.OP_DUP) {
            i += 2;
            todo.push([D.DUP_IF, -1, -1]);
          } else if (last - i >= 3 && toks[i + 1].op === OP.OP_0NOTEQUAL && toks[i + 2].op === OP.OP_SIZE) {
            i += 3;
            todo.push([D.NON_ZERO, -1, -1]);
          } else return null;
        } else if (t0.op === OP.OP_NOTIF) {
          i++;
          todo.push([D.ENDIF_NOTIF, -1, -1]);
        } else return null;
        break;
      case D.ENDIF_NOTIF:
        if (i >= last) return null;
        if (t0.op === OP.OP_IFDUP) {
          i++;
          todo.push([D.OR_D, -1, -1]);
        } else todo.push([D.OR_C, -1, -1]);
        todo.push([D.SINGLE_BKV, -1, -1]);
        break;
      case D.ENDIF_ELSE:
        if (i >= last) return null;
        if (t0.op === OP.OP_IF) {
          i++;
          todo.push([D.OR_I, -1, -1]);
        } else if (t0.op === OP.OP_NOTIF) {
          i++;
          todo.push([D.ANDOR, -1, -1], [D.SINGLE_BKV, -1, -1]);
        } else return null;
        break;
    }
  }
  if (built.length !== 1 || i !== last) return null;
  const top = built[0];
  if (top.type === 0 || !has(top.type, T('B'))) return null;
  return top;
}
