/**
 * Text forms of an id. Input (parseShortId) takes any of:
 *   decimal u64            "9223372036854775808"
 *   0x-hex, 1-16 digits     "0x0000000000000000"
 *   readable form:
 *     on-chain   H:cc  H:cc:P  H:cc:P:iN  H:cc:P:oN
 *                (height decimal, checksum 2 hex digits, tx position decimal, N = 0-based vin/vout)
 *     off-chain  off:hhhhhhhhhhhh  off:hhhhhhhhhhhh:iN  off:hhhhhhhhhhhh:oN
 *                (12 hex digits = the 47 txid bits shifted left once, i.e. the txid's first 12
 *                display digits with the last bit cleared)
 *                off:hhhhhhhh:oN  extended output, N >= 32767 (8 digits = 30 txid bits, shifted
 *                left twice)
 *                off:<64-digit txid>[:iN|:oN]  input only: the full txid, reduced to the bits kept
 * Output: formatShortId gives the readable form, shortIdHex the 0x form with 16 digits.
 */
import { ValueError } from '../errors.ts';
import { decodeShortId, encodeShortId } from './codec.ts';
import { offchainInputId, offchainOutputId, offchainTxId } from './hashes.ts';
import type { ShortIdItem } from './item.ts';
import { EXT_MIN_INDEX, EXT_TXID_DROPPED } from './layout.ts';

const U64_MAX = (1n << 64n) - 1n;

/** 0x + 16 hex digits, for any u64 (valid id or not). */
export function shortIdHex(id: bigint): string {
  if (typeof id !== 'bigint' || id < 0n || id > U64_MAX)
    throw new ValueError('shortid', `${String(id)} is not a u64`);
  return `0x${id.toString(16).padStart(16, '0')}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export function formatShortIdItem(item: ShortIdItem): string {
  switch (item.kind) {
    case 'block':
      return `${item.height}:${hex2(item.checksum)}`;
    case 'tx':
      return item.position === 0
        ? `${item.height}:${hex2(item.checksum)}`
        : `${item.height}:${hex2(item.checksum)}:${item.position}`;
    case 'input':
      return `${item.height}:${hex2(item.checksum)}:${item.position}:i${item.index}`;
    case 'output':
      return `${item.height}:${hex2(item.checksum)}:${item.position}:o${item.index}`;
    case 'offchain-tx':
      return `off:${prefixText(item.txidPrefix, false)}`;
    case 'offchain-input':
      return `off:${prefixText(item.txidPrefix, false)}:i${item.index}`;
    case 'offchain-output':
      return `off:${prefixText(item.txidPrefix, item.index >= EXT_MIN_INDEX)}:o${item.index}`;
  }
}

function prefixText(txidPrefix: number, extended: boolean): string {
  if (extended) return ((txidPrefix / EXT_TXID_DROPPED) * 4).toString(16).padStart(8, '0');
  return (txidPrefix * 2).toString(16).padStart(12, '0');
}

/** Readable form of an id (see the module comment). */
export function formatShortId(id: bigint): string {
  return formatShortIdItem(decodeShortId(id));
}

const DEC = /^[0-9]+$/;
const HEX = /^0[xX][0-9a-fA-F]{1,16}$/;
const ONCHAIN = /^([0-9]{1,7}):([0-9a-fA-F]{2})(?::([0-9]{1,5})(?::([io])([0-9]{1,6}))?)?$/;
const OFFCHAIN = /^off:([0-9a-fA-F]{12}|[0-9a-fA-F]{8})(?::([io])([0-9]{1,6}))?$/;
const OFFCHAIN_TXID = /^off:([0-9a-fA-F]{64})(?::([io])([0-9]{1,6}))?$/;

/** Parses any accepted text form to an id; ValueError names what is wrong. */
export function parseShortId(text: string): bigint {
  const what = 'shortid';
  if (typeof text !== 'string') throw new ValueError(what, 'expected a string');
  const s = text.trim();
  if (DEC.test(s)) {
    const v = BigInt(s);
    if (v > U64_MAX) throw new ValueError(what, `${s} exceeds 2^64 - 1`);
    decodeShortId(v);
    return v;
  }
  if (HEX.test(s)) {
    const v = BigInt(s.toLowerCase());
    decodeShortId(v);
    return v;
  }
  const on = ONCHAIN.exec(s);
  if (on) {
    const height = Number(on[1]);
    const checksum = Number.parseInt(on[2], 16);
    if (on[3] === undefined) return encodeShortId({ kind: 'block', height, checksum });
    const position = Number(on[3]);
    if (on[4] === undefined) return encodeShortId({ kind: 'tx', height, checksum, position });
    const index = Number(on[5]);
    return encodeShortId({ kind: on[4] === 'i' ? 'input' : 'output', height, checksum, position, index });
  }
  const full = OFFCHAIN_TXID.exec(s);
  if (full) {
    const txid = full[1].toLowerCase();
    if (full[2] === undefined) return offchainTxId(txid);
    const index = Number(full[3]);
    return full[2] === 'i' ? offchainInputId(txid, index) : offchainOutputId(txid, index);
  }
  const off = OFFCHAIN.exec(s);
  if (off) {
    const digits = off[1];
    const extended = digits.length === 8;
    const raw = Number.parseInt(digits, 16);
    if (raw % (extended ? 4 : 2) !== 0) {
      throw new ValueError(
        what,
        `off-chain prefix ${digits}: the last ${extended ? '2 bits' : 'bit'} must be 0 (${extended ? 30 : 47} txid bits)`,
      );
    }
    const txidPrefix = extended ? (raw / 4) * EXT_TXID_DROPPED : raw / 2;
    if (off[2] === undefined) {
      if (extended) throw new ValueError(what, 'an 8-digit off-chain prefix names only extended outputs');
      return encodeShortId({ kind: 'offchain-tx', txidPrefix });
    }
    const index = Number(off[3]);
    if (off[2] === 'i') {
      if (extended) throw new ValueError(what, 'an 8-digit off-chain prefix names only extended outputs');
      return encodeShortId({ kind: 'offchain-input', txidPrefix, index });
    }
    if (extended !== index >= EXT_MIN_INDEX) {
      throw new ValueError(
        what,
        extended
          ? `an 8-digit prefix is for outputs >= ${EXT_MIN_INDEX}, got o${index}`
          : `output ${index} needs the extended form off:<8 hex digits>:o${index}`,
      );
    }
    return encodeShortId({ kind: 'offchain-output', txidPrefix, index });
  }
  throw new ValueError(
    what,
    `"${text.length > 80 ? `${text.slice(0, 80)}...` : text}" is not a decimal u64, 0x-hex, H:cc[:P[:iN|:oN]] or off:<hex>[:iN|:oN]`,
  );
}

export type ShortIdDescription = ShortIdItem & {
  /** Decimal u64. */
  readonly id: string;
  readonly hex: string;
  readonly text: string;
  /** True for outputs >= 32,767 (this project's extended layouts). */
  readonly extended: boolean;
};

/** Everything a CLI prints for an id (JSON-safe: the u64 is a decimal string). */
export function describeShortId(id: bigint): ShortIdDescription {
  const item = decodeShortId(id);
  const extended = (item.kind === 'output' || item.kind === 'offchain-output') && item.index >= EXT_MIN_INDEX;
  return { ...item, id: id.toString(), hex: shortIdHex(id), text: formatShortIdItem(item), extended };
}
