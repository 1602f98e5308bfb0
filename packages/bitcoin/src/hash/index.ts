/**
 * Bitcoin's hash functions. SHA-256 work goes to the native addon (SHA-NI, batched) when it
 * loaded, else to node:crypto / @noble/hashes; both give identical results (tested side by
 * side). Set BP_NO_NATIVE=1 to force the JS path.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { jsHash } from './js.ts';
import { addon, nativeImpl, nativeSha256Into } from './native.ts';
import type { HashImpl } from './types.ts';

export type { HashImpl } from './types.ts';

/** Whether the native addon loaded (and passed its self-test). */
export const nativeHash: boolean = nativeImpl !== null;

const impl: HashImpl = nativeImpl ?? jsHash;

/** The implementation in use: "native" or "js". */
export const hashImplName: string = impl.name;

export function sha256(data: Uint8Array): Uint8Array {
  return impl.sha256(data);
}

/** sha256(data) written into out[offset..offset+32]: the same digest as sha256(), no allocation. */
export function sha256Into(data: Uint8Array, out: Uint8Array, offset = 0): void {
  if (nativeSha256Into !== null && impl === nativeImpl) nativeSha256Into(data, out, offset);
  else out.set(impl.sha256(data), offset);
}

/**
 * Many sha256 at once: item i hashes the range (segments[2i], length segments[2i+1]) of `data`
 * and writes 32 bytes into `out` at i * 32 (a block's output scripts in one native call).
 * Throws RangeError if segments is not pairs, a range leaves `data`, or `out` is short.
 */
export function sha256Ranges(data: Uint8Array, segments: Uint32Array, out: Uint8Array): void {
  if (addon?.sha256Ranges !== undefined && impl === nativeImpl) {
    addon.sha256Ranges(data, segments, out);
    return;
  }
  if (segments.length % 2 !== 0) throw new RangeError('segments must be (offset, length) pairs');
  const n = segments.length / 2;
  if (out.length < n * 32) throw new RangeError('out is shorter than 32 bytes per item');
  for (let i = 0; i < n; i++) {
    if (segments[2 * i] + segments[2 * i + 1] > data.length)
      throw new RangeError('segment runs past the end of data');
  }
  for (let i = 0; i < n; i++) {
    const at = segments[2 * i];
    sha256Into(data.subarray(at, at + segments[2 * i + 1]), out, 32 * i);
  }
}

/** sha256(sha256(data)): txids, block hashes, merkle nodes, base58check checksums. */
export function sha256d(data: Uint8Array): Uint8Array {
  return impl.sha256d(data);
}

/** ripemd160(sha256(data)): P2PKH / P2SH / P2WPKH programs. */
export function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(impl.sha256(data));
}

/**
 * Many sha256d at once: item i hashes the concatenation of counts[i] consecutive
 * (offset, length) pairs from `segments` (offsets relative to data[0]) and writes 32 bytes into
 * `out` at i * 32. A segwit txid is 3 ranges (version, inputs..outputs, locktime), a wtxid 1.
 * Throws RangeError if a range leaves `data`, counts overrun `segments`, or `out` is short.
 */
export function sha256dBatch(
  data: Uint8Array,
  segments: Uint32Array,
  counts: Uint32Array,
  out: Uint8Array,
): void {
  impl.sha256dBatch(data, segments, counts, out);
}

/**
 * Bitcoin merkle root of n hashes given concatenated (n * 32 bytes, internal byte order);
 * a level with an odd count pairs its last hash with itself. n = 1 returns that hash.
 */
export function merkleRoot(hashes: Uint8Array, n: number): Uint8Array {
  return impl.merkleRoot(hashes, n);
}

const tagPrefixes = new Map<string, Uint8Array>();
let tagScratch = new Uint8Array(256);

/** BIP-340 tagged hash: sha256(sha256(tag) || sha256(tag) || msgs...). */
export function taggedHash(tag: string, ...msgs: Uint8Array[]): Uint8Array {
  let prefix = tagPrefixes.get(tag);
  if (prefix === undefined) {
    const t = impl.sha256(new TextEncoder().encode(tag));
    prefix = new Uint8Array(64);
    prefix.set(t, 0);
    prefix.set(t, 32);
    tagPrefixes.set(tag, prefix);
  }
  let total = 64;
  for (const m of msgs) total += m.length;
  // One reused buffer: a fresh allocation per call would cost more than the hash itself.
  if (total > tagScratch.length) tagScratch = new Uint8Array(Math.max(total, tagScratch.length * 2));
  tagScratch.set(prefix, 0);
  let pos = 64;
  for (const m of msgs) {
    tagScratch.set(m, pos);
    pos += m.length;
  }
  return impl.sha256(tagScratch.subarray(0, total));
}
