/**
 * bpd's chain index: LMDB tables keyed by LNPBP-5 short ids plus an append-only block file.
 * Layout and sizes: docs/index-schema.md.
 */
import { join } from 'node:path';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import type { CompiledPattern } from '@lnpbp/bitcoin/pattern/index';
import {
  blockChecksum,
  decodeShortId,
  onchainHi,
  shortIdFromBytes,
  shortIdFromParts,
  txLo,
} from '@lnpbp/bitcoin/shortid/index';
import {
  type DescriptorOptions,
  descriptorBalance,
  descriptorHistory,
  descriptorUtxos,
} from '../match/descriptor.ts';
import { type MatchOptions, type MatchPage, matchConfirmed } from '../match/pattern.ts';
import { type BatchOptions, ConnectBatch } from './batch.ts';
import { type CompactResult, compactIndex } from './compact.ts';
import { type ConnectResult, connectBlock } from './connect.ts';
import { type DisconnectResult, disconnectTip } from './disconnect.ts';
import { dumpHash, dumpIndex } from './dump.ts';
import type { BlockPreparer } from './pipeline.ts';
import * as q from './queries.ts';
import { foldRuns } from './runs.ts';
import { Store, type StoreOptions, type Tip } from './store.ts';

export type { BatchOptions, ConnectBatch } from './batch.ts';
export type { CompactResult } from './compact.ts';
export type { ConnectResult } from './connect.ts';
export type { DisconnectResult } from './disconnect.ts';
export { BlockRejected, type RejectCode } from './errors.ts';
export { BlockPreparer, type PreparerOptions } from './pipeline.ts';
export type { ConfirmedSpend, HistoryItem, Page, UtxoItem } from './queries.ts';
export type { StoreOptions, Tip } from './store.ts';

export interface HeaderInfo {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
  /** The block's LNPBP-5 id. */
  shortId: bigint;
  header: Uint8Array;
  txCount: number;
  /** Serialized block size in bytes. */
  size: number;
}

export type TxInfo = q.TxInfo;

export type BlockSelector = number | Uint8Array;

/** Opens (creating if needed) the index under `<datadir>/index` for `network`. */
export function openIndex(datadir: string, network: NetworkName, opts: StoreOptions = {}): Index {
  return new Index(new Store(join(datadir, 'index'), network, opts));
}

export class Index {
  /** The batch being filled, if any: the index's writes wait until it commits or aborts. */
  private openBatch: ConnectBatch | null = null;

  constructor(readonly store: Store) {}

  private noBatch(what: string): void {
    if (this.openBatch !== null) throw new Error(`${what} while a connect batch is open`);
  }

  get network(): NetworkName {
    return this.store.network;
  }

  /**
   * 'os': commits return without flushing to disk (a process crash loses nothing; a power loss
   * may lose or, per LMDB's MDB_NOSYNC, damage recent commits). Back to 'full' flushes first.
   * The syncer uses 'os' for long catch-ups.
   */
  setDurability(d: 'full' | 'os'): void {
    this.store.setDurability(d);
  }

  get durability(): 'full' | 'os' {
    return this.store.durability;
  }

  /** Flushes every commit so far to disk (for 'os' durability). */
  flush(): void {
    this.store.sync();
  }

  /** The last connected block, null while empty. */
  tip(): Tip | null {
    return this.store.tip();
  }

  /** Height of the first indexed block (0 = from genesis), null while empty. */
  base(): number | null {
    return this.store.base();
  }

  /** Verifies and writes the block at height tip+1 (any height while empty). Throws BlockRejected. */
  connectBlock(raw: Uint8Array, height: number): ConnectResult {
    this.noBatch('connectBlock');
    return connectBlock(this.store, raw, height);
  }

  /**
   * Starts a batch: blocks added to it (add: verified, resolved, appended to blocks.dat) are
   * written by its commit() in ONE LMDB transaction, from one block boundary to another. For
   * catch-up; one batch at a time, and no other write (connect, disconnect, compact) until it
   * commits or aborts.
   */
  batch(opts: BatchOptions = {}): ConnectBatch {
    this.noBatch('batch');
    const b = new ConnectBatch(this.store, opts, () => {
      if (this.openBatch === b) this.openBatch = null;
    });
    this.openBatch = b;
    return b;
  }

