import { existsSync, readFileSync, statSync } from 'node:fs';
import { readBlkRecords } from '@lnpbp/bitcoin/block/blkfile';
import { checkProofOfWork } from '@lnpbp/bitcoin/block/header';
import {
  blockWeight,
  checkMerkleRoot,
  checkWitnessCommitment,
  hashBlockTxs,
  parseBlock,
} from '@lnpbp/bitcoin/block/parse';
import { fromHex, toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { type NetworkName, parseNetwork } from '@lnpbp/bitcoin/network';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import type { Block, Tx } from '@lnpbp/bitcoin/tx/types';
import { CliError } from '../fail.ts';

export type BlockFormat = 'raw' | 'hex' | 'blk';

/** Refuse inputs far beyond any block or tx before reading them into memory. */
const MAX_INPUT_FILE = 512 * 1024 * 1024;

export function blockSummary(b: Block) {
  hashBlockTxs(b);
  return {
    hash: toHexReversed(b.header.hash()),
    prevHash: toHexReversed(b.header.prevHash),
    merkleRoot: toHexReversed(b.header.merkleRoot),
    version: b.header.version,
    time: b.header.time,
    bits: b.header.bits.toString(16).padStart(8, '0'),
    nonce: b.header.nonce,
    size: b.raw.length,
    weight: blockWeight(b),
    txCount: b.txs.length,
    merkleOk: checkMerkleRoot(b),
    witnessCommitment: checkWitnessCommitment(b),
    powOk: checkProofOfWork(b.header),
    txs: b.txs.map((tx) => ({
      txid: toHexReversed(tx.txid()),
      wtxid: toHexReversed(tx.wtxid()),
      size: tx.size,
      vsize: tx.vsize,
      weight: tx.weight,
      inputs: tx.inputs.length,
      outputs: tx.outputs.length,
    })),
  };
}

export function txDetail(tx: Tx) {
  return {
    txid: toHexReversed(tx.txid()),
    wtxid: toHexReversed(tx.wtxid()),
    version: tx.version,
    locktime: tx.locktime,
    size: tx.size,
    vsize: tx.vsize,
    weight: tx.weight,
    segwit: tx.hasWitness,
    coinbase: tx.isCoinbase,
    inputs: tx.inputs.map((i) => ({
      txid: toHexReversed(i.prevTxid),
      vout: i.vout,
      scriptSig: toHex(i.scriptSig),
      sequence: i.sequence,
      witness: i.witness.map(toHex),
    })),
    outputs: tx.outputs.map((o, n) => ({ n, value: Number(o.value), scriptPubKey: toHex(o.scriptPubKey) })),
  };
}

function readInputFile(path: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (size > MAX_INPUT_FILE) throw new CliError(`${path}: ${size} bytes is larger than any block file`);
  return new Uint8Array(readFileSync(path));
}

function looksLikeHex(b: Uint8Array): boolean {
  const n = Math.min(b.length, 4096);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = b[i];
    const hex = (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
    const ws = c === 10 || c === 13 || c === 32 || c === 9;
    if (!hex && !ws) return false;
  }
  return true;
}

function hexText(b: Uint8Array, what: string): Uint8Array {
  const text = new TextDecoder().decode(b).replace(/\s+/g, '');
  return fromHex(text, what);
}

/** Yields every block in a file in the given (or detected) format. */
export function* blocksFromFile(
  path: string,
  format: BlockFormat | undefined,
  network: NetworkName,
): Generator<Block> {
  const data = readInputFile(path);
  const fmt = format ?? detectFormat(data, network);
  if (fmt === 'blk') {
    for (const rec of readBlkRecords(data, network)) {
      try {
        yield parseBlock(rec.raw);
      } catch (e) {
        // Report offsets within the file, not within the record.
        if (e instanceof DecodeError) throw new DecodeError(e.code, e.what, e.offset + rec.offset, e.detail);
        throw e;
      }
    }
  } else if (fmt === 'hex') {
    yield parseBlock(hexText(data, 'block hex'));
  } else {
    yield parseBlock(data);
  }
}

function detectFormat(data: Uint8Array, network: NetworkName): BlockFormat {
  if (data.length >= 4) {
    const m = ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>> 0;
    const magics = {
      mainnet: 0xf9beb4d9,
      testnet: 0x0b110907,
      testnet4: 0x1c163f28,
      signet: 0x0a03cf40,
      regtest: 0xfabfb5da,
    };
    if (m === magics[network]) return 'blk';
  }
  return looksLikeHex(data) ? 'hex' : 'raw';
}

export function parseBlockFormat(s: string | undefined): BlockFormat | undefined {
  if (s === undefined) return undefined;
  if (s === 'raw' || s === 'hex' || s === 'blk') return s;
  throw new CliError(`--format must be raw, hex or blk (got "${s}")`);
}

/** A tx given as hex on the command line or as a file of hex or raw bytes. */
export function txFromArg(arg: string): Tx {
  if (!existsSync(arg)) {
    if (/^[0-9a-fA-F]*$/.test(arg)) return parseTx(fromHex(arg, 'tx hex'));
    throw new CliError(`"${arg.length > 40 ? `${arg.slice(0, 40)}...` : arg}" is neither hex nor a file`);
  }
  const data = readInputFile(arg);
  return parseTx(looksLikeHex(data) ? hexText(data, 'tx hex') : data);
}

export { parseNetwork };
