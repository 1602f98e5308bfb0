import { DecodeError } from '../errors.ts';
import { NETWORK_MAGIC, type NetworkName } from '../network.ts';

/** Core caps a serialized block at 4,000,000 bytes; a record larger than that is not a block. */
export const MAX_BLOCK_SERIALIZED_SIZE = 4_000_000;

export interface BlkRecord {
  /** Offset of the block bytes (after the 8-byte record header) within the file. */
  readonly offset: number;
  /** The block bytes (a view into the file buffer). */
  readonly raw: Uint8Array;
}

/**
 * Undoes Core 28+'s blocks-dir obfuscation in place: each byte is XORed with key[filePos % 8],
 * where the key is the 8 bytes of blocks/xor.dat. An all-zero key (or none) is a no-op.
 */
export function deobfuscate(buf: Uint8Array, key: Uint8Array | null, filePos = 0): void {
  if (!key || key.length === 0 || key.every((b) => b === 0)) return;
  if (key.length !== 8)
    throw new DecodeError('invalid-value', 'xor.dat', 0, `key is ${key.length} bytes, expected 8`);
  for (let i = 0; i < buf.length; i++) buf[i] ^= key[(filePos + i) & 7];
}

/**
 * Iterates Core's blk*.dat framing: [magic u32 BE][size u32 LE][block]. Zero bytes at the end of
 * a file are Core's preallocation and end the iteration; any other mismatch is an error naming
 * the offset.
 */
export function* readBlkRecords(file: Uint8Array, network: NetworkName): Generator<BlkRecord> {
  const magic = NETWORK_MAGIC[network];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let pos = 0;
  while (pos < file.length) {
    if (file.length - pos < 8) {
      if (isAllZero(file, pos)) return;
      throw new DecodeError(
        'truncated',
        'blk.record',
        pos,
        `${file.length - pos} bytes, expected an 8-byte record header`,
      );
    }
    const m = view.getUint32(pos, false);
    if (m === 0 && isAllZero(file, pos)) return;
    if (m !== magic) {
      throw new DecodeError(
        'bad-magic',
        'blk.record',
        pos,
        `magic ${m.toString(16).padStart(8, '0')}, expected ${magic.toString(16).padStart(8, '0')} (${network})`,
      );
    }
    const size = view.getUint32(pos + 4, true);
    if (size < 81 || size > MAX_BLOCK_SERIALIZED_SIZE) {
      throw new DecodeError('oversized', 'blk.record', pos + 4, `block size ${size}`);
    }
    if (size > file.length - pos - 8) {
      throw new DecodeError(
        'truncated',
        'blk.record',
        pos + 8,
        `block of ${size} bytes, ${file.length - pos - 8} left`,
      );
    }
    yield { offset: pos + 8, raw: file.subarray(pos + 8, pos + 8 + size) };
    pos += 8 + size;
  }
}

function isAllZero(b: Uint8Array, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
