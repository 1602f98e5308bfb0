/** The operations both hash implementations (native addon, JS fallback) provide. */
export interface HashImpl {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  sha256d(data: Uint8Array): Uint8Array;
  /**
   * Item i is sha256d over the concatenation of counts[i] consecutive (offset, length) pairs
   * of `segments`, offsets relative to data[0]; its 32 bytes go to out at i * 32.
   */
  sha256dBatch(data: Uint8Array, segments: Uint32Array, counts: Uint32Array, out: Uint8Array): void;
  /** Bitcoin merkle root over n concatenated 32-byte hashes (odd levels repeat their last hash). */
  merkleRoot(hashes: Uint8Array, n: number): Uint8Array;
}

/**
 * The same bounds the native addon checks, so both implementations reject the same calls with
 * the same RangeError (a caller bug, not bad input: the caller built the segments).
 */
export function checkBatchArgs(
  data: Uint8Array,
  segments: Uint32Array,
  counts: Uint32Array,
  out: Uint8Array,
): void {
  if (out.length < counts.length * 32) throw new RangeError('out is shorter than 32 bytes per item');
  let used = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > (segments.length - used) >>> 1) {
      throw new RangeError('counts ask for more segments than given');
    }
    for (let k = 0; k < counts[i]; k++, used += 2) {
      if (segments[used] + segments[used + 1] > data.length) {
        throw new RangeError('segment runs past the end of data');
      }
    }
  }
}

export function checkMerkleArgs(hashes: Uint8Array, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError('merkle root of no hashes');
  if (n > 1 << 26) throw new RangeError('too many hashes');
  if (hashes.length < n * 32) throw new RangeError('hashes is shorter than n * 32 bytes');
}
