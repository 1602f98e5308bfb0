import { ByteReader } from '../bytes/reader.ts';
import { DecodeError } from '../errors.ts';
import { sha256d } from '../hash/index.ts';
import type { Tx, TxIn, TxOut } from './types.ts';

/** Smallest possible serialized input: 32 prev txid + 4 vout + 1 script length + 4 sequence. */
const MIN_INPUT_SIZE = 41;
/** Smallest possible serialized output: 8 value + 1 script length. */
const MIN_OUTPUT_SIZE = 9;
const EMPTY_WITNESS: Uint8Array[] = [];

class ParsedTx implements Tx {
  readonly version: number;
  readonly inputs: TxIn[];
  readonly outputs: TxOut[];
  readonly locktime: number;
  readonly hasWitness: boolean;
  readonly raw: Uint8Array;
  readonly witnessOffset: number;
  /** Cached hashes, filled lazily or in bulk by a block hasher. */
  _txid: Uint8Array | undefined;
  _wtxid: Uint8Array | undefined;

  constructor(
    version: number,
    inputs: TxIn[],
    outputs: TxOut[],
    locktime: number,
    hasWitness: boolean,
    raw: Uint8Array,
    witnessOffset: number,
  ) {
    this.version = version;
    this.inputs = inputs;
    this.outputs = outputs;
    this.locktime = locktime;
    this.hasWitness = hasWitness;
    this.raw = raw;
    this.witnessOffset = witnessOffset;
  }

  get size(): number {
    return this.raw.length;
  }

  get baseSize(): number {
    // Stripped form drops the 2-byte marker/flag and the witness section.
    return this.hasWitness
      ? this.raw.length - 2 - (this.raw.length - 4 - this.witnessOffset)
      : this.raw.length;
  }

  get weight(): number {
    return this.baseSize * 3 + this.raw.length;
  }

  get vsize(): number {
    return Math.ceil(this.weight / 4);
  }

  get isCoinbase(): boolean {
    const ins = this.inputs;
    if (ins.length !== 1 || ins[0].vout !== 0xffffffff) return false;
    const h = ins[0].prevTxid;
    for (let i = 0; i < 32; i++) if (h[i] !== 0) return false;
    return true;
  }

  txid(): Uint8Array {
    if (this._txid === undefined) {
      this._txid = sha256d(this.hasWitness ? strippedBytes(this) : this.raw);
    }
    return this._txid;
  }

  wtxid(): Uint8Array {
    if (this._wtxid === undefined) {
      this._wtxid = this.hasWitness ? sha256d(this.raw) : this.txid();
    }
    return this._wtxid;
  }
}

/** The serialization without witness (what the txid commits to). Copies; only for segwit txs. */
export function strippedBytes(tx: Tx): Uint8Array {
  if (!tx.hasWitness) return tx.raw;
  const raw = tx.raw;
  const bodyLen = tx.witnessOffset - 6;
  const out = new Uint8Array(4 + bodyLen + 4);
  out.set(raw.subarray(0, 4), 0);
  out.set(raw.subarray(6, tx.witnessOffset), 4);
  out.set(raw.subarray(raw.length - 4), 4 + bodyLen);
  return out;
}

/**
 * Parses one transaction starting at r.pos (legacy or BIP-144). Byte fields are views into
 * r.buf. `what` prefixes error locations, e.g. "block.tx[12]".
 */
export function readTx(r: ByteReader, what = 'tx'): Tx {
  const start = r.pos;
  const version = r.i32le(`${what}.version`);
  let hasWitness = false;
  // BIP-144: a zero input count followed by flag 0x01 marks the extended serialization.
  // "00 00" is a legacy tx with no inputs and no outputs, as Core reads it.
  if (r.remaining >= 2 && r.buf[r.pos] === 0x00 && r.buf[r.pos + 1] !== 0x00) {
    const flag = r.buf[r.pos + 1];
    if (flag !== 0x01) {
      throw new DecodeError('invalid-value', `${what}.flag`, r.pos + 1, `witness flag ${flag}, expected 1`);
    }
    hasWitness = true;
    r.pos += 2;
  }
  const nIn = r.count(`${what}.inputs`, MIN_INPUT_SIZE);
  const inputs: TxIn[] = new Array(nIn);
  for (let i = 0; i < nIn; i++) {
    r.need(36, `${what}.input[${i}]`);
    const prevTxid = r.buf.subarray(r.pos, r.pos + 32);
    r.pos += 32;
    const vout = r.u32le();
    const scriptSig = r.varBytes(`${what}.input[${i}].scriptSig`);
    const sequence = r.u32le(`${what}.input[${i}].sequence`);
    inputs[i] = { prevTxid, vout, scriptSig, sequence, witness: EMPTY_WITNESS };
  }
  const nOut = r.count(`${what}.outputs`, MIN_OUTPUT_SIZE);
  const outputs: TxOut[] = new Array(nOut);
  for (let i = 0; i < nOut; i++) {
    const value = r.u64le(`${what}.output[${i}].value`);
    const scriptPubKey = r.varBytes(`${what}.output[${i}].scriptPubKey`);
    outputs[i] = { value, scriptPubKey };
  }
  const witnessOffset = r.pos;
  if (hasWitness) {
    if (nIn === 0) {
      // Core reads "0x00 0x01 0x00" as an extended tx with no inputs and rejects it as superfluous.
      throw new DecodeError('invalid-value', `${what}.inputs`, witnessOffset, 'witness flag with no inputs');
    }
    let anyWitness = false;
    for (let i = 0; i < nIn; i++) {
      const n = r.count(`${what}.input[${i}].witness`, 1);
      if (n === 0) continue;
      anyWitness = true;
      const items: Uint8Array[] = new Array(n);
      for (let j = 0; j < n; j++) items[j] = r.varBytes(`${what}.input[${i}].witness[${j}]`);
      (inputs[i] as { witness: Uint8Array[] }).witness = items;
    }
    if (!anyWitness) {
      // BIP-144: the extended form must not be used when all witnesses are empty.
      throw new DecodeError(
        'non-canonical',
        `${what}.witness`,
        witnessOffset,
        'witness flag set but all witnesses empty',
      );
    }
  }
  const locktime = r.u32le(`${what}.locktime`);
  const raw = r.buf.subarray(start, r.pos);
  return new ParsedTx(version, inputs, outputs, locktime, hasWitness, raw, witnessOffset - start);
}

/** Parses exactly one transaction from bytes; trailing bytes are an error. */
export function parseTx(bytes: Uint8Array, what = 'tx'): Tx {
  const r = new ByteReader(bytes);
  const tx = readTx(r, what);
  r.expectEnd(what);
  return tx;
}

/** Lets a block hasher fill the caches in bulk. */
export function setTxHashes(tx: Tx, txid: Uint8Array, wtxid: Uint8Array): void {
  const p = tx as ParsedTx;
  p._txid = txid;
  p._wtxid = wtxid;
}
