import { equalBytes, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256Into } from '@lnpbp/bitcoin/hash/index';
import {
  blockChecksum,
  EXT_MAX_INDEX,
  EXT_MIN_INDEX,
  inputLo,
  onchainHi,
  outputLo,
  readShortIdHi,
  readShortIdLo,
  txLo,
  writeShortId,
} from '@lnpbp/bitcoin/shortid/index';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { BlockRejected } from './errors.ts';
import {
  EXT_TXID_PREFIX,
  EXTSPEND_ROW,
  encodeBlockRow,
  encodeTip,
  encodeUtxo,
  HISTORY_PREFIX,
  HISTORY_ROW,
  META_BASE,
  META_FILE_END,
  META_TIP,
  SPEND_ROW,
  TXID_PREFIX,
  TXID_ROW,
  u32be,
  u64be,
} from './schema.ts';
import { blockShapeRows } from './shapes.ts';
import type { Store } from './store.ts';
import { UndoWriter } from './undo.ts';
import { parseAndVerifyBlock } from './verify.ts';

export interface ConnectResult {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
  /** The parsed block (views into the raw bytes given), e.g. for the mempool. */
  block: Block;
  inputs: number;
  outputs: number;
  /**
   * Per input of the block, coinbase excluded, in block order: the spent output's script and
   * value (undefined/0 for an input spending below the index's base), as the undo record holds
   * them. Push matches watched scripts on these rather than reading each spent output back.
   */
  prevScripts: readonly (Uint8Array | undefined)[];
  prevValues: BigUint64Array;
}

/** Core's IsUnspendable: OP_RETURN first, or longer than MAX_SCRIPT_SIZE. Never in the UTXO set. */
export function isUnspendable(script: Uint8Array): boolean {
  return (script.length > 0 && script[0] === 0x6a) || script.length > 10_000;
}

/** Where an input's spent output was found. */
const EXTERNAL = 0;
const INDEXED = 1;
const SAME_BLOCK = 2;
/** pos * 2^18 + vout: a number key for an output of this block (vout < 2^18, pos < 2^14). */
const OUT_KEY = 262_144;

const undo = new UndoWriter();
const hash32 = new Uint8Array(new ArrayBuffer(32));

/**
 * One reused off-heap buffer for UTXO values: LMDB copies a value during the put, and lmdb-js
 * resolves a buffer's address once per ArrayBuffer, so a fresh small array per output would
 * cost an allocation plus a move off the V8 heap each.
 */
let utxoScratch = new Uint8Array(new ArrayBuffer(4096));
let utxoView = new DataView(utxoScratch.buffer);
function utxoValue(value: bigint, script: Uint8Array): Uint8Array {
  const n = 8 + script.length;
  if (n > utxoScratch.length) {
    utxoScratch = new Uint8Array(new ArrayBuffer(Math.max(n, 2 * utxoScratch.length)));
    utxoView = new DataView(utxoScratch.buffer);
  }
  utxoView.setBigUint64(0, value, true);
  utxoScratch.set(script, 8);
  return utxoScratch.subarray(0, n);
}

/**
 * The block's txs by txid, keyed by the txid's first 48 bits as a number (no hex strings); a
 * key shared by two txids (a 48-bit collision inside one block) falls back to comparing
 * every tx set so far.
 */
class TxPositions {
  private readonly byKey = new Map<number, number>();
  private collided = false;
  private count = 0;
  constructor(private readonly txs: readonly { txid(): Uint8Array }[]) {}

  private static key(t: Uint8Array): number {
    return t[0] + t[1] * 2 ** 8 + t[2] * 2 ** 16 + t[3] * 2 ** 24 + t[4] * 2 ** 32 + t[5] * 2 ** 40;
  }

  get(txid: Uint8Array): number | undefined {
    const p = this.byKey.get(TxPositions.key(txid));
    if (p !== undefined && equalBytes(this.txs[p].txid(), txid)) return p;
    if (!this.collided) return undefined;
    for (let i = 0; i < this.count; i++) if (equalBytes(this.txs[i].txid(), txid)) return i;
    return undefined;
  }

  /** Adds tx p (txs are added in order, each after its own inputs were resolved). */
  set(p: number): void {
    const k = TxPositions.key(this.txs[p].txid());
    if (this.byKey.has(k)) this.collided = true;
    else this.byKey.set(k, p);
    this.count = p + 1;
  }
}

/** A set of 8-byte output ids as numbers: height (24 bits) * 2^32 + low word, exact below 2^21. */
class OutputSet {
  private readonly nums = new Set<number>();
  private readonly strs = new Set<string>();

  /** False when the id was already in. */
  add(id: Uint8Array): boolean {
    const height = readShortIdHi(id, 0) >>> 8;
    if (height < 2 ** 21) {
      const n = height * 2 ** 32 + readShortIdLo(id, 0);
      if (this.nums.has(n)) return false;
      this.nums.add(n);
      return true;
    }
    const k = toHex(id);
    if (this.strs.has(k)) return false;
    this.strs.add(k);
    return true;
  }
}

