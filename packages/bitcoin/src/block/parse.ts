import { equalBytes } from '../bytes/hex.ts';
import { ByteReader } from '../bytes/reader.ts';
import { DecodeError } from '../errors.ts';
import { merkleRoot, sha256d, sha256dBatch } from '../hash/index.ts';
import { scanTx, setTxHashes } from '../tx/parse.ts';
import type { Block, Tx } from '../tx/types.ts';
import { readHeader } from './header.ts';

/** Bound on transactions per block: 4,000,000 weight units / 60-byte smallest tx * 4. */
const MIN_TX_SIZE = 60;

/** Parses a whole block from its serialization; trailing bytes are an error. */
export function parseBlock(bytes: Uint8Array, what = 'block'): Block {
  const r = new ByteReader(bytes);
  const block = readBlock(r, what);
  r.expectEnd(what);
  return block;
}

export function readBlock(r: ByteReader, what = 'block'): Block {
  const start = r.pos;
  const header = readHeader(r, `${what}.header`);
  const n = r.count(`${what}.txCount`, MIN_TX_SIZE);
  const txs: Tx[] = new Array(n);
  for (let i = 0; i < n; i++) txs[i] = scanTx(r, what, i);
  return { header, txs, raw: r.buf.subarray(start, r.pos) };
}

/**
 * Computes every txid and wtxid of a block in one batched call (native when available) and
 * caches them on the txs, so later txid()/wtxid() calls are free. `batch` swaps the hasher
 * (benchmarks pass the JS fallback's to compare it with the addon in one process).
 */
export function hashBlockTxs(block: Block, batch: typeof sha256dBatch = sha256dBatch): void {
  const txs = block.txs;
  const n = txs.length;
  if (n === 0) return;
  const base = block.raw;
  // txid: up to 3 ranges per tx; wtxid: 1 range per segwit tx.
  const segs = new Uint32Array(n * 6 + n * 2);
  const counts = new Uint32Array(2 * n);
  let s = 0;
  let witnessCount = 0;
  for (let i = 0; i < n; i++) {
    const tx = txs[i];
    const off = tx.raw.byteOffset - base.byteOffset;
    if (tx.hasWitness) {
      segs[s++] = off;
      segs[s++] = 4;
      segs[s++] = off + 6;
      segs[s++] = tx.witnessOffset - 6;
      segs[s++] = off + tx.raw.length - 4;
      segs[s++] = 4;
      counts[i] = 3;
      witnessCount++;
    } else {
      segs[s++] = off;
      segs[s++] = tx.raw.length;
      counts[i] = 1;
    }
  }
  let k = n;
  for (let i = 0; i < n; i++) {
    const tx = txs[i];
    if (!tx.hasWitness) continue;
    segs[s++] = tx.raw.byteOffset - base.byteOffset;
    segs[s++] = tx.raw.length;
    counts[k++] = 1;
  }
  const items = n + witnessCount;
  const out = new Uint8Array(items * 32);
  batch(base, segs.subarray(0, s), counts.subarray(0, items), out);
  k = n;
  for (let i = 0; i < n; i++) {
    const txid = out.subarray(i * 32, i * 32 + 32);
    let wtxid = txid;
    if (txs[i].hasWitness) {
      wtxid = out.subarray(k * 32, k * 32 + 32);
      k++;
    }
    setTxHashes(txs[i], txid, wtxid);
  }
}

/** The txids of a block concatenated (n * 32 bytes), hashing in bulk first. */
export function blockTxids(block: Block): Uint8Array {
  hashBlockTxs(block);
  const out = new Uint8Array(block.txs.length * 32);
  for (let i = 0; i < block.txs.length; i++) out.set(block.txs[i].txid(), i * 32);
  return out;
}

export function computeMerkleRoot(block: Block): Uint8Array {
  return merkleRoot(blockTxids(block), block.txs.length);
}

export function checkMerkleRoot(block: Block): boolean {
  if (block.txs.length === 0) return false;
  return equalBytes(computeMerkleRoot(block), block.header.merkleRoot);
}

const WITNESS_COMMITMENT_PREFIX = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

/** BIP-141: the last coinbase output whose script starts with OP_RETURN 0x24 aa21a9ed. */
export function findWitnessCommitment(coinbase: Tx): Uint8Array | null {
  for (let i = coinbase.outputs.length - 1; i >= 0; i--) {
    const spk = coinbase.outputs[i].scriptPubKey;
    if (spk.length < 38) continue;
    let ok = true;
    for (let j = 0; j < 6; j++) {
      if (spk[j] !== WITNESS_COMMITMENT_PREFIX[j]) {
        ok = false;
        break;
      }
    }
    if (ok) return spk.subarray(6, 38);
  }
  return null;
}

export type WitnessCommitmentResult = 'valid' | 'invalid' | 'absent-ok';

/**
 * Checks the BIP-141 witness commitment. A block without witness data needs none ('absent-ok');
 * a block with witness data must commit to sha256d(witness merkle root || reserved value).
 */
export function checkWitnessCommitment(block: Block): WitnessCommitmentResult {
  const txs = block.txs;
  if (txs.length === 0) return 'invalid';
  const coinbase = txs[0];
  const commitment = findWitnessCommitment(coinbase);
  const anyWitness = txs.some((t) => t.hasWitness);
  if (commitment === null) return anyWitness ? 'invalid' : 'absent-ok';
  const reserved = coinbase.inputs[0]?.witness;
  if (reserved?.length !== 1 || reserved[0].length !== 32) return 'invalid';
  hashBlockTxs(block);
  const wtxids = new Uint8Array(txs.length * 32);
  // The coinbase's wtxid is taken as zero.
  for (let i = 1; i < txs.length; i++) wtxids.set(txs[i].wtxid(), i * 32);
  const root = merkleRoot(wtxids, txs.length);
  const buf = new Uint8Array(64);
  buf.set(root, 0);
  buf.set(reserved[0], 32);
  return equalBytes(sha256d(buf), commitment) ? 'valid' : 'invalid';
}

/** Block weight: header and tx count bytes count 4x, then each tx's weight. */
export function blockWeight(block: Block): number {
  let w = (block.raw.length - sumTxSizes(block)) * 4;
  for (const tx of block.txs) w += tx.weight;
  return w;
}

function sumTxSizes(block: Block): number {
  let n = 0;
  for (const tx of block.txs) n += tx.raw.length;
  return n;
}

export function expectBlockHash(block: Block, hash: Uint8Array): void {
  if (!equalBytes(block.header.hash(), hash)) {
    throw new DecodeError('invalid-value', 'block.header', 0, 'hash differs from the one requested');
  }
}
