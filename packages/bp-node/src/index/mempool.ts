import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { offchainInputId, offchainOutputId, offchainTxId } from '@lnpbp/bitcoin/shortid/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import type { Block, Tx } from '@lnpbp/bitcoin/tx/types';
import type { Index } from './index.ts';

/**
 * Unconfirmed transactions, in memory. The mempool is the source's (bitcoind's or a peer's),
 * not ours: we mirror what it announces, so the mirror is rebuilt from `getMempool` on start
 * rather than stored. Txs carry off-chain LNPBP-5 ids; outspends and script history cover them.
 * They leave when a block confirms them, when a block confirms a conflicting spend (taking
 * their descendants along), when the source evicts them, or when a new tx replaces them (the
 * source accepted it, so it won); txs of disconnected blocks come back.
 *
 * How the source tells of evictions: bitcoind's ZMQ `sequence` R (expiry, size limit, RBF,
 * conflicts; not block inclusion) and, without ZMQ, the `getrawmempool` poll (which cannot tell a
 * confirmation from an eviction) reach `remove(txid, 'evicted')` through the Syncer; a P2P peer
 * announces no evictions (its txs leave here by confirmation, conflict or replacement only). No
 * size limit of our own: the source's bounds the mirror. Every exit, whatever its path, goes
 * through `drop`, which calls `onRemove` (push announces withdrawals from there).
 */
export interface MempoolEntry {
  txid: Uint8Array;
  raw: Uint8Array;
  tx: Tx;
  /** Arrival sequence number (mempool list and history order). */
  seq: number;
  /** Unix seconds of arrival. */
  time: number;
  /** Off-chain LNPBP-5 id of the tx. */
  shortId: bigint;
  vsize: number;
  /** inputs - outputs when every spent output is known (confirmed or in the mempool). */
  fee: bigint | null;
  /** sha256(script) hex of each spent output (null when unknown), by input. */
  spentScripts: (string | null)[];
  /**
   * The spent outputs themselves (null when unknown), by input: what the tx matched when it
   * came is matched again from these when it leaves (its parents may have left before it).
   */
  spent: (SpentOutput | null)[];
  /** sha256(script) hex of each output. */
  outScripts: string[];
}

export interface SpentOutput {
  script: Uint8Array;
  value: bigint;
}

export interface MempoolSpend {
  txid: Uint8Array;
  vin: number;
  shortId: bigint;
}

export interface MempoolHistoryItem {
  shortId: bigint;
  kind: 'funding' | 'spending';
  txid: Uint8Array;
  index: number;
  value: bigint;
  seq: number;
}

export type AddResult = 'added' | 'known' | 'confirmed' | 'invalid';
export type RemoveReason = 'confirmed' | 'conflict' | 'evicted' | 'replaced' | 'parent-removed';

const outpoint = (txidHex: string, vout: number) => `${txidHex}:${vout}`;

export class Mempool {
  private readonly entries = new Map<string, MempoolEntry>();
  /** "txidhex:vout" -> spending mempool tx and input. */
  private readonly spent = new Map<string, { txid: string; vin: number }>();
  /** script hash hex -> txids (hex) touching it, in arrival order. */
  private readonly byScript = new Map<string, Set<string>>();
  private seq = 0;
  private bytes = 0;
  /**
   * Called for every tx that leaves, with why (push notifications, logs), after it left: the
   * mempool no longer holds it (nor, when a tree leaves, its ancestors already dropped). For a
   * `conflict`, the conflicting block is already in the index (its tip).
   */
  onRemove: ((e: MempoolEntry, why: RemoveReason) => void) | null = null;

  constructor(private readonly index: Index) {}

  get size(): number {
    return this.entries.size;
  }

  /** Sum of raw tx sizes. */
  get totalBytes(): number {
    return this.bytes;
  }

