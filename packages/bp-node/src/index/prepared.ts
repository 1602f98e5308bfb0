/**
 * A block prepared for connecting: everything that needs the block alone and no index state
 * (parse and verification, txids and wtxids, the layout, output-script hashes, scriptPubKey
 * shape rows). ConnectBatch prepares a block on its own thread, or takes one a worker prepared
 * (pipeline.ts): the worker sends these arrays as transferred buffers, no object graph.
 */

import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { sha256Ranges } from '@lnpbp/bitcoin/hash/index';
import { blockChecksum, onchainHi } from '@lnpbp/bitcoin/shortid/index';
import { setTxHashes } from '@lnpbp/bitcoin/tx/parse';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { BlockRejected, type RejectCode } from './errors.ts';
import { type HintSource, hintBuffers, type ResolveHints } from './hints.ts';
import { BlockLayout, type LayoutParts } from './layout.ts';
import { type OutputShapes, outputShapeRows } from './shapes.ts';
import { parseAndVerifyBlock } from './verify.ts';

export interface PreparedBlock {
  /** Block hash, internal order. */
  hash: Uint8Array;
  /** Its LNPBP-5 id's high half (height and checksum). */
  hi: number;
  /** 32 bytes per tx, in block order. */
  txids: Uint8Array;
  wtxids: Uint8Array;
  /** Each tx's offset in the block bytes. */
  txOffsets: Uint32Array;
  layout: BlockLayout;
  /** sha256 of every output script, 32 bytes each, in the layout's output order. */
  outHashes: Uint8Array;
  outShapes: OutputShapes;
  /** The parsed block when prepared on this thread; null when a worker did (see parsedBlock). */
  block: Block | null;
  /** Where a worker found the inputs' spent outputs in the index (hints.ts); null: not looked up. */
  hints: ResolveHints | null;
}

/** What preparing gave: the block, its BlockRejected, or a fault of the preparer. */
export type Prepared = { ok: PreparedBlock } | { rejected: BlockRejected } | { failed: Error };

/** Parses, verifies and lays out `raw` as the block at `height`. Throws BlockRejected. */
export function prepareBlock(raw: Uint8Array, height: number): PreparedBlock {
  const { block, layout } = parseAndVerifyBlock(raw, height);
  const hash = block.header.hash();
  const hi = onchainHi(height, blockChecksum(hash));
  const txs = block.txs;
  const n = txs.length;
  const txids = new Uint8Array(32 * n);
  const wtxids = new Uint8Array(32 * n);
  const txOffsets = new Uint32Array(n);
  for (let p = 0; p < n; p++) {
    // Verification hashed them all (cached on the txs).
    txids.set(txs[p].txid(), 32 * p);
    wtxids.set(txs[p].wtxid(), 32 * p);
    txOffsets[p] = txs[p].raw.byteOffset - block.raw.byteOffset;
  }
  return {
    hash,
    hi,
    txids,
    wtxids,
    txOffsets,
    layout,
    outHashes: scriptHashes(layout),
    outShapes: outputShapeRows(layout, hi),
    block,
    hints: null,
  };
}

/** prepareBlock, its BlockRejected caught. */
export function tryPrepare(raw: Uint8Array, height: number): Prepared {
  try {
    return { ok: prepareBlock(raw, height) };
  } catch (e) {
    if (e instanceof BlockRejected) return { rejected: e };
    throw e;
  }
}

let hashSegs = new Uint32Array(16_384);
/** sha256 of every output script of the block, 32 bytes each. */
function scriptHashes(lay: BlockLayout): Uint8Array {
  const n = lay.outFirst[lay.txCount];
  if (2 * n > hashSegs.length) hashSegs = new Uint32Array(2 * n);
  for (let o = 0; o < n; o++) {
    hashSegs[2 * o] = lay.spkAt[o];
    hashSegs[2 * o + 1] = lay.spkLen[o];
  }
  const out = new Uint8Array(32 * n);
  // Offsets are relative to the block's bytes, as the layout's are.
  sha256Ranges(lay.raw, hashSegs.subarray(0, 2 * n), out);
  return out;
}

