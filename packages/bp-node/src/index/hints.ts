/**
 * Resolve hints: the block-preparing worker (pipeline.ts) looks up each input's spent output in
 * a read snapshot of the index, so the writer does not have to. Looking it up (the `txids`
 * candidates, the full txid from blocks.dat, the UTXO read, the spent script's sha256) was 30 %
 * of the writer's time in a catch-up (docs/performance.md, "Indexing").
 *
 * A hint is what the snapshot said: the snapshot is the index as committed at some tip
 * (`Snapshot.height`), and the writer resolves against that plus what it committed since and
 * what its open batch holds. So the writer trusts a hint only when it can see that nothing in
 * between changes the answer (ConnectBatch.resolve):
 * - the index still holds the snapshot's tip block (no disconnect below it);
 * - the commit log (commitlog.ts) covers every commit after the snapshot, and none of those
 *   commits added a tx sharing the input's txid prefix or spent the output the hint found;
 * - the batch's own blocks are searched first, as without hints, and the batch did not spend
 *   the output either.
 * Anything else (a hint not given, the output spent in the snapshot, a tx committed since with
 * the same prefix) is resolved as before, through LMDB: a hint can save work, never change an
 * answer (index-hints.test.ts compares dumps and rejections with and without).
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Into } from '@lnpbp/bitcoin/hash/index';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import {
  EXT_MAX_INDEX,
  outputLo,
  readShortIdHi,
  readShortIdLo,
  writeShortId,
} from '@lnpbp/bitcoin/shortid/index';
import type { BlockLayout } from './layout.ts';
import { findTxid, PrefixTable, sameHash } from './prefixtable.ts';
import { TXID_PREFIX, TXID_ROW } from './schema.ts';
import { AHEAD_NO_ROW, AHEAD_ROW, type InputShapesAhead, inputShapeInto, SHAPE_ROW } from './shapes.ts';
import { Store } from './store.ts';

/** No hint for this input: resolve it through LMDB. */
export const HINT_NONE = 0;
/** No tx of the snapshot has this txid. */
export const HINT_UNKNOWN = 1;
/** The snapshot's unspent output, its tx's full txid compared ... */
export const HINT_FOUND_VERIFIED = 2;
/** ... or taken as the one tx with its 48-bit txid prefix (an index from genesis). */
export const HINT_FOUND = 3;

/** The snapshot's tip: -1 for an empty index (every txid unknown). */
export interface Snapshot {
  height: number;
  /** Internal byte order; empty when height is -1. */
  hash: Uint8Array;
}

/** One block's hints, flat arrays a worker transfers. Per non-coinbase input k, in block order: */
export interface ResolveHints {
  snapshot: Snapshot;
  /** HINT_* */
  status: Uint8Array;
  /** FOUND: the spent output's id, 8 bytes at 8k. */
  fids: Uint8Array;
  /** FOUND: its UTXO value (`value u64 LE | script`) at utxos[utxoAt[k]..utxoAt[k + 1]). */
  utxos: Uint8Array;
  utxoAt: Uint32Array;
  /** FOUND: sha256 of its script, 32 bytes at 32k. */
  spentHashes: Uint8Array;
  /**
   * Input shape rows computed for the script the worker took each input to spend: `shapePrev[k]`
   * says which (SHAPE_PREV_*); the writer takes them for inputs it resolved the same way.
   */
  shapes: InputShapesAhead;
  shapePrev: Uint8Array;
}

/** shapePrev (0: not computed): no script (an input of an output the index lacks) ... */
export const SHAPE_PREV_UNKNOWN = 1;
/** ... an output of an earlier tx of the block / the hint's UTXO. */
export const SHAPE_PREV_SAME_BLOCK = 2;
export const SHAPE_PREV_HINT = 3;

/** The arrays of `h`, for a transfer list. */
export function hintBuffers(h: ResolveHints): ArrayBuffer[] {
  const arrays = [h.snapshot.hash, h.status, h.fids, h.utxos, h.utxoAt, h.spentHashes, h.shapePrev];
  return [...arrays, h.shapes.status, h.shapes.rows].map((a) => a.buffer as ArrayBuffer);
}