  /** Adds a tx the source accepted; txs it double-spends leave (with their descendants). */
  add(raw: Uint8Array, time = Math.floor(Date.now() / 1000)): AddResult {
    let tx: Tx;
    try {
      tx = parseTx(raw);
    } catch (e) {
      if (e instanceof DecodeError) return 'invalid';
      throw e;
    }
    if (tx.isCoinbase) return 'invalid';
    const txid = tx.txid();
    const key = toHex(txid);
    if (this.entries.has(key)) return 'known';
    if (this.index.shortIdOfTx(txid) !== null) return 'confirmed';
    for (const inp of tx.inputs) {
      const other = this.spent.get(outpoint(toHex(inp.prevTxid), inp.vout));
      if (other && other.txid !== key) this.removeTree(other.txid, 'replaced');
    }
    const own = Uint8Array.from(raw);
    const owned = parseTx(own);
    let fee: bigint | null = 0n;
    const spentScripts: (string | null)[] = [];
    const spent: (SpentOutput | null)[] = [];
    for (const [vin, inp] of owned.inputs.entries()) {
      const prev = this.prevout(inp.prevTxid, inp.vout);
      spentScripts.push(prev ? toHex(sha256(prev.script)) : null);
      spent.push(prev);
      if (prev && fee !== null) fee += prev.value;
      else fee = null;
      this.spent.set(outpoint(toHex(inp.prevTxid), inp.vout), { txid: key, vin });
    }
    if (fee !== null) for (const o of owned.outputs) fee -= o.value;
    const outScripts = owned.outputs.map((o) => toHex(sha256(o.scriptPubKey)));
    const entry: MempoolEntry = {
      txid: owned.txid(),
      raw: own,
      tx: owned,
      seq: this.seq++,
      time,
      shortId: offchainTxId(txid),
      vsize: owned.vsize,
      fee,
      spentScripts,
      spent,
      outScripts,
    };
    this.entries.set(key, entry);
    this.bytes += own.length;
    for (const s of [...spentScripts, ...outScripts]) {
      if (s === null) continue;
      let set = this.byScript.get(s);
      if (!set) {
        set = new Set();
        this.byScript.set(s, set);
      }
      set.add(key);
    }
    return 'added';
  }

  /** The output a mempool input spends: confirmed (index) or from another mempool tx. */
  private prevout(txid: Uint8Array, vout: number): SpentOutput | null {
    const parent = this.entries.get(toHex(txid));
    if (parent) {
      const o = parent.tx.outputs[vout];
      return o ? { value: o.value, script: o.scriptPubKey } : null;
    }
    const o = this.index.output(txid, vout);
    return o ? { value: o.value, script: o.script } : null;
  }

  /** Removes a tx and every mempool tx that spends its outputs. */
  remove(txid: Uint8Array, why: RemoveReason): number {
    return this.removeTree(toHex(txid), why);
  }

