import type { Index, TxInfo } from './index.ts';
import type { Mempool, MempoolEntry } from './mempool.ts';
import { confirmedTx } from './queries.ts';

/**
 * The answers queries give: the confirmed index with the mempool on top. History pages run in
 * chain order and then in mempool arrival order; the cursor says which part and where:
 *   0x00 | item id (8)   after this confirmed item
 *   0x01 | seq u32 BE    from this mempool arrival on
 */
export type Spend =
  | { spent: false }
  | { spent: true; txid: Uint8Array; vin: number; height: number | null; shortId: bigint };

export interface ViewHistoryItem {
  txid: Uint8Array;
  /** null in the mempool. */
  height: number | null;
  kind: 'funding' | 'spending';
  index: number;
  value: bigint;
  shortId: bigint;
}

export interface ViewUtxo {
  txid: Uint8Array;
  vout: number;
  value: bigint;
  height: number | null;
  shortId: bigint;
}

export interface ViewPage<T> {
  items: T[];
  next: Uint8Array | null;
}

export class IndexView {
  constructor(
    readonly index: Index,
    readonly mempool: Mempool,
  ) {}

  outspend(txid: Uint8Array, vout: number): Spend {
    const c = this.index.outspend(txid, vout);
    if (c) return { spent: true, txid: c.txid, vin: c.vin, height: c.height, shortId: c.shortId };
    const m = this.mempool.outspend(txid, vout);
    if (m) return { spent: true, txid: m.txid, vin: m.vin, height: null, shortId: m.shortId };
    return { spent: false };
  }

  /** One entry per output; null when the tx is neither indexed, spent from, nor in the mempool. */
  outspends(txid: Uint8Array): Spend[] | null {
    const confirmed = this.index.outspends(txid);
    const m = this.mempool.get(txid);
    const n = m ? m.tx.outputs.length : (confirmed?.length ?? 0);
    if (confirmed === null && m === null) {
      // Spent only from the mempool (an output the index does not hold): list up to what we know.
      return null;
    }
    const out: Spend[] = [];
    for (let vout = 0; vout < n; vout++) {
      const c = confirmed?.[vout];
      if (c) out.push({ spent: true, txid: c.txid, vin: c.vin, height: c.height, shortId: c.shortId });
      else out.push(this.outspendMempool(txid, vout));
    }
    return out;
  }

  private outspendMempool(txid: Uint8Array, vout: number): Spend {
    const m = this.mempool.outspend(txid, vout);
    return m ? { spent: true, txid: m.txid, vin: m.vin, height: null, shortId: m.shortId } : { spent: false };
  }

  /** A tx by txid, confirmed first, else from the mempool. */
  tx(txid: Uint8Array): (TxInfo & { confirmed: true }) | (MempoolEntry & { confirmed: false }) | null {
    const c = confirmedTx(this.index.store, txid);
    if (c) {
      // Fields named, not spread: the spread copy showed in the read-path profile.
      const { txid: t, raw, height, position, blockHash, shortId } = c;
      return { txid: t, raw, height, position, blockHash, shortId, confirmed: true };
    }
    const m = this.mempool.get(txid);
    return m ? { ...m, confirmed: false } : null;
  }

  history(
    scriptHash: Uint8Array,
    opts: { cursor?: Uint8Array | null; limit: number },
  ): ViewPage<ViewHistoryItem> {
    const items: ViewHistoryItem[] = [];
    const cur = opts.cursor ?? null;
    let afterSeq = -1;
    if (cur === null || cur[0] === 0) {
      const page = this.index.history(scriptHash, {
        cursor: cur ? cur.subarray(1, 9) : null,
        limit: opts.limit,
      });
      for (const h of page.items) {
        items.push({
          txid: h.txid,
          height: h.height,
          kind: h.kind,
          index: h.index,
          value: h.value,
          shortId: h.shortId,
        });
      }
      if (page.next !== null) return { items, next: tagged(0, page.next) };
    } else {
      afterSeq = new DataView(cur.buffer, cur.byteOffset + 1, 4).getUint32(0) - 1;
    }
    for (const m of this.mempool.history(scriptHash, afterSeq)) {
      if (items.length === opts.limit) return { items, next: seqCursor(m.seq) };
      items.push({
        txid: m.txid,
        height: null,
        kind: m.kind,
        index: m.index,
        value: m.value,
        shortId: m.shortId,
      });
    }
    return { items, next: null };
  }

  /** Confirmed unspent outputs not spent in the mempool, then mempool outputs not spent in it. */
  utxos(scriptHash: Uint8Array, opts: { cursor?: Uint8Array | null; limit: number }): ViewPage<ViewUtxo> {
    const items: ViewUtxo[] = [];
    const cur = opts.cursor ?? null;
    let afterSeq = -1;
    if (cur === null || cur[0] === 0) {
      let cursor = cur ? cur.subarray(1, 9) : null;
      for (;;) {
        const page = this.index.utxos(scriptHash, { cursor, limit: opts.limit });
        for (const u of page.items) {
          if (this.mempool.outspend(u.txid, u.vout)) continue;
          if (items.length === opts.limit) return { items, next: tagged(0, lastId(items)) };
          items.push({ txid: u.txid, vout: u.vout, value: u.value, height: u.height, shortId: u.shortId });
        }
        if (page.next === null) break;
        cursor = page.next;
      }
    } else {
      afterSeq = new DataView(cur.buffer, cur.byteOffset + 1, 4).getUint32(0) - 1;
    }
    for (const m of this.mempool.history(scriptHash, afterSeq)) {
      if (m.kind !== 'funding' || this.mempool.outspend(m.txid, m.index)) continue;
      if (items.length === opts.limit) return { items, next: seqCursor(m.seq) };
      items.push({ txid: m.txid, vout: m.index, value: m.value, height: null, shortId: m.shortId });
    }
    return { items, next: null };
  }

  balance(scriptHash: Uint8Array): {
    confirmed: bigint;
    unconfirmedIn: bigint;
    unconfirmedOut: bigint;
    utxoCount: number;
  } {
    const b = this.index.balance(scriptHash);
    let unconfirmedIn = 0n;
    let unconfirmedOut = 0n;
    for (const m of this.mempool.history(scriptHash)) {
      if (m.kind === 'funding') unconfirmedIn += m.value;
      else unconfirmedOut += m.value;
    }
    return { confirmed: b.confirmed, unconfirmedIn, unconfirmedOut, utxoCount: b.utxoCount };
  }
}

function tagged(tag: number, id: Uint8Array): Uint8Array {
  const c = new Uint8Array(9);
  c[0] = tag;
  c.set(id, 1);
  return c;
}

function seqCursor(fromSeq: number): Uint8Array {
  const c = new Uint8Array(5);
  c[0] = 1;
  new DataView(c.buffer).setUint32(1, fromSeq);
  return c;
}

function lastId(items: ViewUtxo[]): Uint8Array {
  const id = new Uint8Array(8);
  new DataView(id.buffer).setBigUint64(0, items[items.length - 1].shortId);
  return id;
}
