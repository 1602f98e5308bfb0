import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { equalBytes } from '@lnpbp/bitcoin/bytes/hex';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { readShortIdHi, readShortIdLo } from '@lnpbp/bitcoin/shortid/index';
import { type Database, open, type RootDatabase } from 'lmdb';
import { FlatFile } from './flatfile.ts';
import { RowLookup } from './lookup.ts';
import { PackedTable } from './packed.ts';
import {
  type BlockRow,
  decodeBlockRow,
  EXT_TXID_PREFIX,
  EXTSPEND_ROW,
  extspendPrefix,
  HISTORY_PREFIX,
  HISTORY_ROW,
  LEVEL1_SLOTS,
  META_BASE,
  META_FILE_END,
  META_NETWORK,
  META_PACKED,
  META_TIP,
  META_VERSION,
  readU32be,
  readU64be,
  SCHEMA_VERSION,
  SPEND_ROW,
  TABLES,
  TXID_PREFIX,
  TXID_ROW,
  u32be,
} from './schema.ts';
import { inputAt, voutAt } from './txscan.ts';

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
  readonly txids: PackedTable;
  readonly spends: PackedTable;
  readonly extspends: PackedTable;
  readonly history: PackedTable;
  /** The read path's lookups in the packed tables (lookup.ts); each keeps its own buffers. */
  readonly lookup: { txids: RowLookup; spends: RowLookup; extspends: RowLookup; history: RowLookup };
  readonly utxos: Bin;
  readonly shapes: Bin;
  readonly file: FlatFile;
  readonly readOnly: boolean;
  commitFlags: number | undefined;
  private rowCache = new Map<number, BlockRow>();
  /** Cached meta `packed` (the writer's; a read-only store reads it per lookup). */
  private packedCache: PackedState | null = null;
  /** The meta `packed` bytes packedCache was decoded from (a read-only store compares them). */
  private packedBytes: Uint8Array | null = null;
  /** A reader's packedCache was checked in this turn of the event loop (until a microtask). */
  private packedTurn = false;

  constructor(
    readonly dir: string,
    readonly network: NetworkName,
    opts: StoreOptions = {},
  ) {
    this.readOnly = opts.readOnly ?? false;
    if (!this.readOnly) mkdirSync(dir, { recursive: true });
    this.env = open({ path: dir, maxDbs: 32, readOnly: this.readOnly, pageSize: 4096 });
    const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
    const packed = { ...bin, dupSort: true, dupFixed: true };
    this.meta = this.env.openDB({ name: TABLES.meta, encoding: 'binary' });
    // Before the other tables: another schema's table of the same name may have other flags.
    try {
      this.checkMeta();
    } catch (e) {
      void this.env.close();
      throw e;
    }
    this.blocks = this.env.openDB({ name: TABLES.blocks, ...bin });
    this.hashes = this.env.openDB({ name: TABLES.hashes, ...bin });
    const table = (name: string, width: number): PackedTable => {
      const slots = LEVEL1_SLOTS.map((x) => this.env.openDB({ name: name + x, ...bin })) as [Bin, Bin];
      const l0 = allowValueRanges(this.env.openDB({ name, ...packed }));
      return new PackedTable(name, width, l0, slots, () => {
        const st = this.packedState();
        return st.rows > 0 ? slots[st.slot] : null;
      });
    };
    this.txids = table(TABLES.txids, TXID_ROW);
    this.spends = table(TABLES.spends, SPEND_ROW);
    this.extspends = table(TABLES.extspends, EXTSPEND_ROW);
    this.history = table(TABLES.history, HISTORY_ROW);
    this.lookup = {
      txids: new RowLookup(this.txids),
      spends: new RowLookup(this.spends),
      extspends: new RowLookup(this.extspends),
      history: new RowLookup(this.history),
    };
    this.utxos = this.env.openDB({ name: TABLES.utxos, ...bin });
    this.shapes = allowValueRanges(this.env.openDB({ name: TABLES.shapes, ...packed }));
    // 1 abortable | 2 synchronous commit | 0x10000 return before the flush completes.
    this.commitFlags = opts.durability === 'os' ? 0x10003 : undefined;
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

  /** Which level-1 slot is live and how many rows compaction put there. */
  packedState(): PackedState {
    if (this.packedCache !== null && !this.readOnly) return this.packedCache;
    if (this.packedCache !== null) {
      // A reader: another process may have compacted, but not within one turn of the event
      // loop (lmdb-js keeps one read snapshot until a timer after the turn): read meta once a
      // turn, and compare the bytes without a copy.
      if (this.packedTurn) return this.packedCache;
      this.startPackedTurn();
      const now = this.meta.getBinaryFast(META_PACKED);
      if (sameBytes(now, this.packedBytes)) return this.packedCache;
    } else this.startPackedTurn();
    const b = this.meta.get(META_PACKED);
    this.packedBytes = b === undefined ? null : Uint8Array.from(b);
    const tables = [0, 0, 0, 0];
    for (let i = 0; b !== undefined && i < 4; i++) tables[i] = readU64be(b, 1 + 8 * i);
    const st = { slot: b?.[0] ?? 0, rows: tables[0] + tables[1] + tables[2] + tables[3], tables };
    this.packedCache = st;
    return st;
  }

  /** The four packed tables, in dump order. */
  packedTables(): PackedTable[] {
    return [this.txids, this.spends, this.extspends, this.history];
  }

  private startPackedTurn(): void {
    if (!this.readOnly) return;
    this.packedTurn = true;
    queueMicrotask(this.endPackedTurn);
  }

  private readonly endPackedTurn = (): void => {
    this.packedTurn = false;
  };

  /** After a compaction's commit (or its abort): re-read meta `packed`. */
  forgetPackedState(): void {
    this.packedCache = null;
    this.packedBytes = null;
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
    this.packedCache = null;
    this.packedBytes = null;
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
    const lk = this.lookup.txids;
    const n = lk.find(txid.subarray(0, TXID_PREFIX), undefined, false, Number.POSITIVE_INFINITY);
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(lk.rows.slice(i * TXID_ROW + TXID_PREFIX, (i + 1) * TXID_ROW));
    return out;
  }

  /**
   * Spends of `outputId`'s outputs as (output id, input id) rows: `prefix` is a whole output
   * id, or its first 6 bytes (every ordinary output of one tx). Rows are views valid until the
   * next step.
   */
  spendRows(prefix: Uint8Array): Generator<Uint8Array> {
    return this.spends.scan(prefix);
  }

  /** Item ids (8 bytes, views) in the history of sha256(script) `scriptHash`, after `cursor`. */
  *historyIds(scriptHash: Uint8Array, cursor?: Uint8Array | null): Generator<Uint8Array> {
    const prefix = scriptHash.subarray(0, HISTORY_PREFIX);
    let from: Uint8Array | undefined;
    if (cursor) {
      from = new Uint8Array(HISTORY_ROW);
      from.set(prefix, 0);
      from.set(cursor.subarray(0, 8), HISTORY_PREFIX);
    }
    for (const r of this.history.scan(prefix, from, cursor != null)) yield r.subarray(HISTORY_PREFIX);
  }

  /**
   * Spends of outputs of `txid` (a tx the index does not hold), ascending by vout: only
   * `vout`'s when given. Rows match 64 bits of the txid; each is confirmed by reading the
   * spending input back from blocks.dat, so a prefix collision never answers.
   */
  extSpends(txid: Uint8Array, vout?: number): { vout: number; inputId: Uint8Array }[] {
    const out: { vout: number; inputId: Uint8Array }[] = [];
    const lk = this.lookup.extspends;
    const n = lk.find(extspendPrefix(txid, vout), undefined, false, Number.POSITIVE_INFINITY);
    const rows = lk.rows;
    for (let i = 0; i < n; i++) {
      const at = i * EXTSPEND_ROW;
      const v = readU32be(rows, at + EXT_TXID_PREFIX);
      const inputId = rows.slice(at + EXT_TXID_PREFIX + 4, at + EXTSPEND_ROW);
      if (this.inputSpends(inputId, txid, v)) out.push({ vout: v, inputId });
    }
    return out;
  }

  /** Whether the input `inputId` (an ordinary input id) spends txid:vout, read from its tx. */
  private inputSpends(inputId: Uint8Array, txid: Uint8Array, vout: number): boolean {
    const lo = readShortIdLo(inputId, 0);
    const raw = this.txRaw(readShortIdHi(inputId, 0) >>> 8, lo >>> 16);
    if (raw === null) return false;
    const off = inputAt(raw, (lo & 0x7fff) - 1);
    return off >= 0 && voutAt(raw, off) === vout && equalBytes(raw.subarray(off, off + 32), txid);
  }

  async close(): Promise<void> {
    this.file.close();
    await this.env.close();
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null;
  if (a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface PackedState {
  /** The live level-1 slot (0 or 1). */
  slot: number;
  /** Rows the last compaction wrote there (0: level 1 is empty). */
  rows: number;
  /** The same per packed table, in packedTables() order. */
  tables: number[];
}
