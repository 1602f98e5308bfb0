import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { type Database, open, type RootDatabase } from 'lmdb';
import { FlatFile } from './flatfile.ts';
import {
  type BlockRow,
  decodeBlockRow,
  META_BASE,
  META_FILE_END,
  META_NETWORK,
  META_TIP,
  META_VERSION,
  readU32be,
  readU64be,
  SCHEMA_VERSION,
  TABLES,
  TXID_KEY,
  u32be,
} from './schema.ts';

export type Bin = Database<Uint8Array, Uint8Array>;

export interface StoreOptions {
  readOnly?: boolean;
  /**
   * 'full' (default): the block file is fdatasync'd and every LMDB commit is flushed before
   * connectBlock returns. 'os': the block file is still synced before each commit, but an LMDB
   * commit may return before its flush (LMDB keeps earlier commits intact; a power loss can
   * lose the last few blocks, a process crash loses nothing).
   */
  durability?: 'full' | 'os';
}

export interface Tip {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
}

/**
 * LMDB opens dupSort tables with binary values but only lets a caller range over duplicate
 * values (MDB_GET_BOTH_RANGE, which every lookup in the packed tables needs) when the store has
 * an encoder object. An identity encoder satisfies it; reads stay raw binary.
 */
function allowValueRanges(db: Bin): Bin {
  (db as unknown as { encoder: unknown }).encoder = { encode: (v: Uint8Array) => v };
  return db;
}

/** The LMDB environment, its tables and the block file of one index directory. */
export class Store {
  readonly env: RootDatabase;
  readonly meta: Database<Uint8Array, string>;
  readonly blocks: Bin;
  readonly hashes: Bin;
  readonly txids: Bin;
  readonly spends: Bin;
  readonly extspends: Bin;
  readonly history: Bin;
  readonly utxos: Bin;
  readonly shapes: Bin;
  readonly file: FlatFile;
  readonly readOnly: boolean;
  commitFlags: number | undefined;
  private rowCache = new Map<number, BlockRow>();

  constructor(
    readonly dir: string,
    readonly network: NetworkName,
    opts: StoreOptions = {},
  ) {
    this.readOnly = opts.readOnly ?? false;
    if (!this.readOnly) mkdirSync(dir, { recursive: true });
    this.env = open({ path: dir, maxDbs: 16, readOnly: this.readOnly, pageSize: 4096 });
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    const packed = { ...bin, dupSort: true, dupFixed: true };
    this.meta = this.env.openDB({ name: TABLES.meta, encoding: 'binary' });
    this.blocks = this.env.openDB({ name: TABLES.blocks, ...bin });
    this.hashes = this.env.openDB({ name: TABLES.hashes, ...bin });
    this.txids = allowValueRanges(this.env.openDB({ name: TABLES.txids, ...packed }));
    this.spends = allowValueRanges(this.env.openDB({ name: TABLES.spends, ...packed }));
    this.extspends = this.env.openDB({ name: TABLES.extspends, ...bin });
    this.history = allowValueRanges(this.env.openDB({ name: TABLES.history, ...packed }));
    this.utxos = this.env.openDB({ name: TABLES.utxos, ...bin });
    this.shapes = allowValueRanges(this.env.openDB({ name: TABLES.shapes, ...packed }));
    // 1 abortable | 2 synchronous commit | 0x10000 return before the flush completes.
    this.commitFlags = opts.durability === 'os' ? 0x10003 : undefined;
    this.checkMeta();
    this.file = new FlatFile(join(dir, 'blocks.dat'), this.readOnly);
    this.file.recover(this.fileEnd());
  }

  private checkMeta(): void {
    const net = this.meta.get(META_NETWORK);
    const ver = this.meta.get(META_VERSION);
    if (net === undefined) {
      if (this.readOnly) throw new ValueError('index', `${this.dir} holds no index`);
      this.env.transactionSync(() => {
        this.meta.putSync(META_NETWORK, new TextEncoder().encode(this.network));
        this.meta.putSync(META_VERSION, u32be(SCHEMA_VERSION));
      });
      return;
    }
    const have = new TextDecoder().decode(net);
    if (have !== this.network) {
      throw new ValueError('index', `${this.dir} indexes ${have}, not ${this.network}`);
    }
    const v = ver ? readU32be(ver) : 0;
    if (v !== SCHEMA_VERSION) {
      throw new ValueError(
        'index',
        `${this.dir} has schema version ${v}; this build reads ${SCHEMA_VERSION}`,
      );
    }
  }