/**
 * Verifies `raw` as the block at `height` on top of the tip, then writes it: the block file
 * record first (synced), then every table in one LMDB transaction. A block that fails any
 * check throws BlockRejected before anything is written.
 */
export function connectBlock(s: Store, raw: Uint8Array, height: number): ConnectResult {
  if (s.readOnly) throw new Error('index opened read-only');
  const tip = s.tip();
  if (tip !== null && height !== tip.height + 1) {
    throw new BlockRejected('bad-height', height, `the tip is at ${tip.height}`);
  }
  const block = parseAndVerifyBlock(raw, height, tip?.hash ?? null);
  const hash = block.header.hash();
  const hi = onchainHi(height, blockChecksum(hash));
  const base = s.base() ?? height;
  const txs = block.txs;

  // Pass 1: resolve every input to the output it spends, before writing anything.
  let nIn = 0;
  let nOut = 0;
  for (let p = 0; p < txs.length; p++) {
    if (p > 0) nIn += txs[p].inputs.length;
    nOut += txs[p].outputs.length;
  }
  const kinds = new Uint8Array(nIn);
  const fids = new Uint8Array(nIn * 8);
  const spentHashes = new Uint8Array(nIn * 32);
  const txPos = new TxPositions(txs);
  const spentOld = new OutputSet();
  const spentHere = new Set<number>();
  const prevScripts: (Uint8Array | undefined)[] = new Array(nIn);
  const prevValues = new BigUint64Array(nIn);
  undo.reset();
  let k = 0;
  for (let p = 0; p < txs.length; p++) {
    const tx = txs[p];
    // Before its inputs: a duplicate would otherwise show up as a double spend.
    if (txPos.get(tx.txid()) !== undefined) {
      throw new BlockRejected('duplicate-tx', height, `txid ${toHex(tx.txid())} twice in the block`);
    }
    if (p > 0) {
      for (let j = 0; j < tx.inputs.length; j++, k++) {
        const inp = tx.inputs[j];
        const q = txPos.get(inp.prevTxid);
        if (q !== undefined) {
          const src = txs[q];
          if (inp.vout >= src.outputs.length) {
            throw new BlockRejected(
              'missing-input',
              height,
              `tx ${p} input ${j} spends ${q}:${inp.vout}, no such output`,
            );
          }
          const key = q * OUT_KEY + inp.vout;
          if (spentHere.has(key))
            throw new BlockRejected('double-spend', height, `tx ${q}:${inp.vout} spent twice`);
          spentHere.add(key);
          const out = src.outputs[inp.vout];
          writeShortId(fids, k * 8, hi, outputLo(q, inp.vout));
          kinds[k] = SAME_BLOCK;
          sha256Into(out.scriptPubKey, spentHashes, k * 32);
          prevScripts[k] = out.scriptPubKey;
          prevValues[k] = out.value;
          undo.spent(fids.subarray(k * 8, k * 8 + 8), out.value, out.scriptPubKey);
          continue;
        }
        const found = findUnspent(s, inp.prevTxid, inp.vout, base > 0);
        if (found === null || found === 'spent') {
          if (found === null && base > 0) {
            kinds[k] = EXTERNAL;
            undo.external();
            continue;
          }
          throw new BlockRejected(
            'missing-input',
            height,
            `tx ${p} input ${j}: output ${toHex(Uint8Array.from(inp.prevTxid).reverse())}:${inp.vout} ${found === null ? 'is unknown' : 'is spent or does not exist'}`,
          );
        }
        if (!spentOld.add(found.id)) {
          throw new BlockRejected('double-spend', height, `output ${toHex(found.id)} spent twice`);
        }
        fids.set(found.id, k * 8);
        kinds[k] = INDEXED;
        const script = found.utxo.subarray(8);
        sha256Into(script, spentHashes, k * 32);
        prevScripts[k] = script;
        const value = new DataView(found.utxo.buffer, found.utxo.byteOffset, 8).getBigUint64(0, true);
        prevValues[k] = value;
        undo.spent(found.id, value, script);
      }
    }
    txPos.set(p);
  }

  const shapeRows = blockShapeRows(txs, hi, prevScripts);

  // The block file record: block | txids | undo, synced before the commit that refers to it.
  const txids = new Uint8Array(32 * txs.length);
  const txOffsets = new Uint32Array(txs.length);
  for (let p = 0; p < txs.length; p++) {
    txids.set(txs[p].txid(), 32 * p);
    txOffsets[p] = txs[p].raw.byteOffset - block.raw.byteOffset;
  }
  const undoBytes = undo.bytes();
  const offset = s.file.append([raw, txids, undoBytes]);
  s.file.sync();
  const row = encodeBlockRow({
    header: block.header.raw,
    offset,
    blockSize: raw.length,
    undoSize: undoBytes.length,
    txCount: txs.length,
    txOffsets,
  });

  try {
    s.env.transactionSync(() => {
      s.blocks.putSync(u32be(height), row, { append: true });
      s.hashes.putSync(hash, u32be(height));
      const txRow = new Uint8Array(TXID_ROW);
      const spendRow = new Uint8Array(SPEND_ROW);
      const extRow = new Uint8Array(EXTSPEND_ROW);
      const extView = new DataView(extRow.buffer);
      const histRow = new Uint8Array(HISTORY_ROW);
      const id = new Uint8Array(8);
      const late: [Uint8Array, Uint8Array][] = [];
      k = 0;
      for (let p = 0; p < txs.length; p++) {
        const tx = txs[p];
        txRow.set(tx.txid().subarray(0, TXID_PREFIX), 0);
        writeShortId(txRow, TXID_PREFIX, hi, txLo(p));
        s.txids.put(txRow);
        if (p > 0) {
          for (let j = 0; j < tx.inputs.length; j++, k++) {
            if (kinds[k] === EXTERNAL) {
              const inp = tx.inputs[j];
              extRow.set(inp.prevTxid.subarray(0, EXT_TXID_PREFIX), 0);
              extView.setUint32(EXT_TXID_PREFIX, inp.vout);
              writeShortId(extRow, EXT_TXID_PREFIX + 4, hi, inputLo(p, j));
              s.extspends.put(extRow);
              continue;
            }
            const fid = fids.subarray(k * 8, k * 8 + 8);
            spendRow.set(fid, 0);
            writeShortId(spendRow, 8, hi, inputLo(p, j));
            s.spends.put(spendRow);
            histRow.set(spentHashes.subarray(k * 32, k * 32 + HISTORY_PREFIX), 0);
            writeShortId(histRow, HISTORY_PREFIX, hi, inputLo(p, j));
            s.history.put(histRow);
            if (kinds[k] === INDEXED) s.utxos.removeSync(fid);
          }
        }
        for (let i = 0; i < tx.outputs.length; i++) {
          const out = tx.outputs[i];
          writeShortId(id, 0, hi, outputLo(p, i));
          sha256Into(out.scriptPubKey, hash32, 0);
          histRow.set(hash32.subarray(0, HISTORY_PREFIX), 0);
          histRow.set(id, HISTORY_PREFIX);
          s.history.put(histRow);
          if (spentHere.size > 0 && spentHere.has(p * OUT_KEY + i)) continue;
          if (isUnspendable(out.scriptPubKey)) continue;
          // Extended ids (outputs >= 32,767) sort after every ordinary id of the block.
          if (i >= EXT_MIN_INDEX) late.push([id.slice(), encodeUtxo(out.value, out.scriptPubKey)]);
          else s.utxos.putSync(id, utxoValue(out.value, out.scriptPubKey), { append: true });
        }
      }
      for (const [lid, value] of late) s.utxos.putSync(lid, value, { append: true });
      for (const r of shapeRows) s.shapes.putSync(r.key, r.value);
      s.meta.putSync(META_TIP, encodeTip(height, hash));
      s.meta.putSync(META_FILE_END, u64be(s.file.length));
      if (s.base() === null) s.meta.putSync(META_BASE, u32be(height));
    }, s.commitFlags);
  } catch (e) {
    s.file.truncate(offset);
    throw e;
  }
  return { height, hash, block, inputs: nIn, outputs: nOut, prevScripts, prevValues };
}

