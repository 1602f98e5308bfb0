import { EventEmitter } from 'node:events';
import { equalBytes } from '@lnpbp/bitcoin/bytes/hex';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { type BlockRef, type ChainSource, type SourceBlock, SourceError } from '../types.ts';
import { BlkIndex } from './scan.ts';

export interface BlocksSourceOptions {
  /** Core's blocks directory (holding blk*.dat and, since Core 28, xor.dat). */
  dir: string;
  network: NetworkName;
  /**
   * The live source (P2P or RPC) for the tip, the mempool and broadcasts. Blocks the files hold
   * are read from the files; the rest, and any the live chain disagrees with, come from it.
   */
  live?: ChainSource;
  /** Without a live source: how often to look for blocks Core appended (default 5 s; 0 = never). */
  pollMs?: number;
}

/**
 * Chain source reading Core's blk*.dat files directly: the fastest initial sync (no RPC, no
 * P2P framing), then hands the tip over to a live source. Every block served was hashed and
 * checked against the hash of its height on the chain being followed.
 */
export class BlocksSource extends EventEmitter implements ChainSource {
  readonly kind = 'blocks' as const;
  readonly blk: BlkIndex;
  private timer: NodeJS.Timeout | null = null;
  private readonly forward = {
    tip: () => this.emit('tip'),
    tx: (raw: Uint8Array) => this.emit('tx', raw),
    txRemoved: (txid: Uint8Array) => this.emit('txRemoved', txid),
    error: (e: Error) => this.emit('error', e),
  };

  constructor(readonly opts: BlocksSourceOptions) {
    super();
    this.blk = new BlkIndex(opts.dir, opts.network);
  }

  private get where(): string {
    return `blocks ${this.opts.dir}`;
  }

  async start(): Promise<void> {
    try {
      this.blk.scan();
    } catch (e) {
      throw new SourceError(this.where, 'protocol', (e as Error).message);
    }
    const live = this.opts.live;
    if (live) {
      for (const [ev, f] of Object.entries(this.forward)) live.on(ev as 'tip', f as () => void);
      await live.start();
    } else if ((this.opts.pollMs ?? 5000) > 0) {
      this.timer = setInterval(() => this.poll(), this.opts.pollMs ?? 5000);
      this.timer.unref();
    }
  }

  private poll(): void {
    try {
      const before = this.blk.tip?.hash;
      this.blk.scan();
      const after = this.blk.tip?.hash;
      if (after && (!before || !equalBytes(before, after))) this.emit('tip');
    } catch (e) {
      this.emit('error', new SourceError(this.where, 'protocol', (e as Error).message));
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const live = this.opts.live;
    if (live) {
      for (const [ev, f] of Object.entries(this.forward)) live.off(ev as 'tip', f);
      await live.stop();
    }
  }

  async getTip(): Promise<BlockRef> {
    if (this.opts.live) return this.opts.live.getTip();
    const t = this.blk.tip;
    if (!t) throw new SourceError(this.where, 'not-found', 'no chain from a genesis block in the blk files');
    return { height: t.height, hash: t.hash };
  }

  async getBlockHash(height: number): Promise<Uint8Array | null> {
    if (this.opts.live) return this.opts.live.getBlockHash(height);
    return this.blk.chain[height]?.hash ?? null;
  }

  /**
   * From the files while they hold the live chain: one live getBlockHash per run of file blocks
   * suffices, since a block hash commits to every ancestor; the rest from the live source.
   */
  async *getBlocks(from: number, to: number): AsyncIterable<SourceBlock> {
    const live = this.opts.live;
    const fileTo = Math.min(to, this.blk.chain.length - 1);
    let h = from;
    if (h <= fileTo) {
      const end = live ? await this.agreedUpTo(h, fileTo) : fileTo;
      for (; h <= end; h++) {
        const e = this.blk.chain[h];
        yield { height: h, hash: e.hash, raw: this.blk.block(e) };
      }
    }
    if (h > to) return;
    if (!live) throw new SourceError(this.where, 'not-found', `no block at height ${h} in the blk files`);
    yield* live.getBlocks(h, to);
  }

  /** Highest height in from..to where the files' chain equals the live chain (from - 1 if none). */
  private async agreedUpTo(from: number, to: number): Promise<number> {
    const live = this.opts.live!;
    const theirs = await live.getBlockHash(to);
    if (theirs && equalBytes(theirs, this.blk.chain[to].hash)) return to;
    // Binary search for the last agreeing height.
    let lo = from - 1;
    let hi = to;
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const t = await live.getBlockHash(mid);
      if (t && equalBytes(t, this.blk.chain[mid].hash)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async getMempool(): Promise<Uint8Array[]> {
    return this.opts.live ? this.opts.live.getMempool() : [];
  }

  async broadcast(rawTx: Uint8Array): Promise<void> {
    if (!this.opts.live)
      throw new SourceError(
        this.where,
        'rejected',
        'a blocks: source cannot broadcast without a live source',
      );
    await this.opts.live.broadcast(rawTx);
  }
}
