/**
 * Connecting blocks in batches: several blocks verified and resolved in memory, then written in
 * ONE LMDB write transaction that moves the index from the state after the batch's parent to
 * the state after its last block (tip, blocks.dat end, every table). Per-block connect is a
 * batch of one (connect.ts).
 *
 * Inside a batch:
 * - outputs created by its blocks live in an in-memory overlay until the commit: an output
 *   created and spent inside the batch never touches the UTXO table; inputs find the txs of
 *   earlier blocks of the batch without an LMDB read;
 * - the rows of the packed tables and the UTXO deletes are collected in typed arrays and
 *   written in key order at the commit (sorted inserts are cheaper in lmdb-js); the rows of the
 *   tables the batch does not read (`spends`, `extspends`, `history`) go as one sorted run per
 *   table (runs.ts) when the batch holds more than one block;
 * - each block's `block | txids | undo` record is appended to blocks.dat as it comes; one
 *   fdatasync covers them all, before the commit that refers to them. A failed commit cuts the
 *   file back to where the batch began.
 *
 * What a batch writes is exactly what connecting its blocks one by one would write: the same
 * rows, UTXOs, undo records and block records (test: index-batch.test.ts compares dumps).
 */
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256Into } from '@lnpbp/bitcoin/hash/index';
import {
  EXT_MAX_INDEX,
  EXT_MIN_INDEX,
  inputLo,
  outputLo,
  readShortIdHi,
  readShortIdLo,
  txLo,
  writeShortId,
} from '@lnpbp/bitcoin/shortid/index';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { type Commit, sharesPrefix, spentSince } from './commitlog.ts';
import type { ConnectResult } from './connect.ts';
import { BlockRejected } from './errors.ts';
import {
  HINT_FOUND_VERIFIED,
  HINT_NONE,
  HINT_UNKNOWN,
  type ResolveHints,
  SHAPE_PREV_HINT,
  SHAPE_PREV_SAME_BLOCK,
  SHAPE_PREV_UNKNOWN,
} from './hints.ts';
import type { BlockLayout } from './layout.ts';
import type { PackedTable } from './packed.ts';
import { findTxid, PrefixTable, sameHash } from './prefixtable.ts';
import { type Prepared, type PreparedBlock, parsedBlock, tryPrepare } from './prepared.ts';
import { RowBuffer } from './rowsort.ts';
import { MIN_RUN_ROWS, writeRun } from './runs.ts';
import {
  EXT_TXID_PREFIX,
  EXTSPEND_ROW,
  encodeBlockRow,
  encodeTip,
  HISTORY_PREFIX,
  HISTORY_ROW,
  META_BASE,
  META_FILE_END,
  META_TIP,
  SPEND_ROW,
  TXID_PREFIX,
  TXID_ROW,
  u32be,
  u64be,
} from './schema.ts';
import { layoutShapeRows } from './shapes.ts';
import type { Store, Tip } from './store.ts';
import { UndoWriter } from './undo.ts';
import { checkPrev } from './verify.ts';

/** Core's IsUnspendable: OP_RETURN first, or longer than MAX_SCRIPT_SIZE. Never in the UTXO set. */
export function isUnspendable(script: Uint8Array): boolean {
  return (script.length > 0 && script[0] === 0x6a) || script.length > 10_000;
}

export interface BatchOptions {
  /** Write rows and UTXO deletes in key order (default true; false: in block order). */
  sortRows?: boolean;
  /**
   * Write `spends`, `extspends` and `history` as sorted runs (runs.ts) instead of level-0
   * puts: true always, false never. Default: a table's rows go as a run when the batch holds
   * more than one block and at least MIN_RUN_ROWS of them (a block at the tip, and a batch of
   * tiny early blocks, keep their few rows in level 0). Needs sortRows.
   */
  runs?: boolean;
}

/** Where an input's spent output was found: not in the index (an extspend) ... */
const EXTERNAL = 0;
/** ... in the UTXO table (committed before the batch) ... */
const STORED = 1;
/** ... an earlier tx of the same block ... */
const SAME_BLOCK = 2;
/** ... an output of an earlier block of the batch (the overlay). */
const BATCHED = 3;
/** findUnspent: no tx with that txid is known / one is, but that output is not unspent. */
const UNKNOWN = 4;
const SPENT = 5;
/** Block bytes from which a batch syncs blocks.dat beside its LMDB writes (flatfile.ts, syncAhead). */
const SYNC_AHEAD_BYTES = 256 * 1024;
/** Txs a batch's tables hold before they first grow: a modern block's (growing cost ~1 % of a batch). */
const TXS_AT_FIRST = 4096;
/** pos * 2^18 + vout: a number key for an output of one block (vout < 2^18, pos < 2^14). */
const OUT_KEY = 262_144;

