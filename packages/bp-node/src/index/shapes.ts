/**
 * The shape table: for every script revealed on chain (P2SH redeemScript, P2WSH witnessScript
 * also when nested in P2SH, executed tapscript leaf of leaf version 0xc0) and every non-standard
 * scriptPubKey, one row keyed by the script's normalized shape (pattern/shape.ts). A pattern
 * query is a range read per shape key of the pattern, then a filter on the values bound by the
 * script read back from the block file: never a scan of the chain.
 *
 *   shapes (dupSort + dupFixed): shapeKey (8) -> item id (8) | context (1) = 9 bytes
 *
 * The shape key is the whole LMDB key: shapes are few (hundreds in a week of blocks, all
 * multisigs sharing one), so each shape is one sub-tree of 9-byte values in chain order and a
 * block's rows land at the end of their shape's run (appends, full pages). Item id = the input
 * that revealed the script, or the output holding a non-standard scriptPubKey.
 */

import type { ShapeContext } from '@lnpbp/bitcoin/pattern/index';
import { scriptShape } from '@lnpbp/bitcoin/pattern/index';
import { classify } from '@lnpbp/bitcoin/script/classify';
import { revealedScript } from '@lnpbp/bitcoin/script/revealed';
import { inputLo, outputLo, writeShortId } from '@lnpbp/bitcoin/shortid/index';
import type { Tx, TxIn } from '@lnpbp/bitcoin/tx/types';
import type { BlockLayout } from './layout.ts';

export const SHAPE_KEY = 8;
export const SHAPE_VALUE = 9;

/** Context byte of a shape row. */
export const SHAPE_CONTEXT = { p2sh: 1, p2wsh: 2, tapscript: 3, scriptPubKey: 4 } as const;
export const CONTEXT_NAMES: Record<number, ShapeContext> = {
  1: 'p2sh',
  2: 'p2wsh',
  3: 'tapscript',
  4: 'scriptPubKey',
};

export const TAPSCRIPT_LEAF_VERSION = 0xc0;

export interface RevealedItem {
  ctx: Exclude<ShapeContext, 'scriptPubKey'>;
  script: Uint8Array;
}

/**
 * The script an input reveals, in the context it runs in. `prevScriptPubKey` is the spent
 * output's script when the index holds it; without it the kind is inferred from scriptSig and
 * witness (an index started above genesis). Nested segwit reveals its witnessScript only (the
 * redeemScript is then a witness program, not a script anyone wrote).
 */
export function revealedOf(input: TxIn, prevScriptPubKey?: Uint8Array): RevealedItem | null {
  const r = revealedScript(input, prevScriptPubKey);
  switch (r.spend) {
    case 'p2sh':
      return { ctx: 'p2sh', script: r.redeemScript };
    case 'p2wsh':
    case 'p2sh-p2wsh':
      return { ctx: 'p2wsh', script: r.witnessScript };
    case 'p2tr-script':
      return r.leaf.leafVersion === TAPSCRIPT_LEAF_VERSION
        ? { ctx: 'tapscript', script: r.leaf.script }
        : null;
    default:
      return null;
  }
}

/**
 * The script of a shape row read back from its tx, without the spent output: the context byte
 * says where it is (the last scriptSig push, the last witness item, the leaf before the control
 * block). Null when the tx does not hold one there (it cannot happen for a row the index wrote).
 */
export function scriptOfRow(tx: Tx, output: boolean, index: number, ctx: ShapeContext): Uint8Array | null {
  if (output) return ctx === 'scriptPubKey' ? (tx.outputs[index]?.scriptPubKey ?? null) : null;
  const inp = tx.inputs[index];
  if (!inp) return null;
  const forced =
    ctx === 'p2sh'
      ? P2SH_SPK
      : ctx === 'p2wsh'
        ? inp.scriptSig.length > 0
          ? P2SH_SPK
          : P2WSH_SPK
        : P2TR_SPK;
  const r = revealedScript(inp, forced);
  if (ctx === 'p2sh') return r.spend === 'p2sh' ? r.redeemScript : null;
  if (ctx === 'p2wsh') return r.spend === 'p2wsh' || r.spend === 'p2sh-p2wsh' ? r.witnessScript : null;
  return r.spend === 'p2tr-script' ? r.leaf.script : null;
}

