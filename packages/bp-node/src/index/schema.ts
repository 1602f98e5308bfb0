/**
 * The index's on-disk layout: LMDB table names, key and value layouts, and the helpers that
 * write and read them without allocating in the hot path. docs/index-schema.md explains each
 * table and the byte budget behind it.
 *
 * Items are named by 8-byte LNPBP-5 short ids (big-endian, so LMDB byte order = chain order)
 * everywhere except the txid table. In the three packed (dupSort + dupFixed) tables a row's
 * first bytes are the LMDB key and the rest is a fixed-size duplicate value: the key groups
 * ~2^16 buckets, each a sub-tree of fixed-size values with no per-value header.
 */

/** Bumped when a layout changes; an index of another version is refused. */
export const SCHEMA_VERSION = 2;

export const TABLES = {
  /** Named settings: network, schema version, base height, tip, committed flat-file length. */
  meta: 'meta',
  /** u32 BE height -> block row (header, flat-file place, tx offsets). */
  blocks: 'blocks',
  /** 32-byte block hash -> u32 BE height. */
  hashes: 'hashes',
  /** dupFixed: txid[0..2] -> txid[2..6] | tx id (12 bytes). */
  txids: 'txids',
  /** dupFixed: funding output id[0..2] -> funding output id[2..8] | spending input id (14 bytes). */
  spends: 'spends',
  /** Spends of outputs the index does not hold: prev txid (32) | vout u32 BE -> input id. */
  extspends: 'extspends',
  /** dupFixed: sha256(script)[0..2] -> sha256(script)[2..8] | item id (14 bytes). */
  history: 'history',
  /** Output id -> value u64 LE | scriptPubKey. */
  utxos: 'utxos',
  /** dupFixed: script shape key (8) -> item id (8) | context (1) (shapes.ts). */
  shapes: 'shapes',
} as const;

export const TXID_KEY = 2;
export const TXID_VALUE = 4 + 8;
export const SPEND_KEY = 2;
export const SPEND_VALUE = 6 + 8;
export const HISTORY_KEY = 2;
/** Bytes of the script hash kept in a history row (key + value part): 64 bits. */
export const HISTORY_PREFIX = 8;
export const HISTORY_VALUE = HISTORY_PREFIX - HISTORY_KEY + 8;

export const META_NETWORK = 'network';
export const META_VERSION = 'version';
export const META_TIP = 'tip';
export const META_BASE = 'base';
export const META_FILE_END = 'fileEnd';

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

/** Key of an extspends row: prev txid (internal order) | vout u32 BE. */
export function outpointKey(txid: Uint8Array, vout: number): Uint8Array {
  const k = new Uint8Array(36);
  k.set(txid, 0);
  new DataView(k.buffer).setUint32(32, vout);
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
