import { ByteReader } from '../bytes/reader.ts';
import { DecodeError } from '../errors.ts';
import { sha256d } from '../hash/index.ts';
import type { Tx, TxIn, TxOut } from './types.ts';

/** Smallest possible serialized input: 32 prev txid + 4 vout + 1 script length + 4 sequence. */
const MIN_INPUT_SIZE = 41;
/** Smallest possible serialized output: 8 value + 1 script length. */
const MIN_OUTPUT_SIZE = 9;
const EMPTY_WITNESS: Uint8Array[] = [];

/**
 * A parsed transaction. Parsing is one validating pass over the bytes that records where the
 * sections start and allocates nothing per input or output; `inputs` and `outputs` are built
 * on first access from those offsets (the bytes were checked, so that walk cannot fail). A
 * block of 3,000 txs is then a few thousand objects, not a few hundred thousand, which is most
 * of the parser's speed: it was spending two thirds of its time in the garbage collector.
 */
class ParsedTx implements Tx {
  readonly version: number;
  readonly locktime: number;
  readonly hasWitness: boolean;
  readonly raw: Uint8Array;
  readonly witnessOffset: number;
  /** Cached hashes, filled lazily or in bulk by a block hasher. */
  _txid: Uint8Array | undefined;
  _wtxid: Uint8Array | undefined;
  private readonly buf: Uint8Array;
  /** Absolute offsets in buf of the input count and the output count. */
  private readonly inPos: number;
  private readonly outPos: number;
  private readonly nIn: number;
  private readonly nOut: number;
  private _inputs: TxIn[] | undefined;
  private _outputs: TxOut[] | undefined;

  constructor(
    buf: Uint8Array,
    start: number,
    end: number,
    version: number,
    hasWitness: boolean,
    inPos: number,
    nIn: number,
    outPos: number,
    nOut: number,
    witnessPos: number,
    locktime: number,
  ) {
    this.buf = buf;
    this.version = version;
    this.hasWitness = hasWitness;
    this.inPos = inPos;
    this.nIn = nIn;
    this.outPos = outPos;
    this.nOut = nOut;
    this.locktime = locktime;
    this.raw = buf.subarray(start, end);
    this.witnessOffset = witnessPos - start;
    this._txid = undefined;
    this._wtxid = undefined;
    this._inputs = undefined;
    this._outputs = undefined;
  }

  get inputs(): TxIn[] {
    return this._inputs ?? this.buildInputs();
  }

  get outputs(): TxOut[] {
    return this._outputs ?? this.buildOutputs();
  }

  private buildInputs(): TxIn[] {
    const buf = this.buf;
    const ab = buf.buffer;
    const o = buf.byteOffset;
    const n = this.nIn;
    const inputs: TxIn[] = new Array(n);
    let p = this.inPos + compactLength(n);
    for (let i = 0; i < n; i++) {
      const prevTxid = new Uint8Array(ab, o + p, 32);
      const vout = u32(buf, p + 32);
      p += 36;
      const len = compactValue(buf, p);
      p += compactLength(len);
      const scriptSig = new Uint8Array(ab, o + p, len);
      p += len;
      inputs[i] = { prevTxid, vout, scriptSig, sequence: u32(buf, p), witness: EMPTY_WITNESS };
      p += 4;
    }
    if (this.hasWitness) {
      p = this.raw.byteOffset - buf.byteOffset + this.witnessOffset;
      for (let i = 0; i < n; i++) {
        const count = compactValue(buf, p);
        p += compactLength(count);
        if (count === 0) continue;
        const items: Uint8Array[] = new Array(count);
        for (let j = 0; j < count; j++) {
          const len = compactValue(buf, p);
          p += compactLength(len);
          items[j] = new Uint8Array(ab, o + p, len);
          p += len;
        }
        (inputs[i] as { witness: Uint8Array[] }).witness = items;
      }
    }
    this._inputs = inputs;
    return inputs;
  }