  /**
   * Switches how commits reach the disk from now on (see StoreOptions.durability); going back
   * to 'full' first flushes every commit made so far.
   */
  setDurability(d: 'full' | 'os'): void {
    if (d === 'full' && this.commitFlags !== undefined) this.sync();
    this.commitFlags = d === 'os' ? 0x10003 : undefined;
  }

  get durability(): 'full' | 'os' {
    return this.commitFlags === undefined ? 'full' : 'os';
  }

  /** Flushes every commit so far to disk (mdb_env_sync with force). */
  sync(): void {
    (this.env as unknown as { env: { sync(): void } }).env.sync();
  }

  tip(): Tip | null {
    const t = this.meta.get(META_TIP);
    if (t === undefined) return null;
    return { height: readU32be(t), hash: Uint8Array.from(t.subarray(4, 36)) };
  }

  /** Height of the first block indexed (0 from genesis), null while empty. */
  base(): number | null {
    const b = this.meta.get(META_BASE);
    return b === undefined ? null : readU32be(b);
  }

  fileEnd(): number {
    const e = this.meta.get(META_FILE_END);
    return e === undefined ? 0 : readU64be(e);
  }

  /** A block row of the best chain; rows are immutable while their block is connected. */
  blockRow(height: number): BlockRow | null {
    const cached = this.rowCache.get(height);
    if (cached) return cached;
    const b = this.blocks.get(u32be(height));
    if (b === undefined) return null;
    const row = decodeBlockRow(b);
    if (this.rowCache.size >= 256) this.rowCache.clear();
    this.rowCache.set(height, row);
    return row;
  }

  /** Forgets cached rows at and above `height` (after a disconnect). */
  dropRows(height: number): void {
    for (const h of this.rowCache.keys()) if (h >= height) this.rowCache.delete(h);
  }

  /** Rows can also change under a reader process; a reader calls this per request. */
  clearCache(): void {
    this.rowCache.clear();
  }

  heightOf(hash: Uint8Array): number | null {
    const h = this.hashes.get(hash);
    return h === undefined ? null : readU32be(h);
  }

  blockHash(height: number): Uint8Array | null {
    const row = this.blockRow(height);
    return row ? sha256d(row.header) : null;
  }

  /** The raw tx at (height, position), read from the block file. */
  txRaw(height: number, position: number): Uint8Array | null {
    const row = this.blockRow(height);
    if (!row || position >= row.txCount) return null;
    const start = row.txOffsets[position];
    const end = position + 1 < row.txCount ? row.txOffsets[position + 1] : row.blockSize;
    return this.file.read(row.offset + start, end - start);
  }

  /** The txid (internal order) at (height, position), from the txids stored after the block. */
  txidAt(height: number, position: number): Uint8Array | null {
    const row = this.blockRow(height);
    if (!row || position >= row.txCount) return null;
    return this.file.read(row.offset + row.blockSize + 32 * position, 32);
  }

  /**
   * Tx ids (8 bytes each, ascending) whose txid shares the 48-bit prefix of `txid`. The caller
   * confirms the full txid (txidAt) unless it knows the tx is indexed.
   */
  txidCandidates(txid: Uint8Array): Uint8Array[] {
    const start = txid.subarray(TXID_KEY, TXID_KEY + 4);
    const out: Uint8Array[] = [];
    for (const v of this.txids.getValues(txid.subarray(0, TXID_KEY), {
      start,
      end: endAfter(start),
    })) {
      out.push(v.subarray(4, 12));
    }
    return out;
  }

  async close(): Promise<void> {
    this.file.close();
    await this.env.close();
  }
}

/** Smallest value above every value starting with `prefix` (prefix | 0xff.. bytes). */
function endAfter(prefix: Uint8Array): Uint8Array {
  const e = new Uint8Array(prefix.length + 8).fill(0xff);
  e.set(prefix, 0);
  return e;
}
