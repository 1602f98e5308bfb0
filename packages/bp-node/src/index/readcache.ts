import { sha256d } from '@lnpbp/bitcoin/hash/index';
import type { BlockRow } from './schema.ts';
import type { Store } from './store.ts';

/**
 * What queries read back from blocks.dat (txids, raw txs), kept per block so a hot block costs
 * no syscall. Every entry belongs to one decoded block row object: the store decodes a fresh
 * row after a disconnect (dropRows) or a cache clear, so an entry of a block that left the
 * chain is never answered from (its row is no longer the store's). A block's txid section is
 * loaded whole once a few of its txids were asked for; until then each is one 32-byte pread.
 * Bounded by bytes; eviction drops whole blocks, oldest loaded first.
 */
interface BlockEntry {
  readonly row: BlockRow;
  /** The block's txids (32 each, in block order) once loaded. */
  txids: Uint8Array | null;
  /** Single txid reads so far (the section is loaded at TXID_SECTION_AFTER). */
  txidReads: number;
  /** Raw txs by position (an array sized to the block: a Map lookup cost more per hot read). */
  txs: (Uint8Array | undefined)[];
  /** Single raw tx reads so far (the whole block is loaded at BLOCK_AFTER). */
  txReads: number;
  /** The whole block's bytes once loaded (then `txs` is empty: txs are views of this). */
  raw: Uint8Array | null;
  /** sha256d of the header, once asked for. */
  hash: Uint8Array | null;
  bytes: number;
}

const TXID_SECTION_AFTER = 4;
/**
 * A block whose txs are asked for one by one is read whole at this many: one pread of ~1-2 MB
 * (well under a millisecond) instead of a syscall per tx, which is what a busy block costs when
 * queries touch thousands of its txs (measured: ~0.7 s of preads for the 14,835 txs of
 * bench/query.ts's six blocks, ~5 µs per query over its first run).
 */
const BLOCK_AFTER = 16;
/** Blocks with an entry, at most. */
const MAX_BLOCKS = 4096;
/** Default byte budget of one store's read cache. */
export const READ_CACHE_BYTES = 64 << 20;

export interface ReadCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  blocks: number;
}

export class ReadCache {
  private readonly blocks = new Map<number, BlockEntry>();
  private bytes = 0;
  readonly stats = { hits: 0, misses: 0 };
  private readonly one = new Uint8Array(32);

  constructor(
    private readonly s: Store,
    private readonly budget = READ_CACHE_BYTES,
  ) {}

  private entry(height: number): BlockEntry | null {
    const row = this.s.blockRow(height);
    if (row === null) return null;
    let e = this.blocks.get(height);
    if (e !== undefined && e.row === row) return e;
    if (e !== undefined) this.drop(height, e);
    e = {
      row,
      txids: null,
      txidReads: 0,
      txs: new Array(row.txCount),
      txReads: 0,
      raw: null,
      hash: null,
      bytes: 0,
    };
    this.blocks.set(height, e);
    // Entries that hold few bytes still cost an object each: bound their number too.
    if (this.blocks.size > MAX_BLOCKS) {
      for (const [h, old] of this.blocks) {
        this.drop(h, old);
        if (this.blocks.size <= MAX_BLOCKS * 0.75) break;
      }
    }
    return e;
  }

  private drop(height: number, e: BlockEntry): void {
    this.blocks.delete(height);
    this.bytes -= e.bytes;
  }

  private charge(e: BlockEntry, n: number): void {
    e.bytes += n;
    this.bytes += n;
    if (this.bytes <= this.budget) return;
    for (const [h, old] of this.blocks) {
      if (this.bytes <= this.budget * 0.75) break;
      if (old !== e) this.drop(h, old);
    }
    if (this.bytes <= this.budget) return;
    // This block alone is over the budget: keep its txids, forget its txs.
    let txBytes = e.raw?.length ?? 0;
    for (const raw of e.txs) if (raw !== undefined) txBytes += raw.length + 64;
    e.txs = new Array(e.row.txCount);
    e.raw = null;
    e.bytes -= txBytes;
    this.bytes -= txBytes;
  }

