/**
 * BOLT-7 short_channel_id: 3 bytes block height, 3 bytes tx index, 2 bytes output index, shown
 * as "HxTxO". Conversions to LNPBP-5 need the block hash for the checksum the scid lacks.
 */
import { ValueError } from '../errors.ts';
import { decodeShortId, encodeShortId } from './codec.ts';
import { blockChecksum } from './hashes.ts';

export interface ShortChannelId {
  /** 0 ..= 2^24 - 1 */
  readonly height: number;
  /** Position of the funding tx in its block, 0 ..= 2^24 - 1. */
  readonly txIndex: number;
  /** Funding output index, 0 ..= 65,535. */
  readonly outputIndex: number;
}

function check(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new ValueError(what, `${v} is not an integer in 0..=${max}`);
  }
}

function checkScid(s: ShortChannelId): void {
  check('scid.height', s.height, 0xffffff);
  check('scid.txIndex', s.txIndex, 0xffffff);
  check('scid.outputIndex', s.outputIndex, 0xffff);
}

const SCID_TEXT = /^([0-9]{1,8})x([0-9]{1,8})x([0-9]{1,5})$/;

/** Parses "539268x845x1". */
export function parseScid(text: string): ShortChannelId {
  const m = typeof text === 'string' ? SCID_TEXT.exec(text.trim()) : null;
  if (!m) throw new ValueError('scid', `"${String(text).slice(0, 80)}" is not HxTxO (e.g. 539268x845x1)`);
  const scid = { height: Number(m[1]), txIndex: Number(m[2]), outputIndex: Number(m[3]) };
  checkScid(scid);
  return scid;
}

export function formatScid(scid: ShortChannelId): string {
  checkScid(scid);
  return `${scid.height}x${scid.txIndex}x${scid.outputIndex}`;
}

export function scidToU64(scid: ShortChannelId): bigint {
  checkScid(scid);
  return (BigInt(scid.height) << 40n) | (BigInt(scid.txIndex) << 16n) | BigInt(scid.outputIndex);
}

export function scidFromU64(u: bigint): ShortChannelId {
  if (typeof u !== 'bigint' || u < 0n || u >= 1n << 64n)
    throw new ValueError('scid', `${String(u)} is not a u64`);
  return {
    height: Number(u >> 40n),
    txIndex: Number((u >> 16n) & 0xffffffn),
    outputIndex: Number(u & 0xffffn),
  };
}

/** The LNPBP-5 output id of a channel's funding output; blockHash is that of block scid.height. */
export function scidToShortId(scid: ShortChannelId, blockHash: Uint8Array | string): bigint {
  checkScid(scid);
  return encodeShortId({
    kind: 'output',
    height: scid.height,
    checksum: blockChecksum(blockHash),
    position: scid.txIndex,
    index: scid.outputIndex,
  });
}

/** The scid of an on-chain output id (the checksum is dropped: scids have none). */
export function shortIdToScid(id: bigint): ShortChannelId {
  const item = decodeShortId(id);
  if (item.kind !== 'output') throw new ValueError('scid', `a ${item.kind} id has no short_channel_id`);
  const scid = { height: item.height, txIndex: item.position, outputIndex: item.index };
  if (scid.outputIndex > 0xffff) {
    throw new ValueError('scid', `output index ${scid.outputIndex} exceeds the scid's 16 bits`);
  }
  return scid;
}
