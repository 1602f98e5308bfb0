import { ByteReader } from '../bytes/reader.ts';
import { DecodeError } from '../errors.ts';
import { sha256d } from '../hash/index.ts';
import type { BlockHeader } from '../tx/types.ts';

export const HEADER_SIZE = 80;

class ParsedHeader implements BlockHeader {
  private _hash: Uint8Array | undefined;
  constructor(
    readonly version: number,
    readonly prevHash: Uint8Array,
    readonly merkleRoot: Uint8Array,
    readonly time: number,
    readonly bits: number,
    readonly nonce: number,
    readonly raw: Uint8Array,
  ) {}

  hash(): Uint8Array {
    if (this._hash === undefined) this._hash = sha256d(this.raw);
    return this._hash;
  }
}

export function readHeader(r: ByteReader, what = 'header'): BlockHeader {
  const start = r.pos;
  r.need(HEADER_SIZE, what);
  const version = r.i32le();
  const prevHash = r.bytes(32);
  const merkleRoot = r.bytes(32);
  const time = r.u32le();
  const bits = r.u32le();
  const nonce = r.u32le();
  return new ParsedHeader(
    version,
    prevHash,
    merkleRoot,
    time,
    bits,
    nonce,
    r.buf.subarray(start, start + 80),
  );
}

export function parseHeader(bytes: Uint8Array): BlockHeader {
  if (bytes.length !== HEADER_SIZE) {
    throw new DecodeError(
      bytes.length < HEADER_SIZE ? 'truncated' : 'trailing-bytes',
      'header',
      0,
      `${bytes.length} bytes, expected 80`,
    );
  }
  return readHeader(new ByteReader(bytes));
}

/**
 * Expands nBits (compact form) into the 256-bit target. Returns null for encodings Core treats
 * as invalid (negative or overflowing), which no valid block can carry.
 */
export function targetFromBits(bits: number): bigint | null {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if (bits & 0x00800000 && mantissa !== 0) return null;
  let target: bigint;
  if (exponent <= 3) target = BigInt(mantissa >>> (8 * (3 - exponent)));
  else target = BigInt(mantissa) << BigInt(8 * (exponent - 3));
  if (
    mantissa !== 0 &&
    (exponent > 34 || (mantissa > 0xff && exponent > 33) || (mantissa > 0xffff && exponent > 32))
  ) {
    return null;
  }
  return target;
}

/** The block hash read as a little-endian 256-bit number. */
export function hashToBigInt(hash: Uint8Array): bigint {
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(hash[i]);
  return v;
}

/** Proof of work: the header hash is at most the target its nBits encode (and the target is valid). */
export function checkProofOfWork(header: BlockHeader): boolean {
  const target = targetFromBits(header.bits);
  if (target === null || target === 0n) return false;
  return hashToBigInt(header.hash()) <= target;
}

/** Work represented by a header's target: 2^256 / (target + 1), as Core's GetBlockProof. */
export function blockWork(bits: number): bigint {
  const target = targetFromBits(bits);
  if (target === null || target === 0n) return 0n;
  return (1n << 256n) / (target + 1n);
}
