import { checkProofOfWork } from '@lnpbp/bitcoin/block/header';
import { checkMerkleRoot, checkWitnessCommitment, parseBlock } from '@lnpbp/bitcoin/block/parse';
import { toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { BlockRejected } from './errors.ts';
import { BlockLayout } from './layout.ts';

/**
 * Parses a block and checks what an index can check without a UTXO-script engine and without
 * the tip: it frames exactly, meets the proof of work its nBits claim, its txs hash to the
 * merkle root, its witness data matches the coinbase commitment (BIP-141), and the coinbase
 * comes first and only first. Throws BlockRejected; computes every txid and wtxid on the way.
 * Returns the block with its layout (layout.ts), which the coinbase checks read so that no tx
 * but the coinbase builds its inputs. The link to the tip is checkPrev's (it needs the index,
 * this runs in the preparing worker too); a caller checks it after a 'decode' rejection and
 * before any other, the order these checks had as one.
 */
export function parseAndVerifyBlock(raw: Uint8Array, height: number): { block: Block; layout: BlockLayout } {
  let block: Block;
  try {
    block = parseBlock(raw);
  } catch (e) {
    if (e instanceof DecodeError) throw new BlockRejected('decode', height, e.message);
    throw e;
  }
  const h = block.header;
  if (!checkProofOfWork(h)) {
    throw new BlockRejected('bad-pow', height, `hash ${toHexReversed(h.hash())} above the target of nBits`);
  }
  const layout = new BlockLayout(block);
  if (block.txs.length === 0 || !layout.isCoinbase(0)) {
    throw new BlockRejected('bad-coinbase', height, 'first tx is not a coinbase');
  }
  for (let i = 1; i < block.txs.length; i++) {
    if (layout.isCoinbase(i)) throw new BlockRejected('bad-coinbase', height, `tx ${i} is a second coinbase`);
  }
  if (!checkMerkleRoot(block))
    throw new BlockRejected('bad-merkle', height, 'txs do not hash to the merkle root');
  if (checkWitnessCommitment(block) === 'invalid') {
    throw new BlockRejected('bad-witness-commitment', height, 'witness data does not match the commitment');
  }
  return { block, layout };
}

/** The block's header links to `prevHash` (bytes 4..36 of a block that decoded). */
export function checkPrev(raw: Uint8Array, height: number, prevHash: Uint8Array): void {
  for (let i = 0; i < 32; i++) {
    if (raw[4 + i] === prevHash[i]) continue;
    throw new BlockRejected(
      'bad-prev',
      height,
      `prev hash ${toHexReversed(raw.subarray(4, 36))} is not the tip ${toHexReversed(prevHash)}`,
    );
  }
}
