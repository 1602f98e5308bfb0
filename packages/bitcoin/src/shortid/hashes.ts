/**
 * What ids take from 32-byte hashes. Bytes are in internal (hashed) order, strings in display order
 * (byte-reversed), following the rest of the package.
 */
import { fromHexReversed } from '../bytes/hex.ts';
import { ValueError } from '../errors.ts';
import { shortIdFromParts } from './codec.ts';
import type { OffchainItem } from './item.ts';
import { EXT_MIN_INDEX, EXT_TXID_DROPPED } from './layout.ts';
import { offchainHi, offchainLo, offchainTxLo } from './parts.ts';

function hash32(h: Uint8Array | string, what: string): Uint8Array {
  if (typeof h === 'string') {
    if (h.length !== 64) throw new ValueError(what, `expected 64 hex digits, got ${h.length}`);
    try {
      return fromHexReversed(h, what);
    } catch {
      throw new ValueError(what, 'not hex');
    }
  }
  if (!(h instanceof Uint8Array) || h.length !== 32) {
    throw new ValueError(what, 'expected 32 bytes');
  }
  return h;
}

/**
 * Block-hash checksum: XOR of all 32 bytes. The spec says "XOR of its 8 bytes", which a 32-byte
 * hash does not have; all 32 are used, so byte order does not matter.
 */
export function blockChecksum(blockHash: Uint8Array | string): number {
  const h = hash32(blockHash, 'shortid.blockHash');
  let x = 0;
  for (let i = 0; i < 32; i++) x ^= h[i];
  return x;
}

/**
 * Top 47 bits of the txid as the number its display hex spells: display byte 0 is internal byte 31.
 * So the first 11 display hex digits plus the top 3 bits of the 12th.
 */
export function txidPrefix(txid: Uint8Array | string): number {
  const h = hash32(txid, 'shortid.txid');
  const top48 =
    h[31] * 2 ** 40 + h[30] * 2 ** 32 + h[29] * 2 ** 24 + h[28] * 2 ** 16 + h[27] * 2 ** 8 + h[26];
  return Math.floor(top48 / 2);
}

export function offchainTxId(txid: Uint8Array | string): bigint {
  const p = txidPrefix(txid);
  return shortIdFromParts(offchainHi(p, false, 0), offchainTxLo(p));
}

export function offchainInputId(txid: Uint8Array | string, index: number): bigint {
  const p = txidPrefix(txid);
  return shortIdFromParts(offchainHi(p, false, index), offchainLo(p, false, index));
}

/** Outputs from 32,767 on keep only the top 30 txid bits (extended off-chain layout). */
export function offchainOutputId(txid: Uint8Array | string, index: number): bigint {
  let p = txidPrefix(txid);
  if (index >= EXT_MIN_INDEX) p -= p % EXT_TXID_DROPPED;
  return shortIdFromParts(offchainHi(p, true, index), offchainLo(p, true, index));
}

/** Whether a full txid agrees with the txid bits an off-chain item holds. */
export function offchainItemMatchesTxid(item: OffchainItem, txid: Uint8Array | string): boolean {
  const p = txidPrefix(txid);
  const extended = item.kind === 'offchain-output' && item.index >= EXT_MIN_INDEX;
  return (extended ? p - (p % EXT_TXID_DROPPED) : p) === item.txidPrefix;
}
