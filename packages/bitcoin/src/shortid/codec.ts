/** LNPBP-5 ids as bigint (the API edge): encode, decode, kind, bytes. */
import { DecodeError, ValueError } from '../errors.ts';
import type { ShortIdItem, ShortIdKind } from './item.ts';
import { EXT_MIN_INDEX } from './layout.ts';
import {
  decodeShortIdParts,
  encodeShortIdParts,
  kindOfParts,
  readShortIdHi,
  readShortIdLo,
  writeShortId,
} from './parts.ts';

const U64_MAX = (1n << 64n) - 1n;

export function shortIdFromParts(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function checkU64(id: bigint): void {
  if (typeof id !== 'bigint' || id < 0n || id > U64_MAX) {
    throw new ValueError('shortid', `${String(id)} is not a u64`);
  }
}

export function shortIdHi(id: bigint): number {
  checkU64(id);
  return Number(id >> 32n);
}

export function shortIdLo(id: bigint): number {
  checkU64(id);
  return Number(id & 0xffffffffn);
}

export function encodeShortId(item: ShortIdItem): bigint {
  const [hi, lo] = encodeShortIdParts(item);
  return shortIdFromParts(hi, lo);
}

/**
 * Decodes any u64. Every value is an id except the unassigned pattern (on-chain, not extended,
 * output flag set, index field 0), which throws ValueError. A coinbase tx decodes as its block.
 */
export function decodeShortId(id: bigint): ShortIdItem {
  return decodeShortIdParts(shortIdHi(id), shortIdLo(id));
}

/** The kind per the spec's table (plus the extension); throws ValueError for the unassigned pattern. */
export function shortIdKind(id: bigint): ShortIdKind {
  const k = kindOfParts(shortIdHi(id), shortIdLo(id));
  if (k === null) throw new ValueError('shortid', 'output flag set with index field 0: not an LNPBP-5 id');
  return k;
}

/** True for ids in one of this project's extended layouts (outputs with index >= 32,767). */
export function isExtendedShortId(id: bigint): boolean {
  const item = decodeShortId(id);
  return (item.kind === 'output' || item.kind === 'offchain-output') && item.index >= EXT_MIN_INDEX;
}

export function shortIdToBytes(id: bigint): Uint8Array {
  const out = new Uint8Array(8);
  writeShortId(out, 0, shortIdHi(id), shortIdLo(id));
  return out;
}

export function writeShortIdBig(buf: Uint8Array, offset: number, id: bigint): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + 8 > buf.length) {
    throw new ValueError('shortid', `no room for 8 bytes at offset ${offset} of ${buf.length}`);
  }
  writeShortId(buf, offset, shortIdHi(id), shortIdLo(id));
}

/** Reads 8 big-endian bytes as an id (any u64 value; decode to validate). */
export function shortIdFromBytes(buf: Uint8Array, offset = 0): bigint {
  if (!(buf instanceof Uint8Array)) throw new DecodeError('invalid-value', 'shortid', offset, 'not bytes');
  return shortIdFromParts(readShortIdHi(buf, offset), readShortIdLo(buf, offset));
}
