import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { equalBytes } from '@lnpbp/bitcoin/bytes/hex';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { readShortIdHi, readShortIdLo } from '@lnpbp/bitcoin/shortid/index';
import { type Database, open, type RootDatabase } from 'lmdb';
import { CommitLog } from './commitlog.ts';
import { FlatFile } from './flatfile.ts';
import { RowLookup } from './lookup.ts';
import { PackedTable, type RunInfo } from './packed.ts';
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
  META_RUNS,
  META_TIP,
  META_VERSION,
  RUN_ENTRY,
  RUNS_SUFFIX,
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
  /** The writer's recent batch commits, for checking a preparing worker's hints (hints.ts). */
  readonly commits = new CommitLog();
  /** Inputs of stored outputs (or unknown ones) a batch resolved from a hint / by reading LMDB. */
  readonly resolved = { hinted: 0, read: 0 };
  private rowCache = new Map<number, BlockRow>();
  /** Meta `packed` and meta `runs`, decoded (see MetaCache). */
  private readonly packedMeta: MetaCache<PackedState>;
  private readonly runsMeta: MetaCache<RunInfo[][]>;

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
    this.packedMeta = new MetaCache(this.meta, META_PACKED, this.readOnly, decodePacked);
    this.runsMeta = new MetaCache(this.meta, META_RUNS, this.readOnly, decodeRuns);
    this.blocks = this.env.openDB({ name: TABLES.blocks, ...bin });
    this.hashes = this.env.openDB({ name: TABLES.hashes, ...bin });
    let tableIndex = 0;
    const table = (name: string, width: number): PackedTable => {
      const slots = LEVEL1_SLOTS.map((x) => this.env.openDB({ name: name + x, ...bin })) as [Bin, Bin];
      const l0 = allowValueRanges(this.env.openDB({ name, ...packed }));
      const runs: Bin = this.env.openDB({ name: name + RUNS_SUFFIX, ...bin });
      const i = tableIndex++;
      return new PackedTable(
        name,
        width,
        l0,
        slots,
        () => {
          const st = this.packedState();
          return st.rows > 0 ? slots[st.slot] : null;
        },
        runs,
        () => this.runsMeta.get()[i],
      );
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
    if (v === 3 && SCHEMA_VERSION === 4 && !this.readOnly) {
      // Version 4 only added sorted runs, which a version-3 index has none of: the same tables
      // hold the same rows, so it is upgraded in place (the number first, so a version-3 build
      // refuses it from now on) instead of being indexed again.
      this.env.transactionSync(() => {
        this.meta.putSync(META_VERSION, u32be(SCHEMA_VERSION));
      });
      return;
    }
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
    return this.packedMeta.get();
  }

  /** The four packed tables, in dump order. */
  packedTables(): PackedTable[] {
    return [this.txids, this.spends, this.extspends, this.history];
  }

  /** Sets table `t`'s live runs in meta `runs` (inside a write transaction). */
  setRuns(t: PackedTable, runs: readonly RunInfo[]): void {
    const all = this.runsMeta.get().map((r) => [...r]);
    all[this.packedTables().indexOf(t)] = [...runs].sort((a, b) => a.run - b.run);
    const n = all.reduce((k, r) => k + r.length, 0);
    if (n === 0) this.meta.removeSync(META_RUNS);
    else this.meta.putSync(META_RUNS, encodeRuns(all, n));
    // Re-read on next use: inside the transaction that sees the new value, after an abort the old.
    this.runsMeta.forget();
  }

  /** After a compaction's or a batch's commit (or abort): re-read meta `packed` and `runs`. */
  forgetPackedState(): void {
    this.packedMeta.forget();
    this.runsMeta.forget();
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
    this.forgetPackedState();
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

/**
 * A meta value decoded and cached. The writer's cache holds until forget(); a reader's is
 * checked once per turn of the event loop: another process may write, but not within one turn
 * (lmdb-js keeps one read snapshot until a timer after the turn), so it reads the bytes once a
 * turn and compares them without a copy.
 */
class MetaCache<T> {
  private value: T | null = null;
  private bytes: Uint8Array | null = null;
  private turn = false;

  constructor(
    private readonly meta: Database<Uint8Array, string>,
    private readonly key: string,
    private readonly readOnly: boolean,
    private readonly decode: (b: Uint8Array | undefined) => T,
  ) {}

  get(): T {
    if (this.value !== null && !this.readOnly) return this.value;
    if (this.value !== null) {
      if (this.turn) return this.value;
      this.startTurn();
      const now = this.meta.getBinaryFast(this.key);
      if (sameBytes(now, this.bytes)) return this.value;
    } else this.startTurn();
    const b = this.meta.get(this.key);
    this.bytes = b === undefined ? null : Uint8Array.from(b);
    this.value = this.decode(b);
    return this.value;
  }

  forget(): void {
    this.value = null;
    this.bytes = null;
  }

  private startTurn(): void {
    if (!this.readOnly) return;
    this.turn = true;
    queueMicrotask(this.endTurn);
  }

  private readonly endTurn = (): void => {
    this.turn = false;
  };
}

function decodePacked(b: Uint8Array | undefined): PackedState {
  const tables = [0, 0, 0, 0];
  for (let i = 0; b !== undefined && i < 4; i++) tables[i] = readU64be(b, 1 + 8 * i);
  return { slot: b?.[0] ?? 0, rows: tables[0] + tables[1] + tables[2] + tables[3], tables };
}

function decodeRuns(b: Uint8Array | undefined): RunInfo[][] {
  const out: RunInfo[][] = [[], [], [], []];
  for (let at = 0; b !== undefined && at + RUN_ENTRY <= b.length; at += RUN_ENTRY) {
    out[b[at]]?.push({ run: readU32be(b, at + 1), tier: b[at + 5], rows: readU64be(b, at + 6) });
  }
  return out;
}

function encodeRuns(all: readonly (readonly RunInfo[])[], n: number): Uint8Array {
  const b = new Uint8Array(n * RUN_ENTRY);
  const v = new DataView(b.buffer);
  let at = 0;
  all.forEach((runs, t) => {
    for (const r of runs) {
      b[at] = t;
      v.setUint32(at + 1, r.run);
      b[at + 5] = r.tier;
      v.setUint32(at + 6, Math.floor(r.rows / 2 ** 32));
      v.setUint32(at + 10, r.rows >>> 0);
      at += RUN_ENTRY;
    }
  });
  return b;
}

export interface PackedState {
  /** The live level-1 slot (0 or 1). */
  slot: number;
  /** Rows the last compaction wrote there (0: level 1 is empty). */
  rows: number;
  /** The same per packed table, in packedTables() order. */
  tables: number[];
}