// Stand-in spent scripts that make revealedScript read an input as the given kind.
const P2SH_SPK = Uint8Array.from([0xa9, 20, ...new Uint8Array(20), 0x87]);
const P2WSH_SPK = Uint8Array.from([0x00, 32, ...new Uint8Array(32)]);
const P2TR_SPK = Uint8Array.from([0x51, 32, ...new Uint8Array(32)]);

/** True for the scriptPubKeys the table records: Core's Solver calls them NONSTANDARD. */
export function isRecordedScriptPubKey(spk: Uint8Array): boolean {
  return classify(spk).type === 'nonstandard';
}

/**
 * The shape rows of a block's txs, as packed (key, value) pairs. `prevScripts[k]` is the
 * scriptPubKey spent by the k-th non-coinbase input of the block (undefined when the index does
 * not hold it). Connect and disconnect compute the same rows from the same inputs (the undo
 * record keeps the spent scripts), so disconnect removes exactly what connect wrote.
 */
export function blockShapeRows(
  txs: readonly Tx[],
  hi: number,
  prevScripts: readonly (Uint8Array | undefined)[],
): { key: Uint8Array; value: Uint8Array }[] {
  const rows: { key: Uint8Array; value: Uint8Array }[] = [];
  let k = 0;
  for (let p = 0; p < txs.length; p++) {
    const tx = txs[p];
    if (p > 0) {
      for (let j = 0; j < tx.inputs.length; j++, k++) {
        const rev = revealedOf(tx.inputs[j], prevScripts[k]);
        if (rev === null) continue;
        rows.push(row(scriptShape(rev.script, rev.ctx).shapeKey, hi, inputLo(p, j), SHAPE_CONTEXT[rev.ctx]));
      }
    }
    for (let i = 0; i < tx.outputs.length; i++) {
      const spk = tx.outputs[i].scriptPubKey;
      if (!isRecordedScriptPubKey(spk)) continue;
      rows.push(
        row(scriptShape(spk, 'scriptPubKey').shapeKey, hi, outputLo(p, i), SHAPE_CONTEXT.scriptPubKey),
      );
    }
  }
  return rows;
}

/** A block's scriptPubKey shape rows, flat: key (8) | value (9) each, and the tx of each. */
export interface OutputShapes {
  rows: Uint8Array;
  tx: Uint32Array;
}

export const SHAPE_ROW = SHAPE_KEY + SHAPE_VALUE;

/**
 * The rows of the block's non-standard scriptPubKeys: they need nothing but the block (the
 * preparing worker computes them). Flat, so that they cross threads as two buffers.
 */
export function outputShapeRows(lay: BlockLayout, hi: number): OutputShapes {
  const keys: Uint8Array[] = [];
  const at: number[] = [];
  for (let p = 0; p < lay.txCount; p++) {
    const o0 = lay.outFirst[p];
    const n = lay.outputs(p);
    for (let i = 0; i < n; i++) {
      if (lay.commonOutput(o0 + i)) continue;
      const spk = lay.script(o0 + i);
      if (!isRecordedScriptPubKey(spk)) continue;
      keys.push(scriptShape(spk, 'scriptPubKey').shapeKey);
      at.push(p, i);
    }
  }
  const rows = new Uint8Array(SHAPE_ROW * keys.length);
  const tx = new Uint32Array(keys.length);
  for (let r = 0; r < keys.length; r++) {
    const b = SHAPE_ROW * r;
    rows.set(keys[r], b);
    writeShortId(rows, b + SHAPE_KEY, hi, outputLo(at[2 * r], at[2 * r + 1]));
    rows[b + SHAPE_KEY + 8] = SHAPE_CONTEXT.scriptPubKey;
    tx[r] = at[2 * r];
  }
  return { rows, tx };
}

/**
 * Input shape rows computed ahead, by the preparing worker, for the script it took each input
 * to spend (hints.ts): per non-coinbase input, AHEAD_NONE (not computed), AHEAD_NO_ROW, or
 * AHEAD_ROW (its row is the next of `rows`, key (8) | value (9)). The writer takes an input's
 * answer only when it resolved the input to the same script (`take[k]` = 1).
 */
