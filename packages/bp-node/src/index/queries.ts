import { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import {
  EXT_MAX_INDEX,
  EXT_MIN_INDEX,
  outputLo,
  readShortIdHi,
  readShortIdLo,
  shortIdFromBytes,
  writeShortId,
} from '@lnpbp/bitcoin/shortid/index';
import { readTx } from '@lnpbp/bitcoin/tx/parse';
import type { Tx } from '@lnpbp/bitcoin/tx/types';
import { readCache } from './readcache.ts';
import { decodeUtxo, HISTORY_PREFIX, HISTORY_ROW, SPEND_ROW, TXID_PREFIX, TXID_ROW } from './schema.ts';
import type { Store } from './store.ts';
import { inputAt, outputAt as outputOffset, scriptAt, valueAt, voutAt } from './txscan.ts';

/** Where an indexed tx is: height, position, and its 8-byte LNPBP-5 id. */
export interface TxPlace {
  height: number;
  position: number;
  /** 8 bytes, big-endian. */
  id: Uint8Array;
}

export interface ConfirmedSpend {
  /** Spending txid, internal order. */
  txid: Uint8Array;
  vin: number;
  height: number;
  position: number;
  /** The spending input's LNPBP-5 id. */
  shortId: bigint;
}

export interface HistoryItem {
  /** The funding output's or spending input's LNPBP-5 id (also the page cursor). */
  shortId: bigint;
  kind: 'funding' | 'spending';
  txid: Uint8Array;
  height: number;
  position: number;
  /** vout for funding, vin for spending. */
  index: number;
  /** The output's value (funding) or the spent output's value (spending). */
  value: bigint;
}

export interface UtxoItem {
  shortId: bigint;
  txid: Uint8Array;
  vout: number;
  height: number;
  position: number;
  value: bigint;
  script: Uint8Array;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null at the end. */
  next: Uint8Array | null;
}

/** Decoded on-chain item id: height, tx position, and for inputs/outputs the io flag and index. */
export function placeOf(id: Uint8Array): {
  height: number;
  position: number;
  output: boolean;
  index: number;
} {
  const hi = readShortIdHi(id, 0);
  const lo = readShortIdLo(id, 0);
  if (lo >>> 31 === 1) {
    return {
      height: hi >>> 8,
      position: (lo >>> 17) & 0x3fff,
      output: true,
      index: EXT_MIN_INDEX + (lo & 0x1ffff),
    };
  }
  return { height: hi >>> 8, position: lo >>> 16, output: (lo & 0x8000) !== 0, index: (lo & 0x7fff) - 1 };
}

/** The indexed tx with this txid (full txid checked); of BIP-30's duplicate pair, the later. */
export function findTx(s: Store, txid: Uint8Array): TxPlace | null {
  const lk = s.lookup.txids;
  const prefix = txid.subarray(0, TXID_PREFIX);
  // Newest first, and level 1 only when level 0 has no match: every level-1 row is older than
  // every level-0 row (new rows go to level 0; compaction moves all of them; a disconnect takes
  // a block's rows out of whichever level holds them), so this is the merged order read from
  // its end.
  const n0 = lk.findIn(0, prefix);
  if (n0 === null) {
    // In a write transaction: both levels merged.
    const n = lk.find(prefix, undefined, false, Number.POSITIVE_INFINITY);
    return lastMatch(s, lk.rows, n, txid);
  }
  const hit = lastMatch(s, lk.rows, n0, txid);
  if (hit !== null) return hit;
  const n1 = lk.findIn(1, prefix)!;
  return lastMatch(s, lk.rows, n1, txid);
}

/** Of `n` txid rows (ascending), the last whose tx has this txid. */
function lastMatch(s: Store, rows: Uint8Array, n: number, txid: Uint8Array): TxPlace | null {
  const rc = readCache(s);
  for (let i = n - 1; i >= 0; i--) {
    const at = i * TXID_ROW + TXID_PREFIX;
    const height = readShortIdHi(rows, at) >>> 8;
    const position = readShortIdLo(rows, at) >>> 16;
    if (rc.txidIs(height, position, txid)) return { height, position, id: rows.slice(at, at + 8) };
  }
  return null;
}

export function parseStoredTx(raw: Uint8Array): Tx {
  return readTx(new ByteReader(raw));
}

/** An indexed tx: its bytes and where it is. */
export interface TxInfo {
  txid: Uint8Array;
  raw: Uint8Array;
  height: number;
  position: number;
  blockHash: Uint8Array;
  shortId: bigint;
}

/** A confirmed tx by txid: its bytes (a view of the read cache, not to be modified) and place. */
export function confirmedTx(s: Store, txid: Uint8Array): TxInfo | null {
  const p = findTx(s, txid);
  if (p === null) return null;
  const rc = readCache(s);
  const raw = rc.tx(p.height, p.position);
  const blockHash = rc.blockHash(p.height);
  if (raw === null || blockHash === null) return null;
  return {
    txid: Uint8Array.from(txid),
    raw,
    height: p.height,
    position: p.position,
    blockHash: Uint8Array.from(blockHash),
    shortId: shortIdFromBytes(p.id),
  };
}

/** Output id (8 bytes) of vout of the tx at `place`; null past the extended layout's range. */
export function outputId(place: TxPlace, vout: number): Uint8Array | null {
  if (!Number.isInteger(vout) || vout < 0 || vout > EXT_MAX_INDEX) return null;
  const id = new Uint8Array(8);
  writeShortId(id, 0, readShortIdHi(place.id, 0), outputLo(place.position, vout));
  return id;
}

/** The confirmed input spending output `id`, if any. */
export function spendOfOutput(s: Store, id: Uint8Array): ConfirmedSpend | null {
  const lk = s.lookup.spends;
  if (lk.find(id, undefined, false, 1) === 0) return null;
  return spendFromInputId(s, lk.rows.subarray(8, 16));
}

export function spendFromInputId(s: Store, inputId: Uint8Array): ConfirmedSpend | null {
  const p = placeOf(inputId);
  const txid = readCache(s).txid(p.height, p.position);
  if (txid === null) return null;
  return { txid, vin: p.index, height: p.height, position: p.position, shortId: shortIdFromBytes(inputId) };
}

/** Who spends txid:vout on the best chain (outputs the index holds, or by outpoint otherwise). */
export function outspend(s: Store, txid: Uint8Array, vout: number): ConfirmedSpend | null {
  const place = findTx(s, txid);
  if (place !== null) {
    const id = outputId(place, vout);
    return id === null ? null : spendOfOutput(s, id);
  }
  const ext = s.extSpends(txid, vout);
  return ext.length === 0 ? null : spendFromInputId(s, ext[0].inputId);
}

/**
 * One entry per output of txid (null = unspent), or null when the index holds no such tx and
 * no spend of it. For a tx the index does not hold, the list runs to the highest vout spent.
 */
export function outspends(s: Store, txid: Uint8Array): (ConfirmedSpend | null)[] | null {
  const place = findTx(s, txid);
  if (place === null) {
    const out: (ConfirmedSpend | null)[] = [];
    for (const { vout, inputId } of s.extSpends(txid)) {
      while (out.length < vout) out.push(null);
      out.push(spendFromInputId(s, inputId));
    }
    return out.length > 0 ? out : null;
  }
  const raw = s.txRaw(place.height, place.position);
  if (raw === null) return null;
  const n = parseStoredTx(raw).outputs.length;
  const out: (ConfirmedSpend | null)[] = new Array(n).fill(null);
  // Ordinary output ids of one tx share their first 6 bytes: one range scan finds their spends.
  const lk = s.lookup.spends;
  const found = lk.find(place.id.subarray(0, 6), undefined, false, Number.POSITIVE_INFINITY);
  const rows = lk.rows;
  for (let i = 0; i < found; i++) {
    const at = i * SPEND_ROW;
    const vout = (((rows[at + 6] << 8) | rows[at + 7]) & 0x7fff) - 1;
    if (vout >= 0 && vout < n) out[vout] = spendFromInputId(s, rows.subarray(at + 8, at + 16));
  }
  for (let vout = EXT_MIN_INDEX; vout < n; vout++) out[vout] = spendOfOutput(s, outputId(place, vout)!);
  return out;
}

/** value and script of the output `id` (from the UTXO set, else read from its block). */
export function outputAt(s: Store, id: Uint8Array): { value: bigint; script: Uint8Array } | null {
  const u = s.utxos.get(id);
  if (u !== undefined) return decodeUtxo(u);
  const p = placeOf(id);
  const raw = readCache(s).tx(p.height, p.position);
  if (raw === null) return null;
  const off = outputOffset(raw, p.index);
  const script = off < 0 ? null : scriptAt(raw, off);
  return script === null ? null : { value: valueAt(raw, off), script: script.slice() };
}

/** The value of the output `id`: a light walk over its tx (cached), no script copied. */
function outputValue(s: Store, id: Uint8Array): bigint | null {
  const p = placeOf(id);
  const raw = readCache(s).tx(p.height, p.position);
  if (raw === null) return null;
  const off = outputOffset(raw, p.index);
  return off < 0 ? null : valueAt(raw, off);
}

/** The funding output's id of the input `inputId` (read from the spending tx), or null. */
function spentOutputId(s: Store, inputId: Uint8Array): Uint8Array | null {
  const p = placeOf(inputId);
  const raw = readCache(s).tx(p.height, p.position);
  if (raw === null) return null;
  const off = inputAt(raw, p.index);
  if (off < 0) return null;
  const f = findTx(s, raw.subarray(off, off + 32));
  return f === null ? null : outputId(f, voutAt(raw, off));
}

/** The output an input spends (read from the spending tx, then its funding tx). */
export function spentBy(s: Store, inputId: Uint8Array): { value: bigint; script: Uint8Array } | null {
  const id = spentOutputId(s, inputId);
  return id === null ? null : outputAt(s, id);
}

/** History rows of a script hash, in chain order, after the cursor (an item id). */
export function* historyIds(
  s: Store,
  scriptHash: Uint8Array,
  cursor?: Uint8Array | null,
): Generator<Uint8Array> {
  yield* s.historyIds(scriptHash, cursor);
}

/** history()'s item id being read: historyItemAt keeps no reference to it. */
const HISTORY_ID = new Uint8Array(8);

export function history(
  s: Store,
  scriptHash: Uint8Array,
  opts: { cursor?: Uint8Array | null; limit: number },
): Page<HistoryItem> {
  const items: HistoryItem[] = [];
  const prefix = scriptHash.subarray(0, HISTORY_PREFIX);
  let from: Uint8Array | undefined;
  let exclusive = false;
  if (opts.cursor) {
    from = new Uint8Array(HISTORY_ROW);
    from.set(prefix, 0);
    from.set(opts.cursor.subarray(0, 8), HISTORY_PREFIX);
    exclusive = true;
  }
  // The cursor: a copy of the last item's id, made once per page (not per item).
  let last: Uint8Array | null = null;
  const id = HISTORY_ID;
  const lk = s.lookup.history;
  for (;;) {
    // One row past the page says whether there is a next page.
    const want = opts.limit - items.length + 1;
    const n = lk.find(prefix, from, exclusive, want);
    const rows = lk.rows;
    for (let i = 0; i < n; i++) {
      if (items.length === opts.limit) return { items, next: last };
      const at = i * HISTORY_ROW + HISTORY_PREFIX;
      for (let j = 0; j < 8; j++) id[j] = rows[at + j];
      const item = historyItemAt(s, id);
      if (item === null) continue;
      items.push(item);
      last ??= new Uint8Array(8);
      last.set(id);
    }
    if (n < want) return { items, next: null };
    // Items whose tx is gone were skipped: read on after the last row seen.
    from = rows.slice((n - 1) * HISTORY_ROW, n * HISTORY_ROW);
    exclusive = true;
  }
}

export function utxos(
  s: Store,
  scriptHash: Uint8Array,
  opts: { cursor?: Uint8Array | null; limit: number },
): Page<UtxoItem> {
  const items: UtxoItem[] = [];
  let last: Uint8Array | null = null;
  for (const id of historyIds(s, scriptHash, opts.cursor)) {
    const p = placeOf(id);
    if (!p.output) continue;
    const u = s.utxos.get(id);
    if (u === undefined) continue;
    if (items.length === opts.limit) return { items, next: last };
    const txid = s.txidAt(p.height, p.position);
    if (txid === null) continue;
    const { value, script } = decodeUtxo(u);
    items.push({
      shortId: shortIdFromBytes(id),
      txid,
      vout: p.index,
      height: p.height,
      position: p.position,
      value,
      script,
    });
    last = Uint8Array.from(id);
  }
  return { items, next: null };
}

export function balance(s: Store, scriptHash: Uint8Array): { confirmed: bigint; utxoCount: number } {
  let confirmed = 0n;
  let utxoCount = 0;
  for (const id of historyIds(s, scriptHash)) {
    if ((id[6] & 0x80) === 0 && (id[4] & 0x80) === 0) continue;
    const u = s.utxos.get(id);
    if (u === undefined) continue;
    confirmed += decodeUtxo(u).value;
    utxoCount++;
  }
  return { confirmed, utxoCount };
}

/** The history entry an item id names (funding output or spending input), or null if its tx is gone. */
export function historyItemAt(s: Store, id: Uint8Array): HistoryItem | null {
  const p = placeOf(id);
  const txid = readCache(s).txid(p.height, p.position);
  if (txid === null) return null;
  let value: bigint | null;
  if (p.output) value = outputValue(s, id);
  else {
    const spent = spentOutputId(s, id);
    value = spent === null ? null : outputValue(s, spent);
  }
  return {
    shortId: shortIdFromBytes(id),
    kind: p.output ? 'funding' : 'spending',
    txid,
    height: p.height,
    position: p.position,
    index: p.index,
    value: value ?? 0n,
  };
}