/**
 * An output id as a Set key: height * 2^32 + lo, exact below height 2^21 (mainnet reaches it
 * in ~2045); a string above.
 */
function outKey(height: number, lo: number): number | string {
  return height < 2 ** 21 ? height * 2 ** 32 + lo : `${height}:${lo}`;
}

function idKey(id: Uint8Array, at = 0): number | string {
  return outKey(readShortIdHi(id, at) >>> 8, readShortIdLo(id, at));
}

/** dst[at..at+n) = src[from..from+n), without a view per call (rows are a few bytes). */
function copy(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
}

/**
 * The block's txs by txid prefix (entry p is tx p: txs are added in order, each after its own
 * inputs were resolved). One table reused block after block.
 */
class TxPositions {
  private readonly table = new PrefixTable(4096);
  /** The block's txids, 32 bytes each. */
  private txids: Uint8Array = new Uint8Array(0);

  reset(txids: Uint8Array): void {
    this.table.clear();
    this.txids = txids;
  }

  /** The position of the tx whose txid is t[at..at+32), or -1. */
  get(t: Uint8Array, at: number): number {
    return findTxid(this.table, this.txids, t, at);
  }

  add(p: number): void {
    this.table.add(this.txids, 32 * p);
  }
}

const txPos = new TxPositions();

/** What a block leaves for the commit besides its packed rows. */
interface PendingBlock {
  height: number;
  hash: Uint8Array;
  hi: number;
  row: Uint8Array;
  shapes: { key: Uint8Array; value: Uint8Array }[];
  /** 32 bytes per tx. */
  txids: Uint8Array;
  lay: BlockLayout;
  /** sha256 of each output script (32 bytes each). */
  outHashes: Uint8Array;
  /** Index of its first output in the batch's `live` flags. */
  firstOut: number;
}

/** A block's inputs resolved (pass 1): what apply() and the result need. */
interface Resolved {
  nIn: number;
  nOut: number;
  kinds: Uint8Array;
  /** The spent output's id per input (8 bytes each; zero for EXTERNAL). */
  fids: Uint8Array;
  /** Per BATCHED input: the spent output's index in the batch's `live` flags. */
  refs: Int32Array;
  /** sha256 of each spent output's script (32 bytes per input). */
  spentHashes: Uint8Array;
  /** Outputs spent by a later tx of the same block (pos * OUT_KEY + vout). */
  spentHere: Set<number>;
  prevScripts: (Uint8Array | undefined)[];
  prevValues: BigUint64Array;
  /** The undo record (a view of the shared writer, valid until the next block). */
  undo: Uint8Array;
  /** Per input, 1: resolved to the script the worker computed its shape row for (hints.ts). */
  take: Uint8Array | null;
}

const undo = new UndoWriter();

/**
 * One reused off-heap buffer for UTXO values: LMDB copies a value during the put, and lmdb-js
 * resolves a buffer's address once per ArrayBuffer, so a fresh small array per output would
 * cost an allocation plus a move off the V8 heap each.
 */
let utxoScratch = new Uint8Array(new ArrayBuffer(4096));
/** Output o's UTXO value, `value u64 LE | script`, copied from the block bytes. */
function utxoValue(lay: BlockLayout, o: number): Uint8Array {
  const len = lay.spkLen[o];
  const n = 8 + len;
  if (n > utxoScratch.length)
    utxoScratch = new Uint8Array(new ArrayBuffer(Math.max(n, 2 * utxoScratch.length)));
  const raw = lay.raw;
  const v = lay.outAt[o];
  for (let i = 0; i < 8; i++) utxoScratch[i] = raw[v + i];
  const at = lay.spkAt[o];
  if (len > 64) utxoScratch.set(raw.subarray(at, at + len), 8);
  else for (let i = 0; i < len; i++) utxoScratch[8 + i] = raw[at + i];
  return utxoScratch.subarray(0, n);
}

/** Reused row buffers of the commit (PackedTable.put keeps its views of the last buffer). */
const scratch = {
  txid: new Uint8Array(TXID_ROW),
  spend: new Uint8Array(SPEND_ROW),
  ext: new Uint8Array(EXTSPEND_ROW),
  hist: new Uint8Array(HISTORY_ROW),
  id: new Uint8Array(new ArrayBuffer(8)),
};

/**
 * Blocks to be written in one transaction. add() verifies and resolves a block against the
 * committed index plus the blocks added before it; commit() writes them all. Nothing reaches
 * LMDB before commit(), so readers (and other processes) see the index as it was until then.
 */