  /**
   * Connects consecutive blocks in one transaction (a batch). When one fails verification the
   * blocks before it are committed and its BlockRejected is thrown, as block by block.
   */
  connectBlocks(
    blocks: readonly { raw: Uint8Array; height: number }[],
    opts: BatchOptions = {},
  ): ConnectResult[] {
    const b = this.batch(opts);
    try {
      for (const x of blocks) b.add(x.raw, x.height);
    } catch (e) {
      b.commit();
      throw e;
    }
    return b.commit();
  }

  /**
   * connectBlocks on two cores: `preparer`'s worker prepares the blocks (pipeline.ts) ahead of
   * this thread, which resolves, applies and commits them, a batch per `batchBlocks` blocks
   * (default all), the worker going on with the next blocks during a commit. The same writes
   * and, for a bad block, the same rejection at the same block (the blocks before it
   * committed) as connectBlocks.
   */
  async connectBlocksPrepared(
    blocks: readonly { raw: Uint8Array; height: number }[],
    preparer: BlockPreparer,
    opts: BatchOptions & { batchBlocks?: number } = {},
  ): Promise<ConnectResult[]> {
    const per = opts.batchBlocks ?? blocks.length;
    this.lookAhead(preparer);
    const results: ConnectResult[] = [];
    let i = 0;
    let b: ConnectBatch | null = null;
    try {
      while (i < blocks.length || preparer.size > 0) {
        for (; i < blocks.length && !preparer.full; i++) preparer.push(blocks[i].raw, blocks[i].height);
        const x = await preparer.take();
        b ??= this.batch(opts);
        b.addPrepared(x.raw, x.height, x.prepared);
        if (b.blocks >= per) {
          const done = b;
          b = null;
          results.push(...done.commit());
        }
      }
    } catch (e) {
      preparer.clear();
      b?.commit();
      throw e;
    }
    if (b !== null) results.push(...b.commit());
    return results;
  }

  /**
   * Lets `preparer`'s worker look up the inputs of the blocks it prepares in this index, ahead of
   * the writer (hints.ts); the writer checks every hint against what it committed since.
   */
  lookAhead(preparer: BlockPreparer): void {
    preparer.readIndex(this.store.dir, this.store.network);
  }

  /** Undoes the tip block; its non-coinbase txs are in the result for the mempool. */
  disconnectTip(): DisconnectResult {
    this.noBatch('disconnectTip');
    return disconnectTip(this.store);
  }

  blockHash(height: number): Uint8Array | null {
    return this.store.blockHash(height);
  }

  heightOf(hash: Uint8Array): number | null {
    return this.store.heightOf(hash);
  }

  private heightFor(sel: BlockSelector): number | null {
    return typeof sel === 'number' ? sel : this.store.heightOf(sel);
  }

  header(sel: BlockSelector): HeaderInfo | null {
    const height = this.heightFor(sel);
    if (height === null) return null;
    const row = this.store.blockRow(height);
    if (!row) return null;
    const hash = sha256d(row.header);
    return {
      height,
      hash,
      shortId: shortIdFromParts(onchainHi(height, blockChecksum(hash)), 0),
      header: row.header,
      txCount: row.txCount,
      size: row.blockSize,
    };
  }

  blockRaw(sel: BlockSelector): Uint8Array | null {
    const height = this.heightFor(sel);
    if (height === null) return null;
    const row = this.store.blockRow(height);
    return row ? this.store.file.read(row.offset, row.blockSize) : null;
  }

  private txInfo(height: number, position: number, id: Uint8Array | null): TxInfo | null {
    const raw = this.store.txRaw(height, position);
    const txid = this.store.txidAt(height, position);
    const blockHash = this.store.blockHash(height);
    if (raw === null || txid === null || blockHash === null) return null;
    const shortId = id
      ? shortIdFromBytes(id)
      : shortIdFromParts(onchainHi(height, blockChecksum(blockHash)), txLo(position));
    return { txid, raw, height, position, blockHash, shortId };
  }

