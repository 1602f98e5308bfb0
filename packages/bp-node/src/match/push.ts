/**
 * Push matching: given a connected block or a mempool tx, which pattern subscriptions and
 * descriptor watches it matches. A tx's revealed scripts are shaped once and looked up by
 * shape key among the subscriptions, so the cost per tx does not grow with the number of
 * patterns. Descriptor watches hold a window of derived script hashes per branch and move it
 * forward as addresses get used (the gap stays ahead of the last used index).
 */
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import type { Descriptor } from '@lnpbp/bitcoin/descriptor/index';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { type CompiledPattern, type ShapeContext, scriptShape } from '@lnpbp/bitcoin/pattern/index';
import type { Block, Tx } from '@lnpbp/bitcoin/tx/types';
import { readStoredBlock } from '../index/disconnect.ts';
import type { Index } from '../index/index.ts';
import type { Mempool, MempoolEntry } from '../index/mempool.ts';
import { isRecordedScriptPubKey, revealedOf } from '../index/shapes.ts';
import { decodeUndo } from '../index/undo.ts';
import { checkGap, derive, hasHistory, scanDescriptor, watchOnlyDescriptor } from './descriptor.ts';
import { type MatchItem, toPattern } from './pattern.ts';

/** A script a tx reveals (input) or holds (non-standard output), shaped. */
export interface TxReveal {
  vin?: number;
  vout?: number;
  context: ShapeContext;
  script: Uint8Array;
  shape: string;
  shapeKeyHex: string;
  values: ReturnType<typeof scriptShape>['values'];
}

/**
 * The scripts `tx` reveals. `prevScript(vin)` is the spent output's scriptPubKey when known
 * (from the UTXO set, the block's undo record or the mempool); unknown ones are inferred.
 */
export function txReveals(tx: Tx, prevScript: (vin: number) => Uint8Array | undefined): TxReveal[] {
  const out: TxReveal[] = [];
  if (!isCoinbaseTx(tx)) {
    for (let vin = 0; vin < tx.inputs.length; vin++) {
      const r = revealedOf(tx.inputs[vin], prevScript(vin));
      if (r === null) continue;
      const sh = scriptShape(r.script, r.ctx);
      out.push({
        vin,
        context: r.ctx,
        script: r.script,
        shape: sh.shape,
        shapeKeyHex: toHex(sh.shapeKey),
        values: sh.values,
      });
    }
  }
  for (let vout = 0; vout < tx.outputs.length; vout++) {
    const spk = tx.outputs[vout].scriptPubKey;
    if (!isRecordedScriptPubKey(spk)) continue;
    const sh = scriptShape(spk, 'scriptPubKey');
    out.push({
      vout,
      context: 'scriptPubKey',
      script: spk,
      shape: sh.shape,
      shapeKeyHex: toHex(sh.shapeKey),
      values: sh.values,
    });
  }
  return out;
}

function isCoinbaseTx(tx: Tx): boolean {
  const i = tx.inputs[0];
  return tx.inputs.length === 1 && i.vout === 0xffffffff && i.prevTxid.every((b) => b === 0);
}

/** An output a block's input spends. */
export interface SpentOutput {
  script: Uint8Array;
  value: bigint;
}

/** The non-coinbase inputs of a block, in order (how undo records and spent lists run). */
function inputCount(block: Block): number {
  let n = 0;
  for (let p = 1; p < block.txs.length; p++) n += block.txs[p].inputs.length;
  return n;
}

/**
 * Each tx of a block with its inputs' entries of `perInput` (one entry per non-coinbase input,
 * in block order, as undo records run); the coinbase gets none.
 */
function eachTx<T>(
  block: Block,
  perInput: readonly T[],
  fn: (tx: Tx, at: (vin: number) => T | undefined) => void,
): void {
  let k = 0;
  for (let p = 0; p < block.txs.length; p++) {
    const tx = block.txs[p];
    const base = k;
    if (p > 0) k += tx.inputs.length;
    fn(tx, (vin) => (p > 0 ? perInput[base + vin] : undefined));
  }
}

/** Spent outputs of a stored block's non-coinbase inputs, in order, from its undo record. */
export function blockSpentOutputs(index: Index, height: number): (SpentOutput | undefined)[] {
  const { block, undo } = readStoredBlock(index.store, height);
  return decodeUndo(undo, inputCount(block)).map((u) =>
    u.id === null ? undefined : { script: u.script, value: u.value },
  );
}