export class ConnectBatch {
  private readonly startOffset: number;
  /** The committed tip the batch started on. */
  private readonly committed: Tip | null;
  private tip: Tip | null;
  private base: number | null;
  private readonly storedBase: boolean;
  /**
   * The txs of the blocks added so far (a tx of an earlier block is found here by txid), entry
   * e's block (index in `pending`), position in it, and index of its output 0 in `live`.
   */
  private readonly txs = new PrefixTable(TXS_AT_FIRST);
  private txBlock = new Uint32Array(TXS_AT_FIRST);
  private txAt = new Uint32Array(TXS_AT_FIRST);
  private txOut = new Uint32Array(TXS_AT_FIRST);
  /**
   * Per output the batch created, in order: 1 while it is an unspent UTXO (spendable, not
   * spent since). What the UTXO table gets at the commit; spends inside the batch clear it.
   */
  private live = new Uint8Array(65_536);
  private outCount = 0;
  /** Stored UTXOs the batch spent (deleted at the commit). */
  private readonly spentStored = new Set<number | string>();
  private readonly dels = new RowBuffer(8);
  /**
   * Each table's rows end in an item id, pushed in chain order (apply goes block by block, tx
   * by tx, inputs before outputs, as ids order them), so the sort needs only the bytes before
   * it: about half the radix passes. An extended output id sorts after its block's ordinary
   * ids, not in push order: a batch holding one sorts `history` rows whole.
   */
  private readonly txRows = new RowBuffer(TXID_ROW, 4096, TXID_PREFIX);
  private readonly spendRows = new RowBuffer(SPEND_ROW, 4096, 8);
  private readonly extRows = new RowBuffer(EXTSPEND_ROW, 4096, EXT_TXID_PREFIX + 4);
  private readonly histRows = new RowBuffer(HISTORY_ROW, 8192, HISTORY_PREFIX);
  private readonly pending: PendingBlock[] = [];
  private results: ConnectResult[] = [];
  private state: 'open' | 'committed' | 'aborted' = 'open';
  /** Block bytes added so far. */
  bytes = 0;

  constructor(
    private readonly s: Store,
    private readonly opts: BatchOptions = {},
    private readonly onClose: () => void = () => {},
  ) {
    if (s.readOnly) throw new Error('index opened read-only');
    this.startOffset = s.file.length;
    this.tip = s.tip();
    this.committed = this.tip;
    this.base = s.base();
    this.storedBase = this.base !== null;
  }

  /** Blocks added and not yet committed. */
  get blocks(): number {
    return this.pending.length;
  }

  /** Height the next block must have (null: any, the index and batch are empty). */
  get nextHeight(): number | null {
    return this.tip === null ? null : this.tip.height + 1;
  }

  /**
   * Verifies `raw` as the block at `height` on top of the batch's tip, resolves its inputs and
   * appends its record to blocks.dat (not synced yet). A block that fails a check throws
   * BlockRejected and leaves the batch as it was (the blocks before it can still be committed).
   * The result is the block's, valid once the batch commits.
   */
  add(raw: Uint8Array, height: number): ConnectResult {
    this.checkHeight(height);
    return this.addPrepared(raw, height, tryPrepare(raw, height));
  }

  /**
   * add() of a block prepared already (prepared.ts; by a worker, pipeline.ts): its rejection,
   * if preparing found one, is thrown here, in the order add() checks.
   */
  addPrepared(raw: Uint8Array, height: number, prepared: Prepared): ConnectResult {
    this.checkHeight(height);
    if ('failed' in prepared) throw prepared.failed;
    if ('rejected' in prepared && prepared.rejected.code === 'decode') throw prepared.rejected;
    const tip = this.tip;
    if (tip !== null) checkPrev(raw, height, tip.hash);
    if ('rejected' in prepared) throw prepared.rejected;
    const p = prepared.ok;
    const { hash, hi, layout } = p;
    const base = this.base ?? height;
    const r = this.resolve(p, height, base > 0);
    const shapes = layoutShapeRows(layout, hi, r.prevScripts, p.outShapes, p.hints?.shapes ?? null, r.take);
    const row = this.record(raw, p, r.undo);
    const pb: PendingBlock = {
      height,
      hash,
      hi,
      row,
      shapes,
      txids: p.txids,
      lay: layout,
      outHashes: p.outHashes,
      firstOut: this.outCount,
    };
    this.pending.push(pb);
    this.apply(p, r);
    this.tip = { height, hash };
    this.base ??= height;
    this.bytes += raw.length;
    const result = connectResult(raw, p, height, r);
    this.results.push(result);
    return result;
  }

