/**
 * Pattern and descriptor queries with the mempool on top (as IndexView does for scripts):
 * confirmed items in chain order, then mempool items in arrival order. Cursors are tagged:
 *   0x00 | item id (8)   after this confirmed item
 *   0x01 | seq u32 BE    from this mempool arrival on
 */
import { ValueError } from '@lnpbp/bitcoin/errors';
import type { CompiledPattern } from '@lnpbp/bitcoin/pattern/index';
import type { Index } from '../index/index.ts';
import type { Mempool, MempoolEntry } from '../index/mempool.ts';
import { type MatchItem, type MatchOptions, matchConfirmed, toPattern } from './pattern.ts';
import { mempoolPrevScript, PatternWatches, type TxReveal, txReveals } from './push.ts';

const revealCache = new WeakMap<MempoolEntry, TxReveal[]>();

function revealsOf(index: Index, mempool: Mempool, e: MempoolEntry): TxReveal[] {
  let r = revealCache.get(e);
  if (!r) {
    r = txReveals(e.tx, (vin) => mempoolPrevScript(index, mempool, e.tx, vin));
    revealCache.set(e, r);
  }
  return r;
}

export function matchView(
  index: Index,
  mempool: Mempool,
  pattern: string | CompiledPattern,
  opts: MatchOptions,
): { items: MatchItem[]; next: Uint8Array | null } {
  const pat = toPattern(pattern);
  const cur = opts.cursor ?? null;
  if (cur !== null && !((cur[0] === 0 && cur.length === 9) || (cur[0] === 1 && cur.length === 5))) {
    throw new ValueError('cursor', 'not a match cursor');
  }
  const items: MatchItem[] = [];
  let afterSeq = -1;
  if (cur === null || cur[0] === 0) {
    const page = matchConfirmed(index.store, pat, { ...opts, cursor: cur ? cur.subarray(1) : null });
    items.push(...page.items);
    if (page.next !== null) {
      const c = new Uint8Array(9);
      c.set(page.next, 1);
      return { items, next: c };
    }
  } else {
    afterSeq = new DataView(cur.buffer, cur.byteOffset + 1, 4).getUint32(0) - 1;
  }
  const one = new PatternWatches();
  one.add('q', pat);
  for (const e of mempool.list(afterSeq)) {
    const hits = one.matchReveals(e.txid, null, revealsOf(index, mempool, e));
    if (hits.length === 0) continue;
    if (items.length + hits.length > opts.limit && items.length > 0) {
      const c = new Uint8Array(5);
      c[0] = 1;
      new DataView(c.buffer).setUint32(1, e.seq);
      return { items, next: c };
    }
    for (const h of hits) {
      const r = revealsOf(index, mempool, e).find((x) => x.vin === h.vin && x.vout === h.vout)!;
      const item: MatchItem = {
        txid: e.txid,
        height: null,
        context: h.context,
        script: h.script,
        shape: r.shape,
        bindings: h.bindings,
        shortId: e.shortId,
      };
      if (h.vin !== undefined) item.vin = h.vin;
      else item.vout = h.vout;
      items.push(item);
    }
  }
  return { items, next: null };
}
