/**
 * Hot path: ids as (hi, lo) u32 pairs, written to and read from big-endian bytes without BigInt or
 * allocation, for the indexer's inner loops.
 */
import { DecodeError, ValueError } from '../errors.ts';
import type { ShortIdItem, ShortIdKind } from './item.ts';
import {
  EXT_MAX_INDEX,
  EXT_MAX_POSITION,
  EXT_MIN_INDEX,
  EXT_TXID_DROPPED,
  MAX_CHECKSUM,
  MAX_HEIGHT,
  MAX_ORDINARY_INDEX,
  MAX_POSITION,
  TXID_PREFIX_LIMIT,
} from './layout.ts';

function check(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new ValueError(what, `${v} is not an integer in 0..=${max}`);
  }
}

/** hi half of every on-chain id of the block: height and block-hash checksum. */
export function onchainHi(height: number, checksum: number): number {
  check('shortid.height', height, MAX_HEIGHT);
  check('shortid.checksum', checksum, MAX_CHECKSUM);
  return (height << 8) | checksum;
}

/** lo half of a block id (0) or tx id; the coinbase (position 0) shares the block's id. */
export function txLo(position: number): number {
  check('shortid.position', position, MAX_POSITION);
  return position << 16;
}

export function inputLo(position: number, index: number): number {
  check('shortid.position', position, MAX_POSITION);
  check('shortid.input', index, MAX_ORDINARY_INDEX);
  return (position << 16) | (index + 1);
}

/** lo half of an output id; outputs from 32,767 on take the extended layout. */
export function outputLo(position: number, index: number): number {
  if (index < EXT_MIN_INDEX) {
    check('shortid.position', position, MAX_POSITION);
    check('shortid.output', index, MAX_ORDINARY_INDEX);
    return ((position << 16) | 0x8000 | (index + 1)) >>> 0;
  }
  check('shortid.position', position, EXT_MAX_POSITION);
  check('shortid.output', index, EXT_MAX_INDEX);
  return (0x80000000 | (position << 17) | (index - EXT_MIN_INDEX)) >>> 0;
}

function checkPrefix(txidPrefix: number): void {
  check('shortid.txidPrefix', txidPrefix, TXID_PREFIX_LIMIT - 1);
}

/** hi half of an off-chain id; for the tx itself pass output = false, index = 0. */
export function offchainHi(txidPrefix: number, output: boolean, index: number): number {
  checkPrefix(txidPrefix);
  if (output && index >= EXT_MIN_INDEX) {
    check('shortid.output', index, EXT_MAX_INDEX);
    if (txidPrefix % EXT_TXID_DROPPED !== 0) {
      throw new ValueError(
        'shortid.txidPrefix',
        'an extended off-chain output holds only the top 30 txid bits; the low 17 of the 47 must be zero',
      );
    }
    const top30 = txidPrefix / EXT_TXID_DROPPED;
    return (0x80000000 | (top30 << 1) | ((index - EXT_MIN_INDEX) >>> 16)) >>> 0;
  }
  return (0x80000000 | Math.floor(txidPrefix / 0x10000)) >>> 0;
}

/** lo half of an off-chain tx id. */
export function offchainTxLo(txidPrefix: number): number {
  checkPrefix(txidPrefix);
  return ((txidPrefix % 0x10000) << 16) >>> 0;
}

/** lo half of an off-chain input or output id. */
export function offchainLo(txidPrefix: number, output: boolean, index: number): number {
  checkPrefix(txidPrefix);
  if (output && index >= EXT_MIN_INDEX) {
    check('shortid.output', index, EXT_MAX_INDEX);
    return ((((index - EXT_MIN_INDEX) & 0xffff) << 16) | 0x8000) >>> 0;
  }
  check(output ? 'shortid.output' : 'shortid.input', index, MAX_ORDINARY_INDEX);
  return (((txidPrefix % 0x10000) << 16) | (output ? 0x8000 : 0) | (index + 1)) >>> 0;
}

/** Writes the id big-endian (8 bytes) at offset. */
export function writeShortId(buf: Uint8Array, offset: number, hi: number, lo: number): void {
  buf[offset] = hi >>> 24;
  buf[offset + 1] = hi >>> 16;
  buf[offset + 2] = hi >>> 8;
  buf[offset + 3] = hi;
  buf[offset + 4] = lo >>> 24;
  buf[offset + 5] = lo >>> 16;
  buf[offset + 6] = lo >>> 8;
  buf[offset + 7] = lo;
}

function need(buf: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + 8 > buf.length) {
    throw new DecodeError('truncated', 'shortid', offset, `8 bytes needed, ${buf.length - offset} left`);
  }
}