  private checkHeight(height: number): void {
    if (this.state !== 'open') throw new Error(`the batch is ${this.state}`);
    const tip = this.tip;
    if (tip !== null && height !== tip.height + 1) {
      throw new BlockRejected('bad-height', height, `the tip is at ${tip.height}`);
    }
  }

  /** Pass 1: resolves every input of the block to the output it spends, changing nothing. */
  private resolve(prep: PreparedBlock, height: number, external: boolean): Resolved {
    const { layout: lay, hi, txids } = prep;
    const nTx = lay.txCount;
    const nIn = lay.inFirst[nTx] - lay.inFirst[1];
    const nOut = lay.outFirst[nTx];
    const kinds = new Uint8Array(nIn);
    const fids = new Uint8Array(nIn * 8);
    const refs = new Int32Array(nIn);
    const spentHashes = new Uint8Array(nIn * 32);
    txPos.reset(txids);
    this.useHints(prep.hints);
    const spentOld = new Set<number | string>();
    const spentHere = new Set<number>();
    const prevScripts: (Uint8Array | undefined)[] = new Array(nIn);
    const prevValues = new BigUint64Array(nIn);
    const shapePrev = prep.hints?.shapePrev ?? null;
    const take = shapePrev === null ? null : new Uint8Array(nIn);
    undo.reset();
    let k = 0;
    for (let p = 0; p < nTx; p++) {
      // Before its inputs: a duplicate would otherwise show up as a double spend.
      if (txPos.get(txids, 32 * p) >= 0) {
        throw new BlockRejected(
          'duplicate-tx',
          height,
          `txid ${toHex(txids.subarray(32 * p, 32 * p + 32))} twice in the block`,
        );
      }
      if (p > 0) {
        const g0 = lay.inFirst[p];
        const n = lay.inputs(p);
        for (let j = 0; j < n; j++, k++) {
          const vout = lay.vout(g0 + j);
          const q = txPos.get(lay.raw, lay.inAt[g0 + j]);
          if (q >= 0) {
            if (vout >= lay.outputs(q)) {
              throw new BlockRejected(
                'missing-input',
                height,
                `tx ${p} input ${j} spends ${q}:${vout}, no such output`,
              );
            }
            const key = q * OUT_KEY + vout;
            if (spentHere.has(key))
              throw new BlockRejected('double-spend', height, `tx ${q}:${vout} spent twice`);
            spentHere.add(key);
            const o = lay.outFirst[q] + vout;
            const script = lay.script(o);
            const value = lay.value(o);
            writeShortId(fids, k * 8, hi, outputLo(q, vout));
            kinds[k] = SAME_BLOCK;
            if (take !== null && shapePrev![k] === SHAPE_PREV_SAME_BLOCK) take[k] = 1;
            spentHashes.set(prep.outHashes.subarray(32 * o, 32 * o + 32), k * 32);
            prevScripts[k] = script;
            prevValues[k] = value;
            undo.spent(fids.subarray(k * 8, k * 8 + 8), value, script);
            continue;
          }
          const prevTxid = lay.prevTxid(g0 + j);
          const f = this.findUnspent(prevTxid, vout, external, fids, k);
          if (f === UNKNOWN || f === SPENT) {
            if (f === UNKNOWN && external) {
              kinds[k] = EXTERNAL;
              if (take !== null && shapePrev![k] === SHAPE_PREV_UNKNOWN) take[k] = 1;
              undo.external();
              continue;
            }
            throw new BlockRejected(
              'missing-input',
              height,
              `tx ${p} input ${j}: output ${toHex(Uint8Array.from(prevTxid).reverse())}:${vout} ${f === UNKNOWN ? 'is unknown' : 'is spent or does not exist'}`,
            );
          }
          const fk = idKey(fids, k * 8);
          if (spentOld.has(fk)) {
            throw new BlockRejected(
              'double-spend',
              height,
              `output ${toHex(fids.subarray(k * 8, k * 8 + 8))} spent twice`,
            );
          }
          spentOld.add(fk);
          kinds[k] = f;
          if (take !== null && this.foundByHint && shapePrev![k] === SHAPE_PREV_HINT) take[k] = 1;
          const script = this.foundScript;
          if (f === BATCHED || this.foundHashed) {
            if (f === BATCHED) refs[k] = this.foundRef;
            // The output's block, or the worker that found it, hashed its script already.
            const h = this.foundHashes;
            const at = this.foundHashAt;
            for (let i = 0; i < 32; i++) spentHashes[k * 32 + i] = h[at + i];
          } else sha256Into(script, spentHashes, k * 32);
          prevScripts[k] = script;
          prevValues[k] = this.foundValue;
          undo.spent(fids.subarray(k * 8, k * 8 + 8), this.foundValue, script);
        }
      }
      txPos.add(p);
    }

    return {
      nIn,
      nOut,
      kinds,
      fids,
      refs,
      spentHashes,
      spentHere,
      prevScripts,
      prevValues,
      undo: undo.bytes(),
      take,
    };
  }