/**
 * The unspent output txid:vout in the index: its id and UTXO row; 'spent' when the tx is
 * indexed but that output is not unspent; null when no indexed tx has that txid. Candidates
 * share a 48-bit txid prefix; the full txid is read back when more than one shares it or when
 * the index started above genesis (then a lone candidate may be a different tx). Later
 * candidates first: of two txs with one txid (BIP-30's two coinbases) the later is spendable.
 */
export function findUnspent(
  s: Store,
  txid: Uint8Array,
  vout: number,
  alwaysVerify: boolean,
): { id: Uint8Array; utxo: Uint8Array } | 'spent' | null {
  const cands = s.txidCandidates(txid);
  let known = false;
  for (let i = cands.length - 1; i >= 0; i--) {
    const c = cands[i];
    const chi = readShortIdHi(c, 0);
    const pos = readShortIdLo(c, 0) >>> 16;
    if (alwaysVerify || cands.length > 1) {
      const full = s.txidAt(chi >>> 8, pos);
      if (full === null || !equalBytes(full, txid)) continue;
    }
    known = true;
    if (vout > EXT_MAX_INDEX) continue;
    const id = new Uint8Array(8);
    writeShortId(id, 0, chi, outputLo(pos, vout));
    const utxo = s.utxos.get(id);
    if (utxo !== undefined) return { id, utxo };
  }
  return known ? 'spent' : null;
}