export interface InputShapesAhead {
  status: Uint8Array;
  rows: Uint8Array;
}
export const AHEAD_NONE = 0;
export const AHEAD_NO_ROW = 1;
export const AHEAD_ROW = 2;

/**
 * Input g's (tx p, input j) shape row for the spent script `prev` (undefined: not held) into
 * out[at..at + 17); false when the input reveals no script.
 */
export function inputShapeInto(
  lay: BlockLayout,
  hi: number,
  p: number,
  j: number,
  prev: Uint8Array | undefined,
  out: Uint8Array,
  at: number,
): boolean {
  const g = lay.inFirst[p] + j;
  // Most inputs reveal nothing: seen on the bytes, before building a TxIn.
  if (prev === undefined ? lay.keyOnlyWitness(g) || lay.keyOnlyScriptSig(g) : keyOnlyScript(prev))
    return false;
  const rev = revealedOf(lay.input(g), prev);
  if (rev === null) return false;
  out.set(scriptShape(rev.script, rev.ctx).shapeKey, at);
  writeShortId(out, at + SHAPE_KEY, hi, inputLo(p, j));
  out[at + SHAPE_KEY + 8] = SHAPE_CONTEXT[rev.ctx];
  return true;
}

/**
 * blockShapeRows over a block's layout (the connect path): the same rows in the same order,
 * read from the bytes without building and caching the txs' inputs and outputs (each TxIn here
 * is a temporary). The scriptPubKey rows come from outputShapeRows (`outs`, when a worker made
 * them); input k's row from `ahead` when `take[k]` is 1.
 */
export function layoutShapeRows(
  lay: BlockLayout,
  hi: number,
  prevScripts: readonly (Uint8Array | undefined)[],
  outs: OutputShapes = outputShapeRows(lay, hi),
  ahead: InputShapesAhead | null = null,
  take: Uint8Array | null = null,
): { key: Uint8Array; value: Uint8Array }[] {
  const rows: { key: Uint8Array; value: Uint8Array }[] = [];
  let k = 0;
  let r = 0;
  let a = 0;
  for (let p = 0; p < lay.txCount; p++) {
    if (p > 0) {
      const n = lay.inputs(p);
      for (let j = 0; j < n; j++, k++) {
        if (ahead !== null) {
          const st = ahead.status[k];
          if (st === AHEAD_ROW) {
            const b = SHAPE_ROW * a++;
            if (take![k] === 1) {
              rows.push({
                key: ahead.rows.subarray(b, b + SHAPE_KEY),
                value: ahead.rows.subarray(b + SHAPE_KEY, b + SHAPE_ROW),
              });
              continue;
            }
          } else if (st === AHEAD_NO_ROW && take![k] === 1) continue;
        }
        const out = new Uint8Array(SHAPE_ROW);
        if (!inputShapeInto(lay, hi, p, j, prevScripts[k], out, 0)) continue;
        rows.push({ key: out.subarray(0, SHAPE_KEY), value: out.subarray(SHAPE_KEY) });
      }
    }
    for (; r < outs.tx.length && outs.tx[r] === p; r++) {
      const b = SHAPE_ROW * r;
      rows.push({
        key: outs.rows.subarray(b, b + SHAPE_KEY),
        value: outs.rows.subarray(b + SHAPE_KEY, b + SHAPE_ROW),
      });
    }
  }
  return rows;
}

/** A spent P2WPKH or P2PKH script (classify's templates): its spend reveals no script. */
function keyOnlyScript(s: Uint8Array): boolean {
  if (s.length === 22) return s[0] === 0x00 && s[1] === 20;
  return s.length === 25 && s[0] === 0x76 && s[1] === 0xa9 && s[2] === 20 && s[23] === 0x88 && s[24] === 0xac;
}

function row(
  shapeKey: Uint8Array,
  hi: number,
  lo: number,
  ctx: number,
): { key: Uint8Array; value: Uint8Array } {
  const value = new Uint8Array(SHAPE_VALUE);
  writeShortId(value, 0, hi, lo);
  value[8] = ctx;
  return { key: Uint8Array.from(shapeKey), value };
}
