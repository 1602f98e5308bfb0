/**
 * Where every input and output of a parsed block sits in its bytes, in flat typed arrays: what
 * the connect path reads instead of `tx.inputs` / `tx.outputs`.
 *
 * Why: a batch holds its blocks until the commit, so every object it builds per input or output
 * (the parser's TxIn/TxOut, a view per script, a BigInt per value, all cached on the Tx) lives
 * through several young-generation collections and is copied by each; the scavenger was a
 * quarter of the batch path (docs/performance.md, "Indexing"). Here a block is a dozen typed
 * arrays. Views made from them are temporaries the caller drops at once.
 *
 * Input and output numbers are the block's: input g of tx p is `inFirst[p] + j` (the coinbase's
 * input included), output o likewise through `outFirst`.
 */
import type { Block, TxIn } from '@lnpbp/bitcoin/tx/types';

/** A CompactSize the parser already accepted (canonical, at most 4 bytes of value). */
function compact(b: Uint8Array, p: number): number {
  const first = b[p];
  if (first < 0xfd) return first;
  if (first === 0xfd) return b[p + 1] | (b[p + 2] << 8);
  return (b[p + 1] | (b[p + 2] << 8) | (b[p + 3] << 16) | (b[p + 4] << 24)) >>> 0;
}

function compactLength(v: number): number {
  return v < 0xfd ? 1 : v <= 0xffff ? 3 : 5;
}

const EMPTY_WITNESS: Uint8Array[] = [];

/** A layout's arrays, as a preparing worker hands them over (each owning its buffer). */
export interface LayoutParts {
  raw: Uint8Array;
  inFirst: Uint32Array;
  outFirst: Uint32Array;
  inAt: Uint32Array;
  sigAt: Uint32Array;
  sigLen: Uint32Array;
  witAt: Uint32Array;
  outAt: Uint32Array;
  spkAt: Uint32Array;
  spkLen: Uint32Array;
}

/**
 * Input offsets are needed only while a block is added: they live in these arrays, reused by
 * the next block (grown when a block has more inputs).
 */
let inScratch = 4096;
let inAtS = new Uint32Array(inScratch);
let sigAtS = new Uint32Array(inScratch);
let sigLenS = new Uint32Array(inScratch);
let witAtS = new Uint32Array(inScratch);
let outScratch = 8192;
let outAtS = new Uint32Array(outScratch);
let spkAtS = new Uint32Array(outScratch);
let spkLenS = new Uint32Array(outScratch);

export class BlockLayout {
  readonly raw: Uint8Array;
  readonly txCount: number;
  /** Per tx (and one past the last): its first input / output number. */
  readonly inFirst: Uint32Array;
  readonly outFirst: Uint32Array;
  /** Per input: offset of its prevTxid (vout follows), of its scriptSig and its length. */
  readonly inAt: Uint32Array;
  readonly sigAt: Uint32Array;
  readonly sigLen: Uint32Array;
  /** Per input: offset of its witness item count, 0 when its tx has no witness section. */
  readonly witAt: Uint32Array;
  /** Per output: offset of its value (u64 LE, the script's CompactSize follows) and script. */
  readonly outAt: Uint32Array;
  readonly spkAt: Uint32Array;
  readonly spkLen: Uint32Array;
  private readonly view: DataView;

