import { checkMerkleRoot, blockTxids as concatTxids, parseBlock } from '@lnpbp/bitcoin/block/parse';
import { equalBytes, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { merkleRoot as merkleRootConcat, sha256d } from '@lnpbp/bitcoin/hash/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';

export const HEADER_SIZE = 80;
/** Consensus bound on a serialized block (4M weight units can never exceed 4,000,000 bytes). */
export const MAX_BLOCK_SIZE = 4_000_000;

/** Header hash (internal order) of a block or header's first 80 bytes. */
export function headerHash(raw: Uint8Array): Uint8Array {
  return sha256d(raw.subarray(0, HEADER_SIZE));
}

/**
 * Checks that `raw` is a block whose header hashes to `expected` and whose transactions frame
 * exactly (every length in bounds, no trailing bytes), with the project's validating parser.
 * The indexer checks the merkle root anyway; this keeps a peer's garbage from reaching it.
 * Throws DecodeError, or a plain Error for a hash or merkle mismatch.
 */
export function checkBlock(raw: Uint8Array, expected: Uint8Array, opts: { merkleRoot?: boolean } = {}): void {
  if (raw.length > MAX_BLOCK_SIZE) {
    throw new DecodeError('oversized', 'block', 0, `${raw.length} bytes > ${MAX_BLOCK_SIZE}`);
  }
  if (raw.length < HEADER_SIZE) {
    throw new DecodeError('truncated', 'block.header', 0, `${raw.length} bytes, need ${HEADER_SIZE}`);
  }
  const got = headerHash(raw);
  if (!equalBytes(got, expected)) {
    throw new Error(`block hash ${toHexReversed(got)} is not the ${toHexReversed(expected)} asked for`);
  }
  const block = parseBlock(raw);
  if (block.txs.length === 0) {
    throw new DecodeError('invalid-value', 'block.txCount', HEADER_SIZE, 'a block has a coinbase');
  }
  if (opts.merkleRoot && !checkMerkleRoot(block)) {
    throw new Error('transactions do not hash to the merkle root in the header');
  }
}

/** Bitcoin's merkle root over txids (internal order), duplicating the last of an odd level. */
export function merkleRoot(ids: Uint8Array[]): Uint8Array {
  const flat = new Uint8Array(ids.length * 32);
  for (let i = 0; i < ids.length; i++) flat.set(ids[i], i * 32);
  return merkleRootConcat(flat, ids.length);
}

/** Checks that `raw` is exactly one transaction with at least one input. */
export function checkTx(raw: Uint8Array): void {
  if (parseTx(raw).inputs.length === 0) {
    throw new DecodeError('invalid-value', 'tx.inputs', 4, 'no inputs');
  }
}

/**
 * The txid (internal order) of a raw tx. Used by the P2P source to forget mempool txs that a
 * block confirmed.
 */
export function txid(raw: Uint8Array): Uint8Array {
  return parseTx(raw).txid();
}

/** Txids of every transaction in a block already checked by checkBlock. */
export function blockTxids(raw: Uint8Array): Uint8Array[] {
  const block = parseBlock(raw);
  const flat = concatTxids(block);
  return block.txs.map((_, i) => flat.subarray(i * 32, i * 32 + 32));
}
