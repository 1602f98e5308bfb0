/**
 * The index's on-disk layout: LMDB table names, key and value layouts, and the helpers that
 * write and read them without allocating in the hot path. docs/index-schema.md explains each
 * table and the byte budget behind it.
 *
 * Items are named by 8-byte LNPBP-5 short ids (big-endian, so LMDB byte order = chain order)
 * everywhere except the txid and extspends tables. The four packed tables hold fixed-width
 * rows in two levels (packed.ts): level 0 (dupSort + dupFixed, keyed by a row's first 2 bytes)
 * takes the blocks' writes, level 1 (sorted chunks) is what compaction rewrites them into;
 * between them, a batched catch-up writes its rows as sorted runs of chunks (runs.ts).
 */

/** Bumped when a layout changes; an index of another version is refused. */
export const SCHEMA_VERSION = 4;

export const TABLES = {
  /** Named settings: network, schema version, base height, tip, committed flat-file length. */
  meta: 'meta',
  /** u32 BE height -> block row (header, flat-file place, tx offsets). */
  blocks: 'blocks',
  /** 32-byte block hash -> u32 BE height. */
  hashes: 'hashes',
  /** Packed rows txid[0..6] | tx id (14 bytes). */
  txids: 'txids',
  /** Packed rows funding output id | spending input id (16 bytes). */
  spends: 'spends',
  /** Packed rows prev txid[0..8] | vout u32 BE | spending input id (20 bytes), for outputs the index does not hold. */
  extspends: 'extspends',
  /** Packed rows sha256(script)[0..8] | item id (16 bytes). */
  history: 'history',
  /** Output id -> value u64 LE | scriptPubKey. */
  utxos: 'utxos',
  /** dupFixed: script shape key (8) -> item id (8) | context (1) (shapes.ts). */
  shapes: 'shapes',
} as const;

/** Level-1 tables of a packed table: `<name>.0` and `<name>.1`, meta `packed` says which is live. */
export const LEVEL1_SLOTS = ['.0', '.1'] as const;
/**
 * A packed table's sorted runs (runs.ts): `<name>.r`, key run number u32 BE | the chunk's first
 * row, value a level-1 chunk. Meta `runs` lists the live runs.
 */
export const RUNS_SUFFIX = '.r';

/** Bytes of the txid kept in a txid row: 48 bits, every match confirmed against blocks.dat. */
export const TXID_PREFIX = 6;
export const TXID_ROW = TXID_PREFIX + 8;
export const SPEND_ROW = 16;
/** Bytes of the prev txid kept in an extspends row: 64 bits, every match confirmed against blocks.dat. */
export const EXT_TXID_PREFIX = 8;
export const EXTSPEND_ROW = EXT_TXID_PREFIX + 4 + 8;
/** Bytes of the script hash kept in a history row: 64 bits. */
export const HISTORY_PREFIX = 8;
export const HISTORY_ROW = HISTORY_PREFIX + 8;

export const META_NETWORK = 'network';
export const META_VERSION = 'version';
export const META_TIP = 'tip';
export const META_BASE = 'base';
export const META_FILE_END = 'fileEnd';
/**
 * Level-1 state: current slot u8 | rows the last compaction wrote there, u64 BE per packed table
 * (txids, spends, extspends, history). Absent or all zero: level 1 is empty.
 */
export const META_PACKED = 'packed';
/**
 * The live sorted runs (runs.ts), RUN_ENTRY bytes each, ascending: packed table u8 (index in
 * packedTables() order) | run number u32 BE | tier u8 (merges it went through) | rows written
 * u64 BE. Absent: no runs.
 */
export const META_RUNS = 'runs';
export const RUN_ENTRY = 14;

/**
 * Block row: header (80) | flat-file offset u64 BE (8) | block size u32 (4) | undo size u32 (4)
 * | tx count u32 (4) | per-tx offset from the block start u32 (4 each). All integers big-endian.
 * The flat-file record at `offset` is: block bytes | txids (32 each) | undo record.
 */
export const BLOCK_ROW_FIXED = 100;

export interface BlockRow {
  header: Uint8Array;
  offset: number;
  blockSize: number;
  undoSize: number;
  txCount: number;
  /** Offset of tx i within the block bytes: txOffsets[i]; the end of the last is blockSize. */
  txOffsets: Uint32Array;
}

export function encodeBlockRow(r: BlockRow): Uint8Array {
  const out = new Uint8Array(BLOCK_ROW_FIXED + 4 * r.txCount);
  const v = new DataView(out.buffer);
  out.set(r.header, 0);
  v.setUint32(80, Math.floor(r.offset / 2 ** 32));
  v.setUint32(84, r.offset >>> 0);
  v.setUint32(88, r.blockSize);
  v.setUint32(92, r.undoSize);
  v.setUint32(96, r.txCount);
  for (let i = 0; i < r.txCount; i++) v.setUint32(BLOCK_ROW_FIXED + 4 * i, r.txOffsets[i]);
  return out;
}

export function decodeBlockRow(b: Uint8Array): BlockRow {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const txCount = v.getUint32(96);
  const txOffsets = new Uint32Array(txCount);
  for (let i = 0; i < txCount; i++) txOffsets[i] = v.getUint32(BLOCK_ROW_FIXED + 4 * i);
  return {
    header: b.subarray(0, 80),
    offset: v.getUint32(80) * 2 ** 32 + v.getUint32(84),
    blockSize: v.getUint32(88),
    undoSize: v.getUint32(92),
    txCount,
    txOffsets,
  };
}

export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function readU32be(b: Uint8Array, off = 0): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

export function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.floor(n / 2 ** 32));
  v.setUint32(4, n >>> 0);
  return b;
}

export function readU64be(b: Uint8Array, off = 0): number {
  return readU32be(b, off) * 2 ** 32 + readU32be(b, off + 4);
}

/** Tip: height u32 BE | hash (32, internal order). */
export function encodeTip(height: number, hash: Uint8Array): Uint8Array {
  const b = new Uint8Array(36);
  new DataView(b.buffer).setUint32(0, height);
  b.set(hash, 4);
  return b;
}

/** UTXO value: amount u64 LE | scriptPubKey. */
export function encodeUtxo(value: bigint, script: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + script.length);
  new DataView(b.buffer).setBigUint64(0, value, true);
  b.set(script, 8);
  return b;
}

export function decodeUtxo(b: Uint8Array): { value: bigint; script: Uint8Array } {
  return {
    value: new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true),
    script: b.subarray(8),
  };
}

/** Start of an extspends row: prev txid[0..8] (internal order) | vout u32 BE (when given). */
export function extspendPrefix(txid: Uint8Array, vout?: number): Uint8Array {
  const k = new Uint8Array(EXT_TXID_PREFIX + (vout === undefined ? 0 : 4));
  k.set(txid.subarray(0, EXT_TXID_PREFIX), 0);
  if (vout !== undefined) new DataView(k.buffer).setUint32(EXT_TXID_PREFIX, vout);
  return k;
}

/** One past `prefix` read as a big-endian number, for an exclusive range end; null if all 0xff. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const e = Uint8Array.from(prefix);
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i] !== 0xff) {
      e[i]++;
      return e.subarray(0, i + 1);
    }
  }
  return null;
}