  txByTxid(txid: Uint8Array): TxInfo | null {
    const p = q.findTx(this.store, txid);
    return p ? this.txInfo(p.height, p.position, p.id) : null;
  }

  /** A tx by its id (a block id names its coinbase); null for other kinds or another chain's id. */
  txByShortId(id: bigint): TxInfo | null {
    let item: ReturnType<typeof decodeShortId>;
    try {
      item = decodeShortId(id);
    } catch {
      return null;
    }
    if (item.kind !== 'tx' && item.kind !== 'block') return null;
    const hash = this.store.blockHash(item.height);
    if (hash === null || blockChecksum(hash) !== item.checksum) return null;
    return this.txInfo(item.height, item.kind === 'tx' ? item.position : 0, null);
  }

  /** The LNPBP-5 id of a confirmed tx. */
  shortIdOfTx(txid: Uint8Array): bigint | null {
    const p = q.findTx(this.store, txid);
    return p ? shortIdFromBytes(p.id) : null;
  }

  outspend(txid: Uint8Array, vout: number): q.ConfirmedSpend | null {
    return q.outspend(this.store, txid, vout);
  }

  outspends(txid: Uint8Array): (q.ConfirmedSpend | null)[] | null {
    return q.outspends(this.store, txid);
  }

  /** Confirmed history of sha256(scriptPubKey) (internal order), `limit` items after `cursor`. */
  history(
    scriptHash: Uint8Array,
    opts: { cursor?: Uint8Array | null; limit: number },
  ): q.Page<q.HistoryItem> {
    return q.history(this.store, scriptHash, opts);
  }

  utxos(scriptHash: Uint8Array, opts: { cursor?: Uint8Array | null; limit: number }): q.Page<q.UtxoItem> {
    return q.utxos(this.store, scriptHash, opts);
  }

  balance(scriptHash: Uint8Array): { confirmed: bigint; utxoCount: number } {
    return q.balance(this.store, scriptHash);
  }

  /** An unspent output (value, script) by txid:vout, from the UTXO set. */
  utxo(txid: Uint8Array, vout: number): { value: bigint; script: Uint8Array; shortId: bigint } | null {
    const p = q.findTx(this.store, txid);
    if (!p) return null;
    const id = q.outputId(p, vout);
    if (!id) return null;
    const u = this.store.utxos.get(id);
    if (u === undefined) return null;
    return { ...q.outputAt(this.store, id)!, shortId: shortIdFromBytes(id) };
  }

  /** Any indexed output (spent or not) by txid:vout. */
  output(txid: Uint8Array, vout: number): { value: bigint; script: Uint8Array; shortId: bigint } | null {
    const p = q.findTx(this.store, txid);
    if (!p) return null;
    const id = q.outputId(p, vout);
    if (!id) return null;
    const o = q.outputAt(this.store, id);
    return o ? { ...o, shortId: shortIdFromBytes(id) } : null;
  }

  /** Script reveals matching a miniscript/template pattern (shape table lookup; src/match/). */
  match(pattern: string | CompiledPattern, opts: MatchOptions): MatchPage {
    return matchConfirmed(this.store, pattern, opts);
  }

  /** History of every script a (watch-only) descriptor derives, gap-limited; items carry derivationIndex. */
  descriptorHistory(descriptor: string, opts: DescriptorOptions) {
    return descriptorHistory(this.store, descriptor, opts);
  }

  descriptorUtxos(descriptor: string, opts: DescriptorOptions) {
    return descriptorUtxos(this.store, descriptor, opts);
  }

  descriptorBalance(descriptor: string, opts: { gap?: number } = {}) {
    return descriptorBalance(this.store, descriptor, opts);
  }

  /**
   * Rewrites the packed tables into full, prefix-stripped level-1 pages (compact.ts): one
   * flushed transaction; answers and the dump do not change.
   */
  compact(): CompactResult {
    this.noBatch('compact');
    return compactIndex(this.store);
  }

