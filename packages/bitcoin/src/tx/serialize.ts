import { ByteWriter } from '../bytes/writer.ts';
import type { Block, BlockHeader, Tx, TxIn, TxOut } from './types.ts';

/** Fields from which a transaction is serialized (a parsed Tx fits). */
export interface TxFields {
  version: number;
  inputs: readonly TxIn[];
  outputs: readonly TxOut[];
  locktime: number;
}

/**
 * Serializes from fields (not from the parsed raw bytes), so a round trip through parse and
 * serialize checks the parser saw every byte. Uses BIP-144 form when any input has a witness,
 * or when `forceWitness` says the original did.
 */
export function serializeTx(tx: TxFields, opts: { witness?: boolean } = {}): Uint8Array {
  const withWitness = opts.witness ?? tx.inputs.some((i) => i.witness.length > 0);
  const w = new ByteWriter(256);
  w.i32le(tx.version);
  if (withWitness) w.u8(0).u8(1);
  w.compactSize(tx.inputs.length);
  for (const i of tx.inputs) {
    w.bytes(i.prevTxid).u32le(i.vout).varBytes(i.scriptSig).u32le(i.sequence);
  }
  w.compactSize(tx.outputs.length);
  for (const o of tx.outputs) w.u64le(o.value).varBytes(o.scriptPubKey);
  if (withWitness) {
    for (const i of tx.inputs) {
      w.compactSize(i.witness.length);
      for (const item of i.witness) w.varBytes(item);
    }
  }
  w.u32le(tx.locktime);
  return w.finish();
}

export function serializeHeader(h: Omit<BlockHeader, 'raw' | 'hash'>): Uint8Array {
  return new ByteWriter(80)
    .i32le(h.version)
    .bytes(h.prevHash)
    .bytes(h.merkleRoot)
    .u32le(h.time)
    .u32le(h.bits)
    .u32le(h.nonce)
    .finish();
}

export function serializeBlock(b: {
  header: Omit<BlockHeader, 'raw' | 'hash'>;
  txs: readonly Tx[];
}): Uint8Array {
  const w = new ByteWriter(1024);
  w.bytes(serializeHeader(b.header));
  w.compactSize(b.txs.length);
  for (const tx of b.txs) w.bytes(serializeTx(tx, { witness: tx.hasWitness }));
  return w.finish();
}

export type { Block };
