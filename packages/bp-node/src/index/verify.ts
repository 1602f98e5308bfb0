import { checkProofOfWork } from '@lnpbp/bitcoin/block/header';
import { checkMerkleRoot, checkWitnessCommitment, parseBlock } from '@lnpbp/bitcoin/block/parse';
import { equalBytes, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { BlockRejected } from './errors.ts';
import { BlockLayout } from './layout.ts';

/**
 * Parses a block and checks what an index can check without a UTXO-script engine: it frames
 * exactly, links to `prevHash` (when given), meets the proof of work its nBits claim, its txs
 * hash to the merkle root, its witness data matches the coinbase commitment (BIP-141), and the
 * coinbase comes first and only first. Throws BlockRejected; computes every txid on the way.
 * Returns the block with its layout (layout.ts), which the coinbase checks read so that no tx
 * but the coinbase builds its inputs.
 */
export function parseAndVerifyBlock(
  raw: Uint8Array,
  height: number,
  prevHash: Uint8Array | null,
): { block: Block; layout: BlockLayout } {
  let block: Block;
  try {
    block = parseBlock(raw);
  } catch (e) {
    if (e instanceof DecodeError) throw new BlockRejected('decode', height, e.message);
    throw e;
  }
  const h = block.header;
  if (prevHash !== null && !equalBytes(h.prevHash, prevHash)) {
    throw new BlockRejected(
      'bad-prev',
      height,
      `prev hash ${toHexReversed(h.prevHash)} is not the tip ${toHexReversed(prevHash)}`,
    );
  }
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