/** Spent scriptPubKeys of a stored block's non-coinbase inputs, in order, from its undo record. */
export function blockPrevScripts(index: Index, height: number): (Uint8Array | undefined)[] {
  return blockSpentOutputs(index, height).map((o) => o?.script);
}

/**
 * Spent outputs of a block just disconnected (DisconnectResult.block), in the same order. Its
 * undo record went with it, but what it spent is indexed again: outputs of earlier blocks (the
 * index is at the block below), or of the block's own earlier txs.
 */
export function disconnectedSpentOutputs(index: Index, block: Block): (SpentOutput | undefined)[] {
  const own = new Map<string, SpentOutput>();
  const out: (SpentOutput | undefined)[] = [];
  for (let p = 0; p < block.txs.length; p++) {
    const tx = block.txs[p];
    if (p > 0) {
      for (const inp of tx.inputs) {
        const key = `${toHex(inp.prevTxid)}:${inp.vout}`;
        const o = own.get(key) ?? index.output(inp.prevTxid, inp.vout) ?? undefined;
        out.push(o ? { script: o.script, value: o.value } : undefined);
      }
    }
    const txid = toHex(tx.txid());
    tx.outputs.forEach((o, vout) => {
      own.set(`${txid}:${vout}`, { script: o.scriptPubKey, value: o.value });
    });
  }
  return out;
}

/** The spent scriptPubKey of a mempool tx's input: confirmed UTXO, else a mempool parent. */
export function mempoolPrevScript(
  index: Index,
  mempool: Mempool | null,
  tx: Tx,
  vin: number,
): Uint8Array | undefined {
  const inp = tx.inputs[vin];
  const c = index.output(inp.prevTxid, inp.vout);
  if (c) return c.script;
  const m = mempool?.get(inp.prevTxid);
  return m?.tx.outputs[inp.vout]?.scriptPubKey;
}

/** A pattern subscription's match: a MatchItem (height null from the mempool) with its subscription. */
export type PatternHit = Omit<MatchItem, 'shape' | 'shortId'> & { subscription: string };

/** Pattern subscriptions, indexed by the shape keys their patterns expand to. */
export class PatternWatches {
  private readonly subs = new Map<string, { pattern: CompiledPattern; shapes: Set<string> }>();
  private readonly byKey = new Map<string, Set<string>>();

  get size(): number {
    return this.subs.size;
  }

  /** Adds (or replaces) subscription `id`; a bad pattern throws PositionedError. */
  add(id: string, pattern: string | CompiledPattern): CompiledPattern {
    const pat = toPattern(pattern);
    this.remove(id);
    this.subs.set(id, { pattern: pat, shapes: new Set(pat.shapes.map((s) => s.shape)) });
    for (const k of pat.shapeKeys) {
      const h = toHex(k);
      let set = this.byKey.get(h);
      if (!set) {
        set = new Set();
        this.byKey.set(h, set);
      }
      set.add(id);
    }
    return pat;
  }

  remove(id: string): boolean {
    const sub = this.subs.get(id);
    if (!sub) return false;
    this.subs.delete(id);
    for (const k of sub.pattern.shapeKeys) {
      const h = toHex(k);
      const set = this.byKey.get(h);
      set?.delete(id);
      if (set?.size === 0) this.byKey.delete(h);
    }
    return true;
  }

  /** Subscriptions matched by one tx's reveals. */
  matchReveals(txid: Uint8Array, height: number | null, reveals: TxReveal[]): PatternHit[] {
    const hits: PatternHit[] = [];
    for (const r of reveals) {
      const ids = this.byKey.get(r.shapeKeyHex);
      if (!ids) continue;
      for (const id of ids) {
        const sub = this.subs.get(id)!;
        if (!sub.shapes.has(r.shape)) continue;
        const bindings = sub.pattern.match(r);
        if (bindings === null) continue;
        const hit: PatternHit = {
          subscription: id,
          txid,
          height,
          context: r.context,
          script: r.script,
          bindings,
        };
        if (r.vin !== undefined) hit.vin = r.vin;
        else hit.vout = r.vout;
        hits.push(hit);
      }
    }
    return hits;
  }