/**
 * The worker's read-only view of the index it gives hints for. The index may not exist yet (a
 * catch-up into a fresh datadir): until its first commit every hint is "unknown at height -1",
 * which the writer accepts only while its commit log reaches back to the empty index.
 */
export class HintSource {
  private store: Store | null = null;
  private utxos = new Uint8Array(1 << 16);
  private shapeRows = new Uint8Array(SHAPE_ROW * 1024);
  private readonly blockTxs = new PrefixTable(4096);

  constructor(
    readonly dir: string,
    readonly network: NetworkName,
  ) {}

  /** Hints for every input of the block at `height` (`hi`: its id's high half), at a fresh snapshot. */
  read(lay: BlockLayout, height: number, hi: number, txids: Uint8Array): ResolveHints {
    const s = this.open();
    let snapshot: Snapshot = { height: -1, hash: new Uint8Array(0) };
    let base = 0;
    if (s !== null) {
      // Hints are worth most when the snapshot is as new as possible.
      (s.env as unknown as { resetReadTxn(): void }).resetReadTxn();
      s.clearCache();
      const tip = s.tip();
      if (tip !== null) snapshot = { height: tip.height, hash: tip.hash };
      base = s.base() ?? 0;
    }
    const nTx = lay.txCount;
    const nIn = lay.inFirst[nTx] - lay.inFirst[1];
    const status = new Uint8Array(nIn);
    const fids = new Uint8Array(8 * nIn);
    const spentHashes = new Uint8Array(32 * nIn);
    const utxoAt = new Uint32Array(nIn + 1);
    // A snapshot at or above this height holds another chain's block here (a reorg under way):
    // no hints, every input resolved by the writer.
    if (snapshot.height === -1) status.fill(HINT_UNKNOWN);
    else if (snapshot.height < height && s !== null)
      this.lookUp(s, lay, base > 0, status, fids, spentHashes, utxoAt);
    const utxos = this.utxos.slice(0, utxoAt[nIn]);
    const { shapes, shapePrev } = this.inputShapes(lay, hi, txids, status, utxos, utxoAt);
    return { snapshot, status, fids, utxos, utxoAt, spentHashes, shapes, shapePrev };
  }

  /**
   * Input shape rows for the scripts the inputs spend as far as this thread can tell: an earlier
   * tx of the block's output, the hint's UTXO, or none when the snapshot knows no such tx. The
   * writer checks it resolved the input the same way before taking a row.
   */
  private inputShapes(
    lay: BlockLayout,
    hi: number,
    txids: Uint8Array,
    status: Uint8Array,
    utxos: Uint8Array,
    utxoAt: Uint32Array,
  ): { shapes: InputShapesAhead; shapePrev: Uint8Array } {
    const nIn = status.length;
    const st = new Uint8Array(nIn);
    const shapePrev = new Uint8Array(nIn);
    const txs = this.blockTxs;
    txs.clear();
    let rows = 0;
    let k = 0;
    for (let p = 0; p < lay.txCount; p++) {
      const g0 = lay.inFirst[p];
      const n = p > 0 ? lay.inputs(p) : 0;
      for (let j = 0; j < n; j++, k++) {
        const at = lay.inAt[g0 + j];
        const vout = lay.vout(g0 + j);
        let prev: Uint8Array | undefined;
        const q = findTxid(txs, txids, lay.raw, at);
        if (q >= 0) {
          if (vout >= lay.outputs(q)) continue;
          prev = lay.script(lay.outFirst[q] + vout);
          shapePrev[k] = SHAPE_PREV_SAME_BLOCK;
        } else if (status[k] === HINT_FOUND || status[k] === HINT_FOUND_VERIFIED) {
          prev = utxos.subarray(utxoAt[k] + 8, utxoAt[k + 1]);
          shapePrev[k] = SHAPE_PREV_HINT;
        } else if (status[k] === HINT_UNKNOWN) shapePrev[k] = SHAPE_PREV_UNKNOWN;
        else continue;
        if (SHAPE_ROW * (rows + 1) > this.shapeRows.length) {
          const next = new Uint8Array(2 * this.shapeRows.length);
          next.set(this.shapeRows);
          this.shapeRows = next;
        }
        if (inputShapeInto(lay, hi, p, j, prev, this.shapeRows, SHAPE_ROW * rows)) {
          st[k] = AHEAD_ROW;
          rows++;
        } else st[k] = AHEAD_NO_ROW;
      }
      txs.add(txids, 32 * p);
    }
    return { shapes: { status: st, rows: this.shapeRows.slice(0, SHAPE_ROW * rows) }, shapePrev };
  }