  /** The block's txid section, loading it on the TXID_SECTION_AFTER-th ask; null until then. */
  private section(e: BlockEntry): Uint8Array | null {
    if (e.txids !== null) return e.txids;
    if (++e.txidReads < TXID_SECTION_AFTER) return null;
    const r = e.row;
    const ids = this.s.file.read(r.offset + r.blockSize, 32 * r.txCount);
    if (ids === null) return null;
    e.txids = ids;
    this.charge(e, ids.length);
    return ids;
  }

  /** Whether the tx at (height, position) has this txid. */
  txidIs(height: number, position: number, txid: Uint8Array): boolean {
    const e = this.entry(height);
    if (e === null || position >= e.row.txCount) return false;
    const ids = this.section(e);
    let buf: Uint8Array;
    let at = 32 * position;
    if (ids !== null) {
      this.stats.hits++;
      buf = ids;
    } else {
      this.stats.misses++;
      if (!this.s.file.readInto(e.row.offset + e.row.blockSize + at, this.one, 0, 32)) return false;
      buf = this.one;
      at = 0;
    }
    for (let i = 0; i < 32; i++) if (buf[at + i] !== txid[i]) return false;
    return true;
  }

  /** The txid (internal order, a copy) at (height, position). */
  txid(height: number, position: number): Uint8Array | null {
    const e = this.entry(height);
    if (e === null || position >= e.row.txCount) return null;
    const ids = this.section(e);
    if (ids !== null) {
      this.stats.hits++;
      return ids.slice(32 * position, 32 * position + 32);
    }
    this.stats.misses++;
    return this.s.file.read(e.row.offset + e.row.blockSize + 32 * position, 32);
  }

  /** The raw tx at (height, position): a view of cached bytes, not to be modified. */
  tx(height: number, position: number): Uint8Array | null {
    const e = this.entry(height);
    if (e === null || position >= e.row.txCount) return null;
    const r = e.row;
    const start = r.txOffsets[position];
    const end = position + 1 < r.txCount ? r.txOffsets[position + 1] : r.blockSize;
    if (e.raw !== null) {
      this.stats.hits++;
      return e.raw.subarray(start, end);
    }
    const hit = e.txs[position];
    if (hit !== undefined) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    if (++e.txReads >= BLOCK_AFTER) {
      const block = this.s.file.read(r.offset, r.blockSize);
      if (block !== null) {
        // The single txs read so far are now views' worth: give their bytes back.
        let txBytes = 0;
        for (const raw of e.txs) if (raw !== undefined) txBytes += raw.length + 64;
        e.txs = new Array(r.txCount);
        e.bytes -= txBytes;
        this.bytes -= txBytes;
        e.raw = block;
        this.charge(e, block.length);
        if (e.raw !== null) return block.subarray(start, end);
      }
    }
    const raw = this.s.file.read(r.offset + start, end - start);
    if (raw === null) return null;
    e.txs[position] = raw;
    this.charge(e, raw.length + 64);
    return raw;
  }

  /** The block's hash (internal order; a view, not to be modified). */
  blockHash(height: number): Uint8Array | null {
    const e = this.entry(height);
    if (e === null) return null;
    e.hash ??= sha256d(e.row.header);
    return e.hash;
  }

  /** Forgets everything (a reader that saw the chain change under it). */
  clear(): void {
    this.blocks.clear();
    this.bytes = 0;
  }

  get size(): ReadCacheStats {
    return { ...this.stats, bytes: this.bytes, blocks: this.blocks.size };
  }
}

const caches = new WeakMap<Store, ReadCache>();

/** The store's read cache (one per store, made on first use). */
export function readCache(s: Store): ReadCache {
  let c = caches.get(s);
  if (c === undefined) {
    c = new ReadCache(s);
    caches.set(s, c);
  }
  return c;
}
