import { DecodeError } from '../errors.ts';

/** BIP-341 control block sizes (Core's TAPROOT_CONTROL_BASE_SIZE / NODE_SIZE / MAX_NODE_COUNT). */
export const CONTROL_BLOCK_BASE_SIZE = 33;
export const CONTROL_BLOCK_NODE_SIZE = 32;
export const CONTROL_BLOCK_MAX_NODES = 128;

/** BIP-341 control block: views into the witness item. */
export interface ControlBlock {
  /** c[0] & 0xfe; 0xc0 is BIP-342 tapscript. */
  readonly leafVersion: number;
  /** c[0] & 1: the parity of the output key's Y coordinate. */
  readonly outputKeyParity: 0 | 1;
  /** 32-byte x-only internal key P. */
  readonly internalKey: Uint8Array;
  /** Merkle path from the leaf up, 0-128 hashes of 32 bytes. */
  readonly path: Uint8Array[];
}

/** True when the length is 33 + 32m with m <= 128 (the only shape consensus accepts). */
export function isControlBlockSize(n: number): boolean {
  return (
    n >= CONTROL_BLOCK_BASE_SIZE &&
    n <= CONTROL_BLOCK_BASE_SIZE + CONTROL_BLOCK_NODE_SIZE * CONTROL_BLOCK_MAX_NODES &&
    (n - CONTROL_BLOCK_BASE_SIZE) % CONTROL_BLOCK_NODE_SIZE === 0
  );
}

export function parseControlBlock(c: Uint8Array, what = 'control block'): ControlBlock {
  if (!isControlBlockSize(c.length)) {
    throw new DecodeError('invalid-value', what, 0, `length ${c.length} is not 33 + 32m with m <= 128`);
  }
  const path: Uint8Array[] = [];
  for (let o = CONTROL_BLOCK_BASE_SIZE; o < c.length; o += CONTROL_BLOCK_NODE_SIZE) {
    path.push(c.subarray(o, o + CONTROL_BLOCK_NODE_SIZE));
  }
  return {
    leafVersion: c[0] & 0xfe,
    outputKeyParity: (c[0] & 1) as 0 | 1,
    internalKey: c.subarray(1, 33),
    path,
  };
}
