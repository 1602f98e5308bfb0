import type { Block } from '@lnpbp/bitcoin/tx/types';
import { ConnectBatch } from './batch.ts';
import type { Store } from './store.ts';

export { isUnspendable } from './batch.ts';

export interface ConnectResult {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
  /**
   * The parsed block (views into the raw bytes given), e.g. for the mempool. When a worker
   * prepared the block (pipeline.ts) it is parsed on first read.
   */
  readonly block: Block;
  /** The block's size in bytes. */
  size: number;
  txCount: number;
  inputs: number;
  outputs: number;
  /**
   * Per input of the block, coinbase excluded, in block order: the spent output's script and
   * value (undefined/0 for an input spending below the index's base), as the undo record holds
   * them. Push matches watched scripts on these rather than reading each spent output back.
   */
  prevScripts: readonly (Uint8Array | undefined)[];
  prevValues: BigUint64Array;
}

/**
 * Verifies `raw` as the block at `height` on top of the tip, then writes it: the block file
 * record first (synced), then every table in one LMDB transaction. A block that fails any
 * check throws BlockRejected before anything is written. A batch of one block (batch.ts).
 */
export function connectBlock(s: Store, raw: Uint8Array, height: number): ConnectResult {
  const batch = new ConnectBatch(s);
  let r: ConnectResult;
  try {
    r = batch.add(raw, height);
  } catch (e) {
    batch.abort();
    throw e;
  }
  batch.commit();
  return r;
}
