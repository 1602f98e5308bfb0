import { equalBytes, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { sha256d } from './hash.ts';

export const HEADER_SIZE = 80;
/** Consensus bound on a serialized block (4M weight units can never exceed 4,000,000 bytes). */
export const MAX_BLOCK_SIZE = 4_000_000;

/** Header hash (internal order) of a block or header's first 80 bytes. */
export function headerHash(raw: Uint8Array): Uint8Array {
  return sha256d(raw.subarray(0, HEADER_SIZE));
}

/**
 * Checks that `raw` is a block whose header hashes to `expected` and whose transactions frame
 * exactly (every length in bounds, no trailing bytes). It walks the bytes without building
 * objects: the indexer parses (and checks the merkle root); this only keeps a peer's garbage
 * from reaching it. Throws DecodeError, or a plain Error for a hash mismatch.
 */
export function checkBlock(raw: Uint8Array, expected: Uint8Array, opts: { merkleRoot?: boolean } = {}): void {
  if (raw.length > MAX_BLOCK_SIZE) {
    throw new DecodeError('oversized', 'block', 0, `${raw.length} bytes > ${MAX_BLOCK_SIZE}`);
  }
  const r = new ByteReader(raw);
  r.need(HEADER_SIZE, 'block.header');
  const got = headerHash(raw);
  if (!equalBytes(got, expected)) {
    throw new Error(`block hash ${toHexReversed(got)} is not the ${toHexReversed(expected)} asked for`);
  }
  r.skip(HEADER_SIZE);
  // Smallest tx: 4 version + 1 + 41 input + 1 + 9 output + 4 locktime = 60 bytes.
  const n = r.count('block.txCount', 60);
  if (n === 0) throw new DecodeError('invalid-value', 'block.txCount', HEADER_SIZE, 'a block has a coinbase');
  for (let i = 0; i < n; i++) skipTx(r, `block.tx[${i}]`);
  r.expectEnd('block');
  if (opts.merkleRoot && !equalBytes(merkleRoot(blockTxids(raw)), raw.subarray(36, 68))) {
    throw new Error('transactions do not hash to the merkle root in the header');
  }
}

/** Bitcoin's merkle root over txids (internal order), duplicating the last of an odd level. */
export function merkleRoot(ids: Uint8Array[]): Uint8Array {
  let level = ids;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1] ?? level[i];
      const pair = new Uint8Array(64);
      pair.set(level[i], 0);
      pair.set(right, 32);
      next.push(sha256d(pair));
    }
    level = next;
  }
  return level[0];
}

/** Walks one transaction (with or without BIP144 witness) and leaves `r` after it. */
export function skipTx(r: ByteReader, what: string): void {
  r.skip(4, `${what}.version`);
  let segwit = false;
  if (r.remaining >= 2 && r.buf[r.pos] === 0 && r.buf[r.pos + 1] === 1) {
    segwit = true;
    r.skip(2);
  }
  const nIn = r.count(`${what}.inputs`, 41);
  if (nIn === 0) throw new DecodeError('invalid-value', `${what}.inputs`, r.pos, 'no inputs');
  for (let i = 0; i < nIn; i++) {
    r.skip(36, `${what}.input[${i}].prevout`);
    r.varBytes(`${what}.input[${i}].scriptSig`);
    r.skip(4, `${what}.input[${i}].sequence`);
  }
  const nOut = r.count(`${what}.outputs`, 9);
  for (let i = 0; i < nOut; i++) {
    r.skip(8, `${what}.output[${i}].value`);
    r.varBytes(`${what}.output[${i}].scriptPubKey`);
  }
  if (segwit) {
    for (let i = 0; i < nIn; i++) {
      const items = r.count(`${what}.witness[${i}]`, 1);
      for (let j = 0; j < items; j++) r.varBytes(`${what}.witness[${i}][${j}]`);
    }
  }
  r.skip(4, `${what}.locktime`);
}

/** Checks that `raw` is exactly one transaction. */
export function checkTx(raw: Uint8Array): void {
  const r = new ByteReader(raw);
  skipTx(r, 'tx');
  r.expectEnd('tx');
}

/**
 * The txid (internal order) of a raw tx: sha256d of its serialization without marker, flag and
 * witnesses. Used by the P2P source to forget mempool txs that a block confirmed.
 */
export function txid(raw: Uint8Array): Uint8Array {
  const r = new ByteReader(raw);
  const segwit = raw.length > 6 && raw[4] === 0 && raw[5] === 1;
  if (!segwit) return sha256d(raw);
  r.skip(6);
  const nIn = r.count('tx.inputs', 41);
  for (let i = 0; i < nIn; i++) {
    r.skip(36);
    r.varBytes();
    r.skip(4);
  }
  const nOut = r.count('tx.outputs', 9);
  for (let i = 0; i < nOut; i++) {
    r.skip(8);
    r.varBytes();
  }
  const mid = raw.subarray(6, r.pos);
  const stripped = new Uint8Array(8 + mid.length);
  stripped.set(raw.subarray(0, 4), 0);
  stripped.set(mid, 4);
  stripped.set(raw.subarray(raw.length - 4), 4 + mid.length);
  return sha256d(stripped);
}

/** Txids of every transaction in a block already checked by checkBlock. */
export function blockTxids(raw: Uint8Array): Uint8Array[] {
  const r = new ByteReader(raw, HEADER_SIZE);
  const n = r.count('block.txCount', 60);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const start = r.pos;
    skipTx(r, `block.tx[${i}]`);
    out.push(txid(raw.subarray(start, r.pos)));
  }
  return out;
}