  private removeTree(key: string, why: RemoveReason): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    this.drop(key, e, why);
    let n = 1;
    for (let vout = 0; vout < e.tx.outputs.length; vout++) {
      const child = this.spent.get(outpoint(key, vout));
      if (child) n += this.removeTree(child.txid, why === 'confirmed' ? 'parent-removed' : why);
    }
    return n;
  }

  private drop(key: string, e: MempoolEntry, why: RemoveReason): void {
    this.entries.delete(key);
    this.bytes -= e.raw.length;
    for (const inp of e.tx.inputs) {
      const op = outpoint(toHex(inp.prevTxid), inp.vout);
      if (this.spent.get(op)?.txid === key) this.spent.delete(op);
    }
    for (const s of [...e.spentScripts, ...e.outScripts]) {
      if (s === null) continue;
      const set = this.byScript.get(s);
      set?.delete(key);
      if (set?.size === 0) this.byScript.delete(s);
    }
    this.onRemove?.(e, why);
  }

  /**
   * A block was connected: its txs leave as confirmed (their mempool children stay), and any
   * mempool tx spending an outpoint the block spends leaves as a conflict, with descendants.
   */
  blockConnected(block: Block): void {
    for (const tx of block.txs) {
      const key = toHex(tx.txid());
      const e = this.entries.get(key);
      if (e) this.drop(key, e, 'confirmed');
    }
    for (const tx of block.txs) {
      if (tx.isCoinbase) continue;
      for (const inp of tx.inputs) {
        const other = this.spent.get(outpoint(toHex(inp.prevTxid), inp.vout));
        if (other) this.removeTree(other.txid, 'conflict');
      }
    }
  }

  /** A block was disconnected: its txs (but the coinbase) come back. */
  blockDisconnected(block: Block): void {
    for (const tx of block.txs) if (!tx.isCoinbase) this.add(tx.raw);
    // Spent scripts and fees of txs that were already here may now resolve through them.
    this.resolvePending();
  }

  /** Recomputes fees and spent scripts of entries whose inputs were unknown when they came. */
  resolvePending(): void {
    for (const [key, e] of this.entries) {
      if (e.fee !== null) continue;
      let fee: bigint | null = 0n;
      for (const [vin, inp] of e.tx.inputs.entries()) {
        const prev = this.prevout(inp.prevTxid, inp.vout);
        if (prev && e.spentScripts[vin] === null) {
          const s = toHex(sha256(prev.script));
          e.spentScripts[vin] = s;
          e.spent[vin] = prev;
          let set = this.byScript.get(s);
          if (!set) {
            set = new Set();
            this.byScript.set(s, set);
          }
          set.add(key);
        }
        if (prev && fee !== null) fee += prev.value;
        else fee = null;
      }
      if (fee !== null) for (const o of e.tx.outputs) fee -= o.value;
      e.fee = fee;
    }
  }

  /** Forgets everything without announcing it (tests; a source's view reset is not one). */
  clear(): void {
    this.entries.clear();
    this.spent.clear();
    this.byScript.clear();
    this.bytes = 0;
  }

  get(txid: Uint8Array): MempoolEntry | null {
    return this.entries.get(toHex(txid)) ?? null;
  }

  has(txid: Uint8Array): boolean {
    return this.entries.has(toHex(txid));
  }

  /** Entries in arrival order, from `afterSeq` (exclusive). */
  *list(afterSeq = -1): Generator<MempoolEntry> {
    for (const e of this.entries.values()) if (e.seq > afterSeq) yield e;
  }

  /** The mempool input spending txid:vout, if any. */
  outspend(txid: Uint8Array, vout: number): MempoolSpend | null {
    const s = this.spent.get(outpoint(toHex(txid), vout));
    if (!s) return null;
    const e = this.entries.get(s.txid)!;
    return { txid: e.txid, vin: s.vin, shortId: offchainInputId(e.txid, s.vin) };
  }

  /** Mempool entries touching sha256(script), in arrival order, after `afterSeq`. */
  *history(scriptHash: Uint8Array, afterSeq = -1): Generator<MempoolHistoryItem> {
    const sh = toHex(scriptHash);
    const set = this.byScript.get(sh);
    if (!set) return;
    const list = [...set].map((k) => this.entries.get(k)!).filter((e) => e.seq > afterSeq);
    list.sort((a, b) => a.seq - b.seq);
    for (const e of list) {
      for (const [vin, s] of e.spentScripts.entries()) {
        if (s !== sh) continue;
        const inp = e.tx.inputs[vin];
        const value = this.prevout(inp.prevTxid, inp.vout)?.value ?? 0n;
        yield {
          shortId: offchainInputId(e.txid, vin),
          kind: 'spending',
          txid: e.txid,
          index: vin,
          value,
          seq: e.seq,
        };
      }
      for (const [vout, s] of e.outScripts.entries()) {
        if (s !== sh) continue;
        const value = e.tx.outputs[vout].value;
        yield {
          shortId: offchainOutputId(e.txid, vout),
          kind: 'funding',
          txid: e.txid,
          index: vout,
          value,
          seq: e.seq,
        };
      }
    }
  }

  /** Electrum-style histogram: [feerate sat/vB, total vsize] from high to low, bins >= binVsize. */
  feeHistogram(binVsize = 100_000): { feeRate: number; vsize: number }[] {
    const rates: [number, number][] = [];
    for (const e of this.entries.values()) if (e.fee !== null) rates.push([Number(e.fee) / e.vsize, e.vsize]);
    rates.sort((a, b) => b[0] - a[0]);
    const out: { feeRate: number; vsize: number }[] = [];
    let acc = 0;
    for (const [rate, vsize] of rates) {
      acc += vsize;
      if (acc >= binVsize) {
        out.push({ feeRate: Math.floor(rate), vsize: acc });
        acc = 0;
      }
    }
    if (acc > 0) out.push({ feeRate: Math.floor(rates[rates.length - 1][0]), vsize: acc });
    return out;
  }
}