  /**
   * Walks a block `parseBlock` accepted (so the walk cannot fail). The input arrays are shared
   * scratch, valid until the next BlockLayout walked; the output arrays are the layout's own.
   * Given a worker's parts instead (`raw` then being this thread's copy of the same bytes), it
   * takes their arrays as they are.
   */
  constructor(src: Block | LayoutParts) {
    if (!('header' in src)) {
      const raw = src.raw;
      this.raw = raw;
      this.txCount = src.inFirst.length - 1;
      this.view = new DataView(raw.buffer, raw.byteOffset, raw.length);
      this.inFirst = src.inFirst;
      this.outFirst = src.outFirst;
      this.inAt = src.inAt;
      this.sigAt = src.sigAt;
      this.sigLen = src.sigLen;
      this.witAt = src.witAt;
      this.outAt = src.outAt;
      this.spkAt = src.spkAt;
      this.spkLen = src.spkLen;
      return;
    }
    const block = src;
    const raw = block.raw;
    const txs = block.txs;
    const n = txs.length;
    this.raw = raw;
    this.txCount = n;
    this.view = new DataView(raw.buffer, raw.byteOffset, raw.length);
    const inFirst = new Uint32Array(n + 1);
    const outFirst = new Uint32Array(n + 1);
    // Upper bounds from the smallest input (41 bytes) and output (9 bytes).
    const maxIn = Math.ceil(raw.length / 41) + 1;
    const maxOut = Math.ceil(raw.length / 9) + 1;
    if (maxIn > inScratch) {
      inScratch = maxIn;
      inAtS = new Uint32Array(maxIn);
      sigAtS = new Uint32Array(maxIn);
      sigLenS = new Uint32Array(maxIn);
      witAtS = new Uint32Array(maxIn);
    }
    if (maxOut > outScratch) {
      outScratch = maxOut;
      outAtS = new Uint32Array(maxOut);
      spkAtS = new Uint32Array(maxOut);
      spkLenS = new Uint32Array(maxOut);
    }
    let g = 0;
    let o = 0;
    for (let t = 0; t < n; t++) {
      const tx = txs[t];
      let p = tx.raw.byteOffset - raw.byteOffset + 4;
      const witness = tx.hasWitness;
      if (witness) p += 2;
      inFirst[t] = g;
      outFirst[t] = o;
      const nIn = compact(raw, p);
      p += compactLength(nIn);
      for (let j = 0; j < nIn; j++, g++) {
        inAtS[g] = p;
        p += 36;
        const len = compact(raw, p);
        p += compactLength(len);
        sigAtS[g] = p;
        sigLenS[g] = len;
        p += len + 4;
      }
      const nOut = compact(raw, p);
      p += compactLength(nOut);
      for (let i = 0; i < nOut; i++, o++) {
        outAtS[o] = p;
        p += 8;
        const len = compact(raw, p);
        p += compactLength(len);
        spkAtS[o] = p;
        spkLenS[o] = len;
        p += len;
      }
      const g0 = inFirst[t];
      if (!witness) {
        witAtS.fill(0, g0, g);
        continue;
      }
      for (let j = g0; j < g; j++) {
        witAtS[j] = p;
        const items = compact(raw, p);
        p += compactLength(items);
        for (let k = 0; k < items; k++) {
          const len = compact(raw, p);
          p += compactLength(len) + len;
        }
      }
    }
    inFirst[n] = g;
    outFirst[n] = o;
    this.inFirst = inFirst;
    this.outFirst = outFirst;
    this.inAt = inAtS;
    this.sigAt = sigAtS;
    this.sigLen = sigLenS;
    this.witAt = witAtS;
    this.outAt = outAtS.slice(0, o);
    this.spkAt = spkAtS.slice(0, o);
    this.spkLen = spkLenS.slice(0, o);
  }

  /** The arrays, each a copy that owns its buffer (the input arrays may be shared scratch). */
  parts(): LayoutParts {
    const nIn = this.inFirst[this.txCount];
    return {
      raw: this.raw,
      inFirst: this.inFirst,
      outFirst: this.outFirst,
      inAt: this.inAt.slice(0, nIn),
      sigAt: this.sigAt.slice(0, nIn),
      sigLen: this.sigLen.slice(0, nIn),
      witAt: this.witAt.slice(0, nIn),
      outAt: this.outAt,
      spkAt: this.spkAt,
      spkLen: this.spkLen,
    };
  }

  /** Inputs of tx t. */
  inputs(t: number): number {
    return this.inFirst[t + 1] - this.inFirst[t];
  }

  /** Outputs of tx t. */
  outputs(t: number): number {
    return this.outFirst[t + 1] - this.outFirst[t];
  }

  vout(g: number): number {
    return this.view.getUint32(this.inAt[g] + 32, true);
  }

  /** Input g's prevTxid (a new view). */
  prevTxid(g: number): Uint8Array {
    const at = this.inAt[g];
    return this.raw.subarray(at, at + 32);
  }

  /** Output o's scriptPubKey (a new view). */
  script(o: number): Uint8Array {
    const at = this.spkAt[o];
    return this.raw.subarray(at, at + this.spkLen[o]);
  }

  value(o: number): bigint {
    return this.view.getBigUint64(this.outAt[o], true);
  }

  /** Core's IsUnspendable on output o: OP_RETURN first, or longer than MAX_SCRIPT_SIZE. */
  unspendable(o: number): boolean {
    const n = this.spkLen[o];
    return (n > 0 && this.raw[this.spkAt[o]] === 0x6a) || n > 10_000;
  }