export function readShortIdHi(buf: Uint8Array, offset: number): number {
  need(buf, offset);
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0;
}

export function readShortIdLo(buf: Uint8Array, offset: number): number {
  need(buf, offset);
  return ((buf[offset + 4] << 24) | (buf[offset + 5] << 16) | (buf[offset + 6] << 8) | buf[offset + 7]) >>> 0;
}

/** The only bit pattern that names nothing: on-chain, not extended, out flag set, index+1 = 0. */
function isUnassigned(hi: number, lo: number): boolean {
  return hi >>> 31 === 0 && (lo & 0x8000ffff) === 0x8000;
}

/** Kind of an id given as halves; null for the unassigned pattern. */
export function kindOfParts(hi: number, lo: number): ShortIdKind | null {
  const out = (lo & 0x8000) !== 0;
  const idx = lo & 0x7fff;
  if (hi >>> 31 === 1) {
    if (out) return 'offchain-output';
    return idx === 0 ? 'offchain-tx' : 'offchain-input';
  }
  if (lo >>> 31 === 1) return 'output';
  if (lo === 0) return 'block';
  if (idx === 0) return out ? null : 'tx';
  return out ? 'output' : 'input';
}

/** Decodes an id given as halves. Throws ValueError for the one unassigned pattern. */
export function decodeShortIdParts(hi: number, lo: number): ShortIdItem {
  hi >>>= 0;
  lo >>>= 0;
  const out = (lo & 0x8000) !== 0;
  const idx = lo & 0x7fff;
  if (hi >>> 31 === 1) {
    if (out && idx === 0) {
      const top30 = (hi >>> 1) & 0x3fffffff;
      const offset = ((hi & 1) << 16) | (lo >>> 16);
      return { kind: 'offchain-output', txidPrefix: top30 * EXT_TXID_DROPPED, index: EXT_MIN_INDEX + offset };
    }
    const txidPrefix = (hi & 0x7fffffff) * 0x10000 + (lo >>> 16);
    if (idx === 0) return { kind: 'offchain-tx', txidPrefix };
    return out
      ? { kind: 'offchain-output', txidPrefix, index: idx - 1 }
      : { kind: 'offchain-input', txidPrefix, index: idx - 1 };
  }
  const height = hi >>> 8;
  const checksum = hi & 0xff;
  if (lo >>> 31 === 1) {
    return {
      kind: 'output',
      height,
      checksum,
      position: (lo >>> 17) & 0x3fff,
      index: EXT_MIN_INDEX + (lo & 0x1ffff),
    };
  }
  if (lo === 0) return { kind: 'block', height, checksum };
  const position = lo >>> 16;
  if (idx === 0) {
    if (out) throw new ValueError('shortid', 'output flag set with index field 0: not an LNPBP-5 id');
    return { kind: 'tx', height, checksum, position };
  }
  return out
    ? { kind: 'output', height, checksum, position, index: idx - 1 }
    : { kind: 'input', height, checksum, position, index: idx - 1 };
}

/** Reads and decodes 8 big-endian bytes; the unassigned pattern is a DecodeError at offset. */
export function readShortIdItem(buf: Uint8Array, offset: number): ShortIdItem {
  const hi = readShortIdHi(buf, offset);
  const lo = readShortIdLo(buf, offset);
  if (isUnassigned(hi, lo)) {
    throw new DecodeError('invalid-value', 'shortid', offset, 'output flag set with index field 0');
  }
  return decodeShortIdParts(hi, lo);
}

/** Encodes an item to halves. Returns [hi, lo]. */
export function encodeShortIdParts(item: ShortIdItem): [number, number] {
  switch (item.kind) {
    case 'block':
      return [onchainHi(item.height, item.checksum), 0];
    case 'tx':
      return [onchainHi(item.height, item.checksum), txLo(item.position)];
    case 'input':
      return [onchainHi(item.height, item.checksum), inputLo(item.position, item.index)];
    case 'output':
      return [onchainHi(item.height, item.checksum), outputLo(item.position, item.index)];
    case 'offchain-tx':
      return [offchainHi(item.txidPrefix, false, 0), offchainTxLo(item.txidPrefix)];
    case 'offchain-input':
      return [offchainHi(item.txidPrefix, false, item.index), offchainLo(item.txidPrefix, false, item.index)];
    case 'offchain-output':
      return [offchainHi(item.txidPrefix, true, item.index), offchainLo(item.txidPrefix, true, item.index)];
    default:
      throw new ValueError('shortid.kind', `unknown kind ${(item as { kind: unknown }).kind}`);
  }
}