  /** Appends the block's record (block | txids | undo) to blocks.dat; returns its block row. */
  private record(raw: Uint8Array, prep: PreparedBlock, undoBytes: Uint8Array): Uint8Array {
    // The block file record: block | txids | undo (synced at the commit, before it).
    const at = this.s.file.length;
    let offset: number;
    try {
      offset = this.s.file.append([raw, prep.txids, undoBytes]);
    } catch (e) {
      this.s.file.truncate(at);
      throw e;
    }
    return encodeBlockRow({
      header: raw.subarray(0, 80),
      offset,
      blockSize: raw.length,
      undoSize: undoBytes.length,
      txCount: prep.layout.txCount,
      txOffsets: prep.txOffsets,
    });
  }

  /** Adds a resolved block's rows, UTXO changes and txs to the batch (nothing here can fail). */
  private apply(prep: PreparedBlock, res: Resolved): void {
    const { layout: lay, hi, txids, outHashes } = prep;
    const { kinds, fids, spentHashes, spentHere } = res;
    let r: number;
    if (this.outCount + res.nOut > this.live.length) {
      const next = new Uint8Array(Math.max(2 * this.live.length, this.outCount + res.nOut));
      next.set(this.live.subarray(0, this.outCount));
      this.live = next;
    }
    const live = this.live;
    let out0 = this.outCount;
    // apply() runs after the block joined `pending`.
    const block = this.pending.length - 1;
    let k = 0;
    for (let p = 0; p < lay.txCount; p++) {
      r = this.txRows.push();
      copy(this.txRows.buf, r, txids, 32 * p, TXID_PREFIX);
      writeShortId(this.txRows.buf, r + TXID_PREFIX, hi, txLo(p));
      if (p > 0) {
        const g0 = lay.inFirst[p];
        const n = lay.inputs(p);
        for (let j = 0; j < n; j++, k++) {
          const kind = kinds[k];
          if (kind === EXTERNAL) {
            const b = this.extRows;
            r = b.push();
            copy(b.buf, r, lay.raw, lay.inAt[g0 + j], EXT_TXID_PREFIX);
            const vout = lay.vout(g0 + j);
            const v = r + EXT_TXID_PREFIX;
            b.buf[v] = vout >>> 24;
            b.buf[v + 1] = vout >>> 16;
            b.buf[v + 2] = vout >>> 8;
            b.buf[v + 3] = vout;
            writeShortId(b.buf, v + 4, hi, inputLo(p, j));
            continue;
          }
          r = this.spendRows.push();
          copy(this.spendRows.buf, r, fids, k * 8, 8);
          writeShortId(this.spendRows.buf, r + 8, hi, inputLo(p, j));
          r = this.histRows.push();
          copy(this.histRows.buf, r, spentHashes, k * 32, HISTORY_PREFIX);
          writeShortId(this.histRows.buf, r + HISTORY_PREFIX, hi, inputLo(p, j));
          if (kind === BATCHED) this.live[res.refs[k]] = 0;
          else if (kind === STORED) {
            this.spentStored.add(idKey(fids, k * 8));
            r = this.dels.push();
            copy(this.dels.buf, r, fids, k * 8, 8);
          }
        }
      }
      const o0 = lay.outFirst[p];
      const nOut = lay.outputs(p);
      if (nOut > EXT_MIN_INDEX) this.histRows.keyBytes = HISTORY_ROW;
      for (let i = 0; i < nOut; i++) {
        const lo = outputLo(p, i);
        r = this.histRows.push();
        copy(this.histRows.buf, r, outHashes, 32 * (o0 + i), HISTORY_PREFIX);
        writeShortId(this.histRows.buf, r + HISTORY_PREFIX, hi, lo);
        if (spentHere.size > 0 && spentHere.has(p * OUT_KEY + i)) continue;
        if (!lay.unspendable(o0 + i)) live[out0 + i] = 1;
      }
      const e = this.txs.add(txids, 32 * p);
      if (e === this.txAt.length) this.growTxs();
      this.txBlock[e] = block;
      this.txAt[e] = p;
      this.txOut[e] = out0;
      out0 += nOut;
    }
    this.outCount = out0;
  }