  /** A mempool tx (its spent scripts looked up in the index and the mempool). */
  matchMempoolTx(index: Index, mempool: Mempool | null, tx: Tx): PatternHit[] {
    if (this.byKey.size === 0) return [];
    return this.matchReveals(
      tx.txid(),
      null,
      txReveals(tx, (vin) => mempoolPrevScript(index, mempool, tx, vin)),
    );
  }

  /** A mempool entry, with the spent scripts it kept when it came (also once it left). */
  matchEntry(e: Pick<MempoolEntry, 'tx' | 'txid' | 'spent'>): PatternHit[] {
    if (this.byKey.size === 0) return [];
    return this.matchReveals(
      e.txid,
      null,
      txReveals(e.tx, (vin) => e.spent[vin]?.script),
    );
  }

  /**
   * A block at `height` (ConnectResult.block, or DisconnectResult.block with `prevScripts` from
   * disconnectedSpentOutputs). Spent scripts come from the stored undo record unless given.
   */
  matchBlock(
    index: Index,
    block: Block,
    height: number,
    prevScripts?: (Uint8Array | undefined)[],
  ): PatternHit[] {
    if (this.byKey.size === 0) return [];
    const hits: PatternHit[] = [];
    eachTx(block, prevScripts ?? blockPrevScripts(index, height), (tx, prev) => {
      hits.push(...this.matchReveals(tx.txid(), height, txReveals(tx, prev)));
    });
    return hits;
  }
}

export interface DescriptorHit {
  watch: string;
  /** Internal order. */
  txid: Uint8Array;
  kind: 'funding' | 'spending';
  /** vout for funding, vin for spending. */
  index: number;
  value: bigint | null;
  height: number | null;
  script: Uint8Array;
  derivationIndex: number | null;
  branch: number;
}

interface WatchState {
  descriptor: Descriptor;
  gap: number;
  /** Per branch: highest used index seen (-1 none) and how far the window is derived. */
  lastUsed: number[];
  derived: number[];
}

/**
 * Descriptor watches: script hash -> (watch, branch, derivation index) over each watch's
 * window [0, lastUsed + gap]. A match at an index past lastUsed moves the window forward.
 */
export class DescriptorWatches {
  private readonly watches = new Map<string, WatchState>();
  private readonly byHash = new Map<
    string,
    { watch: string; branch: number; index: number | null; script: Uint8Array }[]
  >();

  get size(): number {
    return this.watches.size;
  }

  /**
   * Adds watch `id`. With an index, the window starts past the last index used on chain (a
   * gap-limit scan), so an old wallet's next address is already watched; `lastUsed` (per branch,
   * from a scan made beforehand, e.g. scanDescriptorAsync) takes the place of that scan.
   */
  add(
    id: string,
    descriptor: string | Descriptor,
    opts: { gap?: number; index?: Index; lastUsed?: readonly number[] } = {},
  ): { lastUsed: number[] } {
    const d = watchOnlyDescriptor(descriptor);
    const gap = checkGap(opts.gap);
    this.remove(id);
    const n = Math.max(1, d.multipathCount);
    const st: WatchState = {
      descriptor: d,
      gap,
      lastUsed: new Array(n).fill(-1),
      derived: new Array(n).fill(0),
    };
    if (opts.lastUsed) {
      opts.lastUsed.forEach((u, i) => {
        if (i < n) st.lastUsed[i] = u;
      });
    } else if (opts.index) {
      const s = opts.index.store;
      const scan = scanDescriptor(d, gap, (h) => hasHistory(s, h));
      scan.branches.forEach((b, i) => {
        st.lastUsed[i] = b.lastUsed;
      });
    }
    this.watches.set(id, st);
    for (let b = 0; b < n; b++) this.extend(id, st, b);
    return { lastUsed: st.lastUsed.slice() };
  }

  remove(id: string): boolean {
    const st = this.watches.get(id);
    if (!st) return false;
    this.watches.delete(id);
    for (const [h, list] of this.byHash) {
      const rest = list.filter((e) => e.watch !== id);
      if (rest.length === 0) this.byHash.delete(h);
      else if (rest.length !== list.length) this.byHash.set(h, rest);
    }
    return true;
  }

