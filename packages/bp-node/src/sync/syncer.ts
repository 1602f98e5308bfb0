import { EventEmitter } from 'node:events';
import { equalBytes, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import {
  BlockPreparer,
  type ConnectBatch,
  type ConnectResult,
  type DisconnectResult,
  type Index,
  type PreparerOptions,
} from '../index/index.ts';
import type { Mempool } from '../index/mempool.ts';
import type { Prepared } from '../index/prepared.ts';
import { Backoff, sleep } from '../source/backoff.ts';
import type { ChainSource } from '../source/types.ts';
import { Progress } from './progress.ts';

/** What the syncer logs through (bus's Logger fits). */
export interface SyncLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface SyncerOptions {
  /** Mirror the source's mempool into this (once at the tip). */
  mempool?: Mempool;
  /** Height of the first block to index when the index is empty (default 0). */
  startHeight?: number;
  /** Minimum interval between progress lines during catch-up (default 10 s). */
  progressMs?: number;
  /** Blocks asked of the source per getBlocks call (default 2,000). */
  batch?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Call source.start() in run() and source.stop() when run() ends (default true). */
  manageSource?: boolean;
  /**
   * A catch-up of at least this many blocks commits without flushing each block to disk
   * (Index durability 'os') and flushes once at its end (default 144; 0: never). A process
   * crash loses nothing either way; a power loss mid catch-up may cost a re-index.
   */
  noSyncCatchUp?: number;
  /** During such a catch-up, flush to disk at least this often (default 60 s). */
  noSyncFlushMs?: number;
  /**
   * After a catch-up of at least this many blocks reaches the source's tip, compact the index
   * (Index.compact: full pages, shorter rows) when the rows written since the last compaction
   * are at least `compactMinShare` of those compacted then (default 1,000 blocks; 0: never).
   */
  compactCatchUp?: number;
  /** See compactCatchUp (default 0.1). */
  compactMinShare?: number;
  /**
   * A catch-up of at least this many blocks connects them in batches: several blocks per LMDB
   * write transaction (Index.batch), each batch committed from one block boundary to another
   * (default 16; 0: every block in its own transaction). A single new block at the tip is
   * always its own transaction, and the last block of a catch-up closes its batch.
   */
  batchCatchUp?: number;
  /** A batch commits once its blocks reach this many bytes (default 32 MiB). */
  batchBytes?: number;
  /**
   * ... or this many blocks (default 16; ~25 MB of modern blocks, so mostly small early
   * blocks meet it: a batch's fixed cost, fdatasync and commit, is then 1/16 per block) ...
   */
  batchBlocks?: number;
  /** ... or when its first block was added this long ago (default 1 s). */
  batchMs?: number;
  /**
   * A batched catch-up prepares blocks (parse, verify, hashes) in a worker thread ahead of
   * this thread's resolve, apply and commit (index/pipeline.ts), with these bounds; false:
   * everything on this thread.
   */
  prepare?: PreparerOptions | false;
}

export interface RunOptions {
  /** Index up to the source's tip, then return. */
  exitAtTip?: boolean;
}

/**
 * Keeps an Index equal to a ChainSource's best chain: finds the fork point by walking back
 * with getBlockHash, disconnects down to it, fetches and connects blocks (each verified before
 * it is written), follows 'tip' events, mirrors the mempool, and backs off on errors.
 *
 * Events: 'block' (ConnectResult), 'disconnect' (DisconnectResult), 'reorg' ({ fromHeight,
 * toHeight, forkHash }), 'synced' (tip {height, hash}), 'compacted' (CompactResult), 'error' is not emitted (errors are logged
 * and retried; only run() rejects, and only for faults retrying cannot fix).
 */
export class Syncer extends EventEmitter {
  private stopping = false;
  private wake: (() => void) | null = null;
  private dirty = true;
  private atTip = false;
  private readonly backoff: Backoff;
  private readonly progress: Progress;
  private readonly opts: Required<Omit<SyncerOptions, 'mempool'>> & { mempool?: Mempool };
  private running: Promise<void> | null = null;

  constructor(
    readonly index: Index,
    readonly source: ChainSource,
    readonly log: SyncLogger,
    options: SyncerOptions = {},
  ) {
    super();
    this.opts = {
      startHeight: 0,
      progressMs: 10_000,
      batch: 2_000,
      backoffMinMs: 250,
      backoffMaxMs: 30_000,
      manageSource: true,
      noSyncCatchUp: 144,
      noSyncFlushMs: 60_000,
      compactCatchUp: 1_000,
      compactMinShare: 0.1,
      batchCatchUp: 16,
      batchBytes: 32 * 2 ** 20,
      batchBlocks: 16,
      batchMs: 1_000,
      prepare: {},
      ...options,
    };
    this.backoff = new Backoff(this.opts.backoffMinMs, this.opts.backoffMaxMs);
    this.progress = new Progress(this.opts.progressMs);
  }

  /** Runs until stop() (or, with exitAtTip, until the index reaches the source's tip). */
  run(opts: RunOptions = {}): Promise<void> {
    if (!this.running) this.running = this.loop(opts).finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    // The loop may be waiting on the source (a start() against a peer that never completes a
    // handshake, a getBlocks from a silent peer): stopping the source settles those waits.
    if (this.opts.manageSource && this.running) await this.source.stop().catch(() => {});
    await this.running;
  }

  private readonly onTip = () => {
    this.dirty = true;
    this.wake?.();
  };

  private readonly onTx = (raw: Uint8Array) => {
    if (!this.atTip || !this.opts.mempool) return;
    this.opts.mempool.add(raw);
  };

  private readonly onTxRemoved = (txid: Uint8Array) => {
    this.opts.mempool?.remove(txid, 'evicted');
  };

  private readonly onSourceError = (err: Error) => {
    this.log.warn('source error', { err: err.message });
  };

  private async loop(opts: RunOptions): Promise<void> {
    const src = this.source;
    src.on('tip', this.onTip);
    src.on('tx', this.onTx);
    src.on('txRemoved', this.onTxRemoved);
    src.on('error', this.onSourceError);
    this.dirty = true; // a new run first asks the source (tip events between runs went unheard)
    try {
      if (this.opts.manageSource) await this.startSource();
      while (!this.stopping) {
        try {
          if (this.dirty) {
            this.dirty = false;
            const reached = await this.syncOnce();
            this.backoff.reset();
            if (!reached) continue;
            if (!this.atTip) await this.enterTip();
            if (opts.exitAtTip) return;
          }
          if (!this.dirty) await this.idle();
        } catch (e) {
          if (this.stopping) break;
          if (e instanceof FatalSyncError) throw e;
          const ms = this.backoff.next();
          this.log.error('sync failed; retrying', { err: (e as Error).message, retryMs: ms });
          this.dirty = true;
          await this.sleep(ms);
        }
      }
    } finally {
      src.off('tip', this.onTip);
      src.off('tx', this.onTx);
      src.off('txRemoved', this.onTxRemoved);
      src.off('error', this.onSourceError);
      if (this.opts.manageSource) await src.stop().catch(() => {});
    }
  }

  private async startSource(): Promise<void> {
    for (;;) {
      try {
        await this.source.start();
        return;
      } catch (e) {
        if (this.stopping) return;
        const ms = this.backoff.next();
        this.log.error('source failed to start; retrying', { err: (e as Error).message, retryMs: ms });
        await this.sleep(ms);
      }
    }
  }

  private async enterTip(): Promise<void> {
    this.atTip = true;
    const tip = this.index.tip();
    this.log.info('at tip', { height: tip?.height ?? null, hash: tip ? toHexReversed(tip.hash) : null });
    const mp = this.opts.mempool;
    if (!mp) {
      this.emit('synced', tip);
      return;
    }
    const txs = await this.source.getMempool();
    let added = 0;
    for (const raw of txs) if (mp.add(raw) === 'added') added++;
    // Sources need not list parents before children: fees and scripts of early children resolve now.
    mp.resolvePending();
    this.log.info('mempool loaded', { txs: mp.size, added });
    this.emit('synced', tip);
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        resolve();
      };
      if (this.stopping || this.dirty) this.wake();
    });
  }

  private sleep(ms: number): Promise<void> {
    const ac = new AbortController();
    this.wake = () => ac.abort();
    return sleep(ms, ac.signal).finally(() => {
      this.wake = null;
    });
  }

  /**
   * One pass: reorg to the source's chain and connect up to its tip as it was when asked.
   * Returns true when the index reached that tip.
   */
  private async syncOnce(): Promise<boolean> {
    const src = this.source;
    const target = await src.getTip();
    const fork = await this.findFork(target.height);
    const tip = this.index.tip();
    if (tip !== null && tip.height > fork) this.disconnectTo(fork);
    let from = this.index.tip() === null ? this.opts.startHeight : fork + 1;
    if (from > target.height) return true;
    const firstHeight = from;
    this.progress.start(from, target.height);
    const noSync =
      this.opts.noSyncCatchUp > 0 &&
      target.height - from + 1 >= this.opts.noSyncCatchUp &&
      this.index.durability === 'full';
    if (noSync) this.index.setDurability('os');
    const batched = this.opts.batchCatchUp > 0 && target.height - from + 1 >= this.opts.batchCatchUp;
    let flushedAt = Date.now();
    let batch: ConnectBatch | null = null;
    let batchAt = 0;
    const commit = () => {
      const b = batch!;
      batch = null;
      // Every committed block gets its event even if a listener throws on an earlier one.
      let failed: { e: unknown } | null = null;
      for (const r of b.commit()) {
        try {
          this.afterConnect(r, r.size);
        } catch (e) {
          failed ??= { e };
        }
      }
      if (failed !== null) throw failed.e;
    };
    const preparer = batched && this.opts.prepare !== false ? new BlockPreparer(this.opts.prepare) : null;
    if (preparer !== null) this.index.lookAhead(preparer);
    const add = (raw: Uint8Array, height: number, prepared: Prepared | null) => {
      if (!batched) {
        this.afterConnect(this.index.connectBlock(raw, height), raw.length);
      } else {
        if (batch === null) {
          batch = this.index.batch();
          batchAt = Date.now();
        }
        if (prepared === null) batch.add(raw, height);
        else batch.addPrepared(raw, height, prepared);
        // Commit at the source's tip, and before a batch grows past its bounds.
        if (
          height === target.height ||
          batch.bytes >= this.opts.batchBytes ||
          batch.blocks >= this.opts.batchBlocks ||
          Date.now() - batchAt >= this.opts.batchMs
        ) {
          commit();
        }
      }
      from = height + 1;
      if (batch === null) afterCommit();
    };
    const afterCommit = () => {
      if (noSync && Date.now() - flushedAt >= this.opts.noSyncFlushMs) {
        this.index.flush(); // bounds what a power loss can take back
        flushedAt = Date.now();
      }
    };
    try {
      while (from <= target.height && !this.stopping) {
        const to = Math.min(target.height, from + this.opts.batch - 1);
        for await (const b of src.getBlocks(from, to)) {
          if (this.stopping) break;
          if (preparer === null) {
            add(b.raw, b.height, null);
            continue;
          }
          // The worker prepares the blocks queued while this thread connects the oldest.
          preparer.push(b.raw, b.height);
          while (preparer.full && !this.stopping) {
            const x = await preparer.take();
            add(x.raw, x.height, x.prepared);
          }
        }
        while (preparer !== null && preparer.size > 0 && !this.stopping) {
          const x = await preparer.take();
          add(x.raw, x.height, x.prepared);
        }
        if (this.stopping) break;
        if (from <= to) throw new Error(`source ended blocks ${from}..${to} early`);
      }
    } finally {
      // The blocks added so far were verified: commit them whatever ended the loop (a rejected
      // block, a source error, stop()), as block by block they would have been.
      if (batch !== null) {
        try {
          commit();
          afterCommit();
        } catch (e) {
          this.log.error('batch commit failed', { err: (e as Error).message });
        }
      }
      if (noSync) this.index.setDurability('full');
      if (preparer?.lostReason) {
        this.log.warn('block preparing worker lost; prepared on the main thread', {
          err: preparer.lostReason,
        });
      }
      await preparer?.close();
    }
    if (this.stopping) return false;
    this.progress.finish((line) => this.log.info('synced', line));
    if (this.opts.compactCatchUp > 0 && target.height - firstHeight + 1 >= this.opts.compactCatchUp) {
      this.maybeCompact();
    }
    this.foldRuns();
    return true;
  }

  /**
   * A batched catch-up too short to compact after (or one that compaction skipped) leaves its
   * rows in sorted runs, each a probe for every lookup: folded to at most two per table here.
   */
  private foldRuns(): void {
    const r = this.index.foldRuns();
    if (r.rows === 0) return;
    this.log.info('sorted runs merged', { runs: r.runs, rows: r.rows, ms: Math.round(r.ms) });
  }

  /** Compacts when enough rows wait in level 0 (docs/index-schema.md, "Compaction"). */
  private maybeCompact(): void {
    const rows = this.index.packedRows();
    if (rows.level0 === 0 || rows.level0 < this.opts.compactMinShare * rows.level1) return;
    this.log.info('compacting the index', rows);
    const r = this.index.compact();
    this.log.info('compacted', { rows: r.rows, chunks: r.chunks, ms: Math.round(r.ms) });
    this.emit('compacted', r);
  }

  private afterConnect(r: ConnectResult, size: number): void {
    // An empty mempool (all of a catch-up) has nothing to drop: the block need not be parsed.
    const mp = this.opts.mempool;
    if (mp !== undefined && mp.size > 0) mp.blockConnected(r.block);
    this.emit('block', r);
    this.progress.tick(r.height, size, (fields) => this.log.info('progress', fields));
  }

  /** Highest height where the index and the source agree (-1 / base-1 when nothing agrees). */
  private async findFork(sourceHeight: number): Promise<number> {
    const tip = this.index.tip();
    if (tip === null) return this.opts.startHeight - 1;
    const base = this.index.base() ?? 0;
    let h = Math.min(tip.height, sourceHeight);
    while (h >= base) {
      const theirs = await this.source.getBlockHash(h);
      const ours = this.index.blockHash(h);
      if (theirs !== null && ours !== null && equalBytes(theirs, ours)) return h;
      h--;
    }
    if (base === 0) {
      throw new FatalSyncError('the source does not share our genesis block: wrong network or source?');
    }
    this.log.warn('no common block above the index base; re-indexing from the base', { base });
    return base - 1;
  }

  private disconnectTo(height: number): void {
    const tip = this.index.tip()!;
    const from = tip.height;
    while ((this.index.tip()?.height ?? -1) > height) {
      const d: DisconnectResult = this.index.disconnectTip();
      this.opts.mempool?.blockDisconnected(d.block);
      this.emit('disconnect', d);
    }
    const forkHash = this.index.tip()?.hash ?? new Uint8Array(32);
    this.log.warn('reorg', { fromHeight: height + 1, toHeight: from, forkHash: toHexReversed(forkHash) });
    this.emit('reorg', { fromHeight: height + 1, toHeight: from, forkHash });
  }
}

/** A fault retrying cannot fix (the source follows another chain from genesis). */
export class FatalSyncError extends Error {
  override readonly name = 'FatalSyncError';
}