  private growTxs(): void {
    const n = 2 * this.txAt.length;
    for (const k of ['txBlock', 'txAt', 'txOut'] as const) {
      const next = new Uint32Array(n);
      next.set(this[k]);
      this[k] = next;
    }
  }

  /** The value and script of the output findUnspent found last. */
  private foundValue = 0n;
  private foundScript: Uint8Array = new Uint8Array(0);
  /** Its index in `live` when BATCHED. */
  private foundRef = 0;
  /** ... and where its script's sha256 is (the outHashes of its block). */
  private foundHashes: Uint8Array = new Uint8Array(0);
  private foundHashAt = 0;
  /** foundHashes holds the found output's script hash (BATCHED, or STORED through a hint). */
  private foundHashed = false;
  /** The output was the one the block's hint named (its script the one the worker saw). */
  private foundByHint = false;
  /** The block's hints and the commits since their snapshot; null: resolve through LMDB. */
  private hints: ResolveHints | null = null;
  private hintValues: DataView | null = null;
  private hintCommits: readonly Commit[] = [];

  /**
   * Takes a block's hints (hints.ts) if they can be checked: the index still holds their
   * snapshot's tip, and the commit log covers every commit since.
   */
  private useHints(h: ResolveHints | null): void {
    this.hints = null;
    if (h === null) return;
    const snap = h.snapshot;
    const committed = this.committed;
    const tip = committed?.height ?? -1;
    if (snap.height >= 0) {
      const hash = snap.height === tip ? committed!.hash : this.s.blockHash(snap.height);
      if (hash === null || !sameHash(hash, 0, snap.hash, 0)) return;
    }
    const cs = this.s.commits.since(snap.height, tip);
    if (cs === null) return;
    this.hints = h;
    this.hintValues = new DataView(h.utxos.buffer, h.utxos.byteOffset, h.utxos.byteLength);
    this.hintCommits = cs;
  }

  /**
   * findUnspent's answer from input k's hint, or -1: no hint, or one that what was committed
   * since the snapshot, or what this batch spent, may make wrong.
   */
  private fromHint(
    txid: Uint8Array,
    vout: number,
    k: number,
    known: boolean,
    sharing: number,
    ids: Uint8Array,
  ): number {
    const h = this.hints!;
    const st = h.status[k];
    const cs = this.hintCommits;
    if (cs.length > 0 && sharesPrefix(cs, txid, 0)) return this.fromCommits(txid, vout, k, ids);
    if (st === HINT_NONE) return -1;
    if (st === HINT_UNKNOWN) return known ? SPENT : UNKNOWN;
    // Taken as the one tx with that prefix: unless one of the batch shares it.
    if (st !== HINT_FOUND_VERIFIED && sharing > 0) return -1;
    const fids = h.fids;
    const key = outKey(readShortIdHi(fids, 8 * k) >>> 8, readShortIdLo(fids, 8 * k));
    if (this.spentStored.size > 0 && this.spentStored.has(key)) return -1;
    if (cs.length > 0 && spentSince(cs, key)) return -1;
    copy(ids, 8 * k, fids, 8 * k, 8);
    const u0 = h.utxoAt[k];
    this.foundValue = this.hintValues!.getBigUint64(u0, true);
    this.foundScript = h.utxos.subarray(u0 + 8, h.utxoAt[k + 1]);
    this.foundHashes = h.spentHashes;
    this.foundHashAt = 32 * k;
    this.foundHashed = true;
    this.foundByHint = true;
    return STORED;
  }

  /**
   * The unspent output txid:vout of a tx committed after the hint's snapshot, found in the commit
   * log's overlays (newest first, as findUnspent searches), or -1 (not there, or not unspent
   * there: LMDB decides).
   */
  private fromCommits(txid: Uint8Array, vout: number, k: number, ids: Uint8Array): number {
    const cs = this.hintCommits;
    for (let ci = cs.length - 1; ci >= 0; ci--) {
      const c = cs[ci];
      for (let e = c.txs.find(txid); e >= 0; e = c.txs.prev(e)) {
        const b = c.blocks[c.txBlock[e]];
        const pos = c.txAt[e];
        if (!sameHash(b.txids, 32 * pos, txid, 0)) continue;
        if (vout > EXT_MAX_INDEX || vout >= b.lay.outputs(pos) || c.live[c.txOut[e] + vout] === 0) return -1;
        const lo = outputLo(pos, vout);
        const key = outKey(b.height, lo);
        if (this.spentStored.size > 0 && this.spentStored.has(key)) return -1;
        if (spentSince(cs, key, ci + 1)) return -1;
        writeShortId(ids, 8 * k, b.hi, lo);
        const o = b.lay.outFirst[pos] + vout;
        this.foundValue = b.lay.value(o);
        this.foundScript = b.lay.script(o);
        this.foundHashes = b.outHashes;
        this.foundHashAt = 32 * o;
        this.foundHashed = true;
        return STORED;
      }
    }
    return -1;
  }