  /** The watch's window: per branch, last used index and derived count. */
  window(id: string): { lastUsed: number[]; derived: number[] } | null {
    const st = this.watches.get(id);
    return st ? { lastUsed: st.lastUsed.slice(), derived: st.derived.slice() } : null;
  }

  private extend(id: string, st: WatchState, branch: number): void {
    const want = st.descriptor.isRange ? st.lastUsed[branch] + 1 + st.gap : 1;
    for (let i = st.derived[branch]; i < want; i++) {
      for (const s of derive(st.descriptor, branch, i)) {
        const h = toHex(s.scriptHash);
        let list = this.byHash.get(h);
        if (!list) {
          list = [];
          this.byHash.set(h, list);
        }
        list.push({ watch: id, branch, index: s.index, script: s.script });
      }
    }
    st.derived[branch] = Math.max(st.derived[branch], want);
  }

  private hit(
    hits: DescriptorHit[],
    hashHex: string,
    base: Omit<DescriptorHit, 'watch' | 'script' | 'derivationIndex' | 'branch'>,
    advance: boolean,
  ): void {
    const list = this.byHash.get(hashHex);
    if (!list) return;
    for (const e of list.slice()) {
      hits.push({ ...base, watch: e.watch, script: e.script, derivationIndex: e.index, branch: e.branch });
      const st = this.watches.get(e.watch)!;
      if (advance && e.index !== null && e.index > st.lastUsed[e.branch]) {
        st.lastUsed[e.branch] = e.index;
        this.extend(e.watch, st, e.branch);
      }
    }
  }

  /**
   * Outputs paying to and inputs spending watched scripts in one tx. `spent(vin)` gives the
   * spent output (script and value) when known. A hit past a branch's last used index moves its
   * window forward unless `advance` is false (withdrawals: a window never moves back, a wider
   * one only costs lookups).
   */
  matchTx(
    tx: Tx,
    height: number | null,
    spent: (vin: number) => SpentOutput | undefined,
    advance = true,
  ): DescriptorHit[] {
    const hits: DescriptorHit[] = [];
    if (this.byHash.size === 0) return hits;
    const txid = tx.txid();
    if (!isCoinbaseTx(tx)) {
      for (let vin = 0; vin < tx.inputs.length; vin++) {
        const o = spent(vin);
        if (!o) continue;
        this.hit(
          hits,
          toHex(sha256(o.script)),
          {
            txid,
            kind: 'spending',
            index: vin,
            value: o.value,
            height,
          },
          advance,
        );
      }
    }
    for (let vout = 0; vout < tx.outputs.length; vout++) {
      const o = tx.outputs[vout];
      this.hit(
        hits,
        toHex(sha256(o.scriptPubKey)),
        {
          txid,
          kind: 'funding',
          index: vout,
          value: o.value,
          height,
        },
        advance,
      );
    }
    return hits;
  }

  matchMempoolTx(index: Index, mempool: Mempool | null, tx: Tx): DescriptorHit[] {
    return this.matchTx(tx, null, (vin) => {
      const inp = tx.inputs[vin];
      const c = index.output(inp.prevTxid, inp.vout);
      if (c) return c;
      const m = mempool?.get(inp.prevTxid)?.tx.outputs[inp.vout];
      return m ? { script: m.scriptPubKey, value: m.value } : undefined;
    });
  }

  /**
   * A mempool entry, with the outputs it spent as it kept them when it came (also once it left);
   * `advance` false for withdrawals.
   */
  matchEntry(e: Pick<MempoolEntry, 'tx' | 'spent'>, advance = true): DescriptorHit[] {
    return this.matchTx(e.tx, null, (vin) => e.spent[vin] ?? undefined, advance);
  }

  /**
   * A block at `height`: just connected (spent outputs from its undo record), or just
   * disconnected (`spent` from disconnectedSpentOutputs, `advance` false).
   */
  matchBlock(
    index: Index,
    block: Block,
    height: number,
    spent?: (SpentOutput | undefined)[],
    advance = true,
  ): DescriptorHit[] {
    if (this.byHash.size === 0) return [];
    const hits: DescriptorHit[] = [];
    eachTx(block, spent ?? blockSpentOutputs(index, height), (tx, prev) => {
      hits.push(...this.matchTx(tx, height, prev, advance));
    });
    return hits;
  }
}