  private lookUp(
    s: Store,
    lay: BlockLayout,
    alwaysVerify: boolean,
    status: Uint8Array,
    fids: Uint8Array,
    spentHashes: Uint8Array,
    utxoAt: Uint32Array,
  ): void {
    const lk = s.lookup.txids;
    const raw = lay.raw;
    let k = 0;
    let end = 0;
    for (let p = 1; p < lay.txCount; p++) {
      const g0 = lay.inFirst[p];
      const n = lay.inputs(p);
      for (let j = 0; j < n; j++, k++) {
        utxoAt[k] = end;
        const at = lay.inAt[g0 + j];
        const vout = lay.vout(g0 + j);
        const prefix = raw.subarray(at, at + TXID_PREFIX);
        const count = lk.find(prefix, undefined, false, Number.POSITIVE_INFINITY);
        const rows = lk.rows;
        let st = HINT_UNKNOWN;
        const verify = alwaysVerify || count > 1;
        // Newest first: of two txs with one txid (BIP-30's coinbases) the later is spendable.
        for (let i = count - 1; i >= 0; i--) {
          const r = i * TXID_ROW + TXID_PREFIX;
          const chi = readShortIdHi(rows, r);
          const pos = readShortIdLo(rows, r) >>> 16;
          if (verify) {
            const full = s.txidAt(chi >>> 8, pos);
            if (full === null || !sameHash(full, 0, raw, at)) continue;
          }
          // Known, but that output may be spent: the writer looks again.
          st = HINT_NONE;
          if (vout > EXT_MAX_INDEX) break;
          writeShortId(fids, 8 * k, chi, outputLo(pos, vout));
          const utxo = s.utxos.getBinaryFast(fids.subarray(8 * k, 8 * k + 8));
          if (utxo === undefined) continue;
          st = verify ? HINT_FOUND_VERIFIED : HINT_FOUND;
          // lmdb-js's shared get buffer: its `length` property is the value's, its real length
          // is not (so no set()).
          const len = utxo.length;
          if (end + len > this.utxos.length) {
            const next = new Uint8Array(Math.max(2 * this.utxos.length, end + len));
            next.set(this.utxos.subarray(0, end));
            this.utxos = next;
          }
          const u = this.utxos;
          for (let b = 0; b < len; b++) u[end + b] = utxo[b];
          sha256Into(u.subarray(end + 8, end + len), spentHashes, 32 * k);
          end += len;
          break;
        }
        status[k] = st;
      }
    }
    utxoAt[k] = end;
  }

  close(): void {
    const s = this.store;
    this.store = null;
    if (s !== null) void s.close();
  }

  /** The index, opened read-only on first use; null while it holds nothing yet. */
  private open(): Store | null {
    if (this.store !== null) return this.store;
    // Not even tried before LMDB's file exists: lmdb-js throws from native code when it cannot
    // open, and a native throw while this thread is being terminated aborts the process.
    if (!existsSync(join(this.dir, 'data.mdb'))) return null;
    try {
      this.store = new Store(this.dir, this.network, { readOnly: true });
    } catch {
      return null;
    }
    return this.store;
  }
}