  /**
   * The unspent output txid:vout: the batch's own outputs first (they are later than every
   * stored one), then the stored UTXOs the batch did not spend. Writes its id at ids[at] and
   * returns BATCHED or STORED (value and script in foundValue/foundScript); SPENT when a tx
   * with that txid is known but that output is not unspent; UNKNOWN when none is. Of two txs
   * with one txid (BIP-30's coinbases) the later is spendable. A stored candidate's full txid
   * is read back when more than one tx shares its 48-bit prefix or when the index started
   * above genesis.
   */
  private findUnspent(
    txid: Uint8Array,
    vout: number,
    alwaysVerify: boolean,
    ids: Uint8Array,
    k: number,
  ): number {
    const at = 8 * k;
    this.foundHashed = false;
    this.foundByHint = false;
    let known = false;
    let sharing = 0;
    for (let e = this.txs.find(txid); e >= 0; e = this.txs.prev(e)) {
      sharing++;
      const b = this.pending[this.txBlock[e]];
      const pos = this.txAt[e];
      if (!sameHash(b.txids, 32 * pos, txid, 0)) continue;
      known = true;
      const ref = this.txOut[e] + vout;
      if (vout > EXT_MAX_INDEX || vout >= b.lay.outputs(pos) || this.live[ref] === 0) continue;
      const o = b.lay.outFirst[pos] + vout;
      writeShortId(ids, at, b.hi, outputLo(pos, vout));
      this.foundValue = b.lay.value(o);
      this.foundScript = b.lay.script(o);
      this.foundRef = ref;
      this.foundHashes = b.outHashes;
      this.foundHashAt = 32 * o;
      return BATCHED;
    }
    const s = this.s;
    if (this.hints !== null) {
      const f = this.fromHint(txid, vout, k, known, sharing, ids);
      if (f >= 0) {
        s.resolved.hinted++;
        return f;
      }
    }
    s.resolved.read++;
    const cands = s.txidCandidates(txid);
    for (let i = cands.length - 1; i >= 0; i--) {
      const c = cands[i];
      const chi = readShortIdHi(c, 0);
      const pos = readShortIdLo(c, 0) >>> 16;
      if (alwaysVerify || cands.length + sharing > 1) {
        const full = s.txidAt(chi >>> 8, pos);
        if (full === null || !sameHash(full, 0, txid, 0)) continue;
      }
      known = true;
      if (vout > EXT_MAX_INDEX) continue;
      const lo = outputLo(pos, vout);
      if (this.spentStored.size > 0 && this.spentStored.has(outKey(chi >>> 8, lo))) continue;
      writeShortId(ids, at, chi, lo);
      const utxo = s.utxos.get(ids.subarray(at, at + 8));
      if (utxo === undefined) continue;
      this.foundValue = new DataView(utxo.buffer, utxo.byteOffset, 8).getBigUint64(0, true);
      this.foundScript = utxo.subarray(8);
      return STORED;
    }
    return known ? SPENT : UNKNOWN;
  }

  /**
   * Syncs blocks.dat, then writes every added block in one LMDB transaction (the tip and the
   * file end last); returns each block's result, in order. On failure the file is cut back to
   * where the batch began, nothing is committed and the batch is closed.
   */
  commit(): ConnectResult[] {
    if (this.state !== 'open') throw new Error(`the batch is ${this.state}`);
    const s = this.s;
    const results = this.results;
    if (this.pending.length === 0) {
      this.close('committed');
      return results;
    }
    try {
      // blocks.dat is synced before the commit that refers to it; a big batch's sync runs on
      // another thread while its LMDB writes are made, and is waited for before the commit.
      let synced: (() => void) | null = null;
      if (this.bytes >= SYNC_AHEAD_BYTES) synced = s.file.syncAhead();
      else s.file.sync();
      s.env.transactionSync(() => {
        this.write();
        synced?.();
      }, s.commitFlags);
      s.commits.add({
        from: this.pending[0].height,
        to: this.pending[this.pending.length - 1].height,
        first: this.committed === null,
        txs: this.txs,
        txBlock: this.txBlock,
        txAt: this.txAt,
        txOut: this.txOut,
        live: this.live,
        blocks: this.pending,
        bytes: this.bytes,
        spent: this.spentStored,
      });
    } catch (e) {
      // meta `runs` may have been read inside the aborted transaction.
      s.forgetPackedState();
      s.file.truncate(this.startOffset);
      this.close('aborted');
      throw e;
    }
    this.close('committed');
    return results;
  }