  /** A coinbase input: prevTxid all zero, vout 0xffffffff. */
  coinbaseInput(g: number): boolean {
    const at = this.inAt[g];
    const b = this.raw;
    if (this.view.getUint32(at + 32, true) !== 0xffffffff) return false;
    for (let i = 0; i < 32; i++) if (b[at + i] !== 0) return false;
    return true;
  }

  /** Tx t is a coinbase (one input, a coinbase one): Tx.isCoinbase without building inputs. */
  isCoinbase(t: number): boolean {
    return this.inputs(t) === 1 && this.coinbaseInput(this.inFirst[t]);
  }

  /**
   * Output o is one of the five common templates (P2WPKH, P2SH, P2PKH, P2WSH, P2TR), checked on
   * the bytes as classify() checks them: a standard output, so no shape row.
   */
  commonOutput(o: number): boolean {
    const b = this.raw;
    const at = this.spkAt[o];
    switch (this.spkLen[o]) {
      case 22:
        return b[at] === 0x00 && b[at + 1] === 20;
      case 23:
        return b[at] === 0xa9 && b[at + 1] === 20 && b[at + 22] === 0x87;
      case 25:
        return (
          b[at] === 0x76 &&
          b[at + 1] === 0xa9 &&
          b[at + 2] === 20 &&
          b[at + 23] === 0x88 &&
          b[at + 24] === 0xac
        );
      case 34:
        return b[at + 1] === 32 && (b[at] === 0x00 || b[at] === 0x51);
      default:
        return false;
    }
  }

  /**
   * Input g has an empty scriptSig and a witness that inferSpend (script/revealed.ts) reads as a
   * P2WPKH spend ([DER sig or empty, 33-byte compressed key]) or a taproot key-path spend (one
   * 64/65-byte item): with the spent script unknown, it reveals no script.
   */
  keyOnlyWitness(g: number): boolean {
    let p = this.witAt[g];
    if (p === 0 || this.sigLen[g] !== 0) return false;
    const b = this.raw;
    const items = b[p++];
    if (items === 1) {
      const len = b[p];
      return len === 64 || len === 65;
    }
    if (items !== 2) return false;
    const len0 = compact(b, p);
    p += compactLength(len0);
    const sig = len0 === 0 || (len0 >= 9 && len0 <= 73 && b[p] === 0x30 && b[p + 1] === len0 - 3);
    p += len0;
    return sig && b[p] === 33 && (b[p + 1] === 2 || b[p + 1] === 3);
  }

  /**
   * Input g's scriptSig is one that inferSpend reads as revealing no script: `<DER sig> <pubkey>`
   * (two direct pushes, a 33- or 65-byte key) with no witness, a P2PKH spend; or one push of a
   * v0 20-byte witness program, a nested P2WPKH spend.
   */
  keyOnlyScriptSig(g: number): boolean {
    const n = this.sigLen[g];
    const b = this.raw;
    const at = this.sigAt[g];
    if (n === 23) return b[at] === 22 && b[at + 1] === 0x00 && b[at + 2] === 20;
    const w = this.witAt[g];
    if (w !== 0 && b[w] !== 0) return false;
    const l1 = b[at];
    if (l1 < 9 || l1 > 73 || b[at + 1] !== 0x30 || b[at + 2] !== l1 - 3) return false;
    const l2 = b[at + 1 + l1];
    if (n !== 2 + l1 + l2) return false;
    const k = b[at + 2 + l1];
    return (l2 === 33 && (k === 2 || k === 3)) || (l2 === 65 && (k === 4 || k === 6 || k === 7));
  }

  /** Input g as a TxIn (a temporary: new objects and views each call). */
  input(g: number): TxIn {
    const b = this.raw;
    const sa = this.sigAt[g];
    let witness = EMPTY_WITNESS;
    let p = this.witAt[g];
    if (p !== 0) {
      const items = compact(b, p);
      p += compactLength(items);
      if (items > 0) {
        witness = new Array(items);
        for (let k = 0; k < items; k++) {
          const len = compact(b, p);
          p += compactLength(len);
          witness[k] = b.subarray(p, p + len);
          p += len;
        }
      }
    }
    return {
      prevTxid: this.prevTxid(g),
      vout: this.vout(g),
      scriptSig: b.subarray(sa, sa + this.sigLen[g]),
      sequence: this.view.getUint32(sa + this.sigLen[g], true),
      witness,
    };
  }
}