/**
 * The block parsed again on this thread with the hashes a worker computed (no hashing here):
 * for ConnectResult.block, which only some listeners read.
 */
export function parsedBlock(raw: Uint8Array, txids: Uint8Array, wtxids: Uint8Array): Block {
  const block = parseBlock(raw);
  const txs = block.txs;
  for (let p = 0; p < txs.length; p++) {
    setTxHashes(txs[p], txids.subarray(32 * p, 32 * p + 32), wtxids.subarray(32 * p, 32 * p + 32));
  }
  return block;
}

/** A prepared block as a worker posts it: typed arrays only, each owning its buffer. */
export type PreparedMessage =
  | {
      ok: true;
      hash: Uint8Array;
      hi: number;
      txids: Uint8Array;
      wtxids: Uint8Array;
      txOffsets: Uint32Array;
      layout: Omit<LayoutParts, 'raw'>;
      outHashes: Uint8Array;
      shapeRows: Uint8Array;
      shapeTx: Uint32Array;
      hints: ResolveHints | null;
    }
  | { ok: false; code: RejectCode; height: number; detail: string }
  | { ok: false; code: null; message: string };

/**
 * Prepares `raw` for posting: the message and the buffers to transfer with it; with `hints`, the
 * inputs' spent outputs looked up in the index too.
 */
export function prepareMessage(
  raw: Uint8Array,
  height: number,
  hints: HintSource | null = null,
): { msg: PreparedMessage; transfer: ArrayBuffer[] } {
  let p: PreparedBlock;
  try {
    p = prepareBlock(raw, height);
  } catch (e) {
    if (e instanceof BlockRejected)
      return { msg: { ok: false, code: e.code, height: e.height, detail: e.detail }, transfer: [] };
    return { msg: { ok: false, code: null, message: (e as Error).message }, transfer: [] };
  }
  const { raw: _, ...layout } = p.layout.parts();
  const msg: PreparedMessage = {
    ok: true,
    hash: p.hash.slice(),
    hi: p.hi,
    txids: p.txids,
    wtxids: p.wtxids,
    txOffsets: p.txOffsets,
    layout,
    outHashes: p.outHashes,
    shapeRows: p.outShapes.rows,
    shapeTx: p.outShapes.tx,
    hints: readHints(hints, p, height),
  };
  const arrays = [msg.hash, msg.txids, msg.wtxids, msg.txOffsets, msg.outHashes, msg.shapeRows, msg.shapeTx];
  arrays.push(...Object.values(layout));
  const transfer = arrays.map((a) => a.buffer as ArrayBuffer);
  if (msg.hints !== null) transfer.push(...hintBuffers(msg.hints));
  return { msg, transfer };
}

/** The block's hints, or null (none asked, or the lookup failed: the writer then reads itself). */
function readHints(hints: HintSource | null, p: PreparedBlock, height: number): ResolveHints | null {
  if (hints === null) return null;
  try {
    return hints.read(p.layout, height, p.hi, p.txids);
  } catch {
    return null;
  }
}

/** A posted prepared block back as a Prepared, over this thread's copy of the block bytes. */
export function fromMessage(m: PreparedMessage, raw: Uint8Array): Prepared {
  if (!m.ok) {
    if (m.code === null) return { failed: new Error(`preparing the block failed: ${m.message}`) };
    return { rejected: new BlockRejected(m.code, m.height, m.detail) };
  }
  return {
    ok: {
      hash: m.hash,
      hi: m.hi,
      txids: m.txids,
      wtxids: m.wtxids,
      txOffsets: m.txOffsets,
      layout: new BlockLayout({ raw, ...m.layout }),
      outHashes: m.outHashes,
      outShapes: { rows: m.shapeRows, tx: m.shapeTx },
      block: null,
      hints: m.hints,
    },
  };
}