  /** Drops the batch: blocks.dat is cut back, nothing was written to LMDB. */
  abort(): void {
    if (this.state !== 'open') return;
    this.s.file.truncate(this.startOffset);
    this.close('aborted');
  }

  private close(state: 'committed' | 'aborted'): void {
    this.state = state;
    this.results = [];
    this.onClose();
  }

  /** A write-only table's rows: as a sorted run, or into level 0 (BatchOptions.runs). */
  private putOrRun(t: PackedTable, rows: RowBuffer, row: Uint8Array, sorted: boolean): void {
    const runs = this.opts.runs ?? (this.pending.length > 1 && rows.count >= MIN_RUN_ROWS);
    if (sorted && runs) writeRun(this.s, t, rows, rows.sortedOrder());
    else putRows(t, rows, row, sorted);
  }

  private write(): void {
    const s = this.s;
    const sorted = this.opts.sortRows ?? true;
    for (const b of this.pending) {
      s.blocks.putSync(u32be(b.height), b.row, { append: true });
      s.hashes.putSync(b.hash, u32be(b.height));
    }
    // txids stays in level 0: the next batch's inputs are resolved through it.
    putRows(s.txids, this.txRows, scratch.txid, sorted);
    this.putOrRun(s.spends, this.spendRows, scratch.spend, sorted);
    this.putOrRun(s.extspends, this.extRows, scratch.ext, sorted);
    this.putOrRun(s.history, this.histRows, scratch.hist, sorted);
    const id = scratch.id;
    const dels = this.dels;
    const order = sorted ? dels.sortedOrder() : dels.pushedOrder();
    for (let i = 0; i < order.length; i++) {
      dels.copyRow(order[i], id);
      s.utxos.removeSync(id);
    }
    // Ids grow with height and, within a block, ordinary before extended: appends.
    const live = this.live;
    for (const b of this.pending) {
      const lay = b.lay;
      let late = false;
      for (let p = 0; p < lay.txCount; p++) {
        const o0 = lay.outFirst[p];
        const g = b.firstOut + o0;
        const all = lay.outputs(p);
        const n = Math.min(all, EXT_MIN_INDEX);
        if (all > n) late = true;
        for (let i = 0; i < n; i++) if (live[g + i] === 1) putUtxo(s, id, b.hi, outputLo(p, i), lay, o0 + i);
      }
      // Extended ids (outputs >= 32,767) sort after every ordinary id of the block.
      if (!late) continue;
      for (let p = 0; p < lay.txCount; p++) {
        const o0 = lay.outFirst[p];
        const g = b.firstOut + o0;
        const all = lay.outputs(p);
        for (let i = EXT_MIN_INDEX; i < all; i++) {
          if (live[g + i] === 1) putUtxo(s, id, b.hi, outputLo(p, i), lay, o0 + i);
        }
      }
    }
    for (const b of this.pending) for (const r of b.shapes) s.shapes.putSync(r.key, r.value);
    const last = this.pending[this.pending.length - 1];
    s.meta.putSync(META_TIP, encodeTip(last.height, last.hash));
    s.meta.putSync(META_FILE_END, u64be(s.file.length));
    if (!this.storedBase) s.meta.putSync(META_BASE, u32be(this.pending[0].height));
  }
}

/**
 * The block's result; its parsed `block` is the one prepared on this thread, or, when a worker
 * prepared it, parsed on first use (most catch-up listeners never ask).
 */
function connectResult(raw: Uint8Array, p: PreparedBlock, height: number, r: Resolved): ConnectResult {
  let block = p.block;
  const { txids, wtxids } = p;
  return {
    height,
    hash: p.hash,
    size: raw.length,
    txCount: p.layout.txCount,
    get block(): Block {
      block ??= parsedBlock(raw, txids, wtxids);
      return block;
    },
    inputs: r.nIn,
    outputs: r.nOut,
    prevScripts: r.prevScripts,
    prevValues: r.prevValues,
  };
}

function putUtxo(s: Store, id: Uint8Array, hi: number, lo: number, lay: BlockLayout, o: number): void {
  writeShortId(id, 0, hi, lo);
  s.utxos.putSync(id, utxoValue(lay, o), { append: true });
}

function putRows(t: PackedTable, rows: RowBuffer, row: Uint8Array, sorted: boolean): void {
  const order = sorted ? rows.sortedOrder() : rows.pushedOrder();
  for (let i = 0; i < order.length; i++) {
    rows.copyRow(order[i], row);
    t.put(row);
  }
}