  /**
   * Leaves each packed table at most two sorted runs (runs.ts `foldRuns`), in one write
   * transaction (durable, as compaction's): what a catch-up too short to compact after leaves for lookups to probe. Answers
   * and the dump do not change. Returns the rows rewritten and the runs there were.
   */
  foldRuns(): { rows: number; runs: number; ms: number } {
    this.noBatch('foldRuns');
    const t0 = performance.now();
    let rows = 0;
    let runs = 0;
    const s = this.store;
    for (const t of s.packedTables()) runs += t.liveRuns().length;
    if (s.packedTables().every((t) => t.liveRuns().length < 2)) return { rows, runs, ms: 0 };
    try {
      s.env.transactionSync(() => {
        for (const t of s.packedTables()) rows += foldRuns(s, t);
      });
    } finally {
      s.forgetPackedState();
    }
    return { rows, runs, ms: performance.now() - t0 };
  }

  /** Rows waiting in level 0 and rows in level 1 of the packed tables (a compaction policy reads this). */
  packedRows(): { level0: number; level1: number } {
    let level0 = 0;
    for (const t of this.store.packedTables()) level0 += t.l0Rows();
    return { level0, level1: this.store.packedState().rows };
  }

  /** Canonical line-per-row dump of every table (see dump.ts for the line forms). */
  dump(write: (line: string) => void): void {
    dumpIndex(this.store, write);
  }

  /** sha256 hex of the dump. */
  dumpHash(): string {
    return dumpHash(this.store);
  }

  /** Entries and bytes per table, the LMDB file and the block file. */
  stats(): IndexStats {
    const s = this.store;
    const tables: Record<string, TableStats> = {};
    // biome-ignore lint/suspicious/noExplicitAny: lmdb's stat object is untyped
    const stat = (db: { getStats(): unknown }) => db.getStats() as any;
    for (const [name, db] of Object.entries({
      blocks: s.blocks,
      hashes: s.hashes,
      utxos: s.utxos,
      shapes: s.shapes,
    })) {
      const st = stat(db);
      const pages = st.treeBranchPageCount + st.treeLeafPageCount + st.overflowPages;
      tables[name] = { entries: st.entryCount, pages, bytes: pages * st.pageSize };
    }
    // Packed tables: level 0, the live level 1 and the sorted runs; entries = rows.
    const packed = s.packedState();
    for (const [i, t] of s.packedTables().entries()) {
      const a = stat(t.l0);
      const b = stat(t.slots[packed.slot]);
      const c = stat(t.runsDb);
      const pages =
        a.treeBranchPageCount +
        a.treeLeafPageCount +
        a.overflowPages +
        b.treeBranchPageCount +
        b.treeLeafPageCount +
        b.overflowPages +
        c.treeBranchPageCount +
        c.treeLeafPageCount +
        c.overflowPages;
      // Level-1 rows as of the last compaction (a disconnect below it removes a few since),
      // sorted runs' rows as written (runs.ts).
      let runRows = 0;
      for (const r of t.liveRuns()) runRows += r.rows;
      const entries = a.entryCount + packed.tables[i] + runRows;
      tables[t.name] = { entries, pages, bytes: pages * a.pageSize };
    }
    // biome-ignore lint/suspicious/noExplicitAny: lmdb's stat object is untyped
    const env = s.env.getStats() as any;
    return {
      tables,
      lmdbBytes: (env.lastPageNumber + 1) * env.pageSize,
      blockFileBytes: s.file.length,
      tip: s.tip()?.height ?? null,
    };
  }

  /** Forgets cached block rows; a reader sharing the index with a writer process calls this per request. */
  refresh(): void {
    this.store.clearCache();
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

export interface TableStats {
  entries: number;
  pages: number;
  bytes: number;
}

export interface IndexStats {
  tables: Record<string, TableStats>;
  lmdbBytes: number;
  blockFileBytes: number;
  tip: number | null;
}