  private buildOutputs(): TxOut[] {
    const buf = this.buf;
    const ab = buf.buffer;
    const o = buf.byteOffset;
    const n = this.nOut;
    const outputs: TxOut[] = new Array(n);
    let p = this.outPos + compactLength(n);
    for (let i = 0; i < n; i++) {
      const lo = u32(buf, p);
      const hi = u32(buf, p + 4);
      // Below 2^53 the number is exact and BigInt(number) is cheaper than combining halves.
      const value = hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
      p += 8;
      const len = compactValue(buf, p);
      p += compactLength(len);
      outputs[i] = { value, scriptPubKey: new Uint8Array(ab, o + p, len) };
      p += len;
    }
    this._outputs = outputs;
    return outputs;
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
    if (this.nIn !== 1) return false;
    const ins = this.inputs;
    if (ins[0].vout !== 0xffffffff) return false;
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

function u32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/** Bytes of the canonical CompactSize encoding of v (the parser accepts only canonical ones). */
function compactLength(v: number): number {
  return v < 0xfd ? 1 : v <= 0xffff ? 3 : 5;
}

/** A CompactSize already validated by the scan. */
function compactValue(b: Uint8Array, p: number): number {
  const first = b[p];
  if (first < 0xfd) return first;
  if (first === 0xfd) return b[p + 1] | (b[p + 2] << 8);
  return u32(b, p + 1);
}

/**
 * Reads a CompactSize at p for the scan: the value, or -1 for anything ByteReader.compactSize
 * would refuse (truncated, non-canonical, 8-byte).
 */
function scanCompact(b: Uint8Array, p: number, end: number): number {
  if (p >= end) return -1;
  const first = b[p];
  if (first < 0xfd) return first;
  if (first === 0xfd) {
    if (p + 3 > end) return -1;
    const v = b[p + 1] | (b[p + 2] << 8);
    return v < 0xfd ? -1 : v;
  }
  if (first === 0xfe) {
    if (p + 5 > end) return -1;
    const v = u32(b, p + 1);
    return v < 0x10000 ? -1 : v;
  }
  return -1;
}

/** The failing read, so the cold path can replay it through ByteReader for the exact error. */
const F_VERSION = 0;
const F_INPUTS = 1;
const F_INPUT = 2;
const F_SCRIPTSIG = 3;
const F_SEQUENCE = 4;
const F_OUTPUTS = 5;
const F_VALUE = 6;
const F_SCRIPTPUBKEY = 7;
const F_WITNESS_COUNT = 8;
const F_WITNESS_ITEM = 9;
const F_LOCKTIME = 10;

function fieldName(prefix: string, field: number, i: number, j: number): string {
  switch (field) {
    case F_VERSION:
      return `${prefix}.version`;
    case F_INPUTS:
      return `${prefix}.inputs`;
    case F_INPUT:
      return `${prefix}.input[${i}]`;
    case F_SCRIPTSIG:
      return `${prefix}.input[${i}].scriptSig`;
    case F_SEQUENCE:
      return `${prefix}.input[${i}].sequence`;
    case F_OUTPUTS:
      return `${prefix}.outputs`;
    case F_VALUE:
      return `${prefix}.output[${i}].value`;
    case F_SCRIPTPUBKEY:
      return `${prefix}.output[${i}].scriptPubKey`;
    case F_WITNESS_COUNT:
      return `${prefix}.input[${i}].witness`;
    case F_WITNESS_ITEM:
      return `${prefix}.input[${i}].witness[${j}]`;
    default:
      return `${prefix}.locktime`;
  }
}

/**
 * Cold path: the scan found a fault at p. Replays the read through ByteReader, which throws the
 * DecodeError (code, field name, offset, detail) the reader-based parser always gave.
 */
function failAt(
  r: ByteReader,
  p: number,
  prefix: string,
  field: number,
  i: number,
  j: number,
  fixed: number,
): never {
  const what = fieldName(prefix, field, i, j);
  const rr = new ByteReader(r.buf, p, r.end);
  if (fixed > 0) rr.need(fixed, what);
  else if (field === F_INPUTS) rr.count(what, MIN_INPUT_SIZE);
  else if (field === F_OUTPUTS) rr.count(what, MIN_OUTPUT_SIZE);
  else if (field === F_WITNESS_COUNT) rr.count(what, 1);
  else rr.varBytes(what);
  throw new Error(`tx parser: scan and reader disagree about ${what} at offset ${p}`);
}

function prefixOf(what: string, index: number): string {
  return index < 0 ? what : `${what}.tx[${index}]`;
}

/**
 * Parses one transaction starting at r.pos (legacy or BIP-144). Byte fields are views into
 * r.buf. `what` prefixes error locations, e.g. "block.tx[12]".
 */
export function readTx(r: ByteReader, what = 'tx'): Tx {
  return scanTx(r, what, -1);
}

/**
 * readTx for the block parser: error locations are `${what}.tx[${index}]...` (index >= 0), the
 * string built only when there is an error.
 */
export function scanTx(r: ByteReader, what: string, index: number): Tx {
  const b = r.buf;
  const end = r.end;
  const start = r.pos;
  let p = start;
  if (end - p < 4) failAt(r, p, prefixOf(what, index), F_VERSION, 0, 0, 4);
  const version = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
  p += 4;
  let hasWitness = false;
  // BIP-144: a zero input count followed by flag 0x01 marks the extended serialization.
  // "00 00" is a legacy tx with no inputs and no outputs, as Core reads it.
  if (end - p >= 2 && b[p] === 0x00 && b[p + 1] !== 0x00) {
    const flag = b[p + 1];
    if (flag !== 0x01) {
      throw new DecodeError(
        'invalid-value',
        `${prefixOf(what, index)}.flag`,
        p + 1,
        `witness flag ${flag}, expected 1`,
      );
    }
    hasWitness = true;
    p += 2;
  }
  const inPos = p;
  const nIn = scanCompact(b, p, end);
  if (nIn < 0) failAt(r, p, prefixOf(what, index), F_INPUTS, 0, 0, 0);
  p += compactLength(nIn);
  if (nIn > Math.floor((end - p) / MIN_INPUT_SIZE))
    failAt(r, inPos, prefixOf(what, index), F_INPUTS, 0, 0, 0);
  for (let i = 0; i < nIn; i++) {
    if (end - p < 36) failAt(r, p, prefixOf(what, index), F_INPUT, i, 0, 36);
    p += 36;
    const len = scanCompact(b, p, end);
    if (len < 0 || len > end - p - compactLength(len))
      failAt(r, p, prefixOf(what, index), F_SCRIPTSIG, i, 0, 0);
    p += compactLength(len) + len;
    if (end - p < 4) failAt(r, p, prefixOf(what, index), F_SEQUENCE, i, 0, 4);
    p += 4;
  }
  const outPos = p;
  const nOut = scanCompact(b, p, end);
  if (nOut < 0) failAt(r, p, prefixOf(what, index), F_OUTPUTS, 0, 0, 0);
  p += compactLength(nOut);
  if (nOut > Math.floor((end - p) / MIN_OUTPUT_SIZE))
    failAt(r, outPos, prefixOf(what, index), F_OUTPUTS, 0, 0, 0);
  for (let i = 0; i < nOut; i++) {
    if (end - p < 8) failAt(r, p, prefixOf(what, index), F_VALUE, i, 0, 8);
    p += 8;
    const len = scanCompact(b, p, end);
    if (len < 0 || len > end - p - compactLength(len))
      failAt(r, p, prefixOf(what, index), F_SCRIPTPUBKEY, i, 0, 0);
    p += compactLength(len) + len;
  }
  const witnessPos = p;
  if (hasWitness) {
    if (nIn === 0) {
      // Core reads "0x00 0x01 0x00" as an extended tx with no inputs and rejects it as superfluous.
      throw new DecodeError(
        'invalid-value',
        `${prefixOf(what, index)}.inputs`,
        witnessPos,
        'witness flag with no inputs',
      );
    }
    let anyWitness = false;
    for (let i = 0; i < nIn; i++) {
      const countPos = p;
      const n = scanCompact(b, p, end);
      if (n < 0) failAt(r, p, prefixOf(what, index), F_WITNESS_COUNT, i, 0, 0);
      p += compactLength(n);
      if (n > end - p) failAt(r, countPos, prefixOf(what, index), F_WITNESS_COUNT, i, 0, 0);
      if (n !== 0) anyWitness = true;
      for (let j = 0; j < n; j++) {
        const len = scanCompact(b, p, end);
        if (len < 0 || len > end - p - compactLength(len))
          failAt(r, p, prefixOf(what, index), F_WITNESS_ITEM, i, j, 0);
        p += compactLength(len) + len;
      }
    }
    if (!anyWitness) {
      // BIP-144: the extended form must not be used when all witnesses are empty.
      throw new DecodeError(
        'non-canonical',
        `${prefixOf(what, index)}.witness`,
        witnessPos,
        'witness flag set but all witnesses empty',
      );
    }
  }
  if (end - p < 4) failAt(r, p, prefixOf(what, index), F_LOCKTIME, 0, 0, 4);
  const locktime = u32(b, p);
  p += 4;
  r.pos = p;
  return new ParsedTx(b, start, p, version, hasWitness, inPos, nIn, outPos, nOut, witnessPos, locktime);
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
