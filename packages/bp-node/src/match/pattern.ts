/**
 * Pattern queries over the shape table: one range read per shape key of the pattern, merged in
 * chain order, each hit's script read back from the block file and its values checked against
 * the pattern. Never a scan of the chain: rows of other shapes are never touched.
 */
import { equalBytes } from '@lnpbp/bitcoin/bytes/hex';
import { tapBranchHash, tapLeafHash, tweakXOnly } from '@lnpbp/bitcoin/descriptor/index';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { hash160, sha256 } from '@lnpbp/bitcoin/hash/index';
import {
  type Bindings,
  type CompiledPattern,
  compilePattern,
  type ShapeContext,
  scriptShape,
} from '@lnpbp/bitcoin/pattern/index';
import { parseControlBlock } from '@lnpbp/bitcoin/script/controlblock';
import { shortIdFromBytes } from '@lnpbp/bitcoin/shortid/index';
import type { Tx } from '@lnpbp/bitcoin/tx/types';
import { historyIds, outputAt, parseStoredTx, placeOf } from '../index/queries.ts';
import { CONTEXT_NAMES, SHAPE_VALUE, scriptOfRow } from '../index/shapes.ts';
import type { Store } from '../index/store.ts';

export interface MatchItem {
  /** Internal byte order. */
  txid: Uint8Array;
  /** The input that revealed the script (absent for a non-standard scriptPubKey). */
  vin?: number;
  /** The output holding a non-standard scriptPubKey (context 'scriptPubKey'). */
  vout?: number;
  /** null in the mempool. */
  height: number | null;
  context: ShapeContext;
  script: Uint8Array;
  shape: string;
  bindings: Bindings;
  /** LNPBP-5 id of the input (or output); confirmed ids are the page cursor. */
  shortId: bigint;
  /** Outputs paying to the matched script (its P2SH/P2WSH/P2TR scriptPubKey), when asked for. */
  funding?: FundingOutput[];
}

export interface FundingOutput {
  txid: Uint8Array;
  vout: number;
  height: number;
  value: bigint;
  shortId: bigint;
}

export interface MatchOptions {
  /** 8-byte item id of the last item of the previous page. */
  cursor?: Uint8Array | null;
  limit: number;
  /**
   * Rows examined before a page is returned short (with a cursor) when a selective filter
   * rejects most rows of a shape; bounds the work of one request.
   */
  scanLimit?: number;
  /** Add the funding outputs of each matched script (up to `fundingLimit` each, default 20). */
  funding?: boolean;
  fundingLimit?: number;
}

export interface MatchPage {
  items: MatchItem[];
  /** null at the end. */
  next: Uint8Array | null;
  /** Shape rows read for this page (the filter's work). */
  scanned: number;
}

export const DEFAULT_SCAN_LIMIT = 100_000;
export const MAX_MATCH_LIMIT = 1_000;

/** A pattern text compiled (PositionedError on bad input), or a compiled pattern as is. */
export function toPattern(p: string | CompiledPattern): CompiledPattern {
  return typeof p === 'string' ? compilePattern(p) : p;
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_MATCH_LIMIT) {
    throw new ValueError('limit', `must be an integer 1..${MAX_MATCH_LIMIT}, got ${limit}`);
  }
}

/** Confirmed script reveals matching `pattern`, in chain order, `limit` after `cursor`. */
export function matchConfirmed(s: Store, pattern: string | CompiledPattern, opts: MatchOptions): MatchPage {
  const pat = toPattern(pattern);
  checkLimit(opts.limit);
  if (opts.cursor != null && opts.cursor.length !== 8) throw new ValueError('cursor', 'must be 8 bytes');
  const shapes = new Set(pat.shapes.map((x) => x.shape));
  const scanLimit = opts.scanLimit ?? DEFAULT_SCAN_LIMIT;
  const items: MatchItem[] = [];
  let scanned = 0;
  let txCache = null as { key: number; tx: Tx } | null;
  let lastScanned: Uint8Array | null = null;
  for (const v of mergeRows(s, pat.shapeKeys, opts.cursor ?? null)) {
    if (items.length === opts.limit || scanned === scanLimit) {
      // Rows after the last item up to here were rejected: resume after the last row read.
      return { items, next: lastScanned, scanned };
    }
    scanned++;
    const id = v.subarray(0, 8);
    lastScanned = Uint8Array.from(id);
    const ctx = CONTEXT_NAMES[v[8]];
    const p = placeOf(id);
    const key = p.height * 65_536 + p.position;
    if (txCache?.key !== key) {
      const raw = s.txRaw(p.height, p.position);
      if (raw === null) continue;
      txCache = { key, tx: parseStoredTx(raw) };
    }
    const tx = txCache.tx;
    const script = scriptOfRow(tx, p.output, p.index, ctx);
    if (script === null) continue;
    const sh = scriptShape(script, ctx);
    if (!shapes.has(sh.shape)) continue; // a 64-bit shape key collision
    const bindings = pat.match(sh);
    if (bindings === null) continue;
    const txid = s.txidAt(p.height, p.position)!;
    const item: MatchItem = {
      txid,
      height: p.height,
      context: ctx,
      script: Uint8Array.from(script),
      shape: sh.shape,
      bindings,
      shortId: shortIdFromBytes(id),
    };
    if (p.output) item.vout = p.index;
    else item.vin = p.index;
    if (opts.funding) item.funding = fundingOutputs(s, tx, item, opts.fundingLimit ?? 20);
    items.push(item);
  }
  return { items, next: null, scanned };
}

/** Shape rows (id | ctx) of several shape keys merged into chain order, after `cursor`. */
function* mergeRows(s: Store, keys: Uint8Array[], cursor: Uint8Array | null): Generator<Uint8Array> {
  let start: Uint8Array | undefined;
  if (cursor) {
    // Values are id | ctx (ctx <= 4): id | 0xff sorts after every row of `cursor` itself.
    start = new Uint8Array(SHAPE_VALUE);
    start.set(cursor, 0);
    start[8] = 0xff;
  }
  const its = keys.map((k) => s.shapes.getValues(k, start ? { start } : {})[Symbol.iterator]());
  const heads: (Uint8Array | null)[] = its.map((it) => next(it));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h !== null && (best < 0 || compareIds(h, heads[best]!) < 0)) best = i;
    }
    if (best < 0) return;
    yield heads[best]!;
    heads[best] = next(its[best]);
  }
}

function next(it: Iterator<Uint8Array>): Uint8Array | null {
  const r = it.next();
  return r.done ? null : Uint8Array.from(r.value);
}

function compareIds(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * The scriptPubKey that commits to a revealed script: P2SH of the redeemScript, P2WSH of the
 * witnessScript (wrapped in P2SH when the input is nested), the P2TR output key recomputed from
 * the leaf and the control block. Null for a non-standard scriptPubKey (it is its own output).
 */
export function committingScriptPubKey(
  tx: Tx,
  item: Pick<MatchItem, 'vin' | 'context' | 'script'>,
): Uint8Array | null {
  if (item.vin === undefined) return null;
  const inp = tx.inputs[item.vin];
  if (item.context === 'p2sh') return p2shOf(item.script);
  if (item.context === 'p2wsh') {
    const wsh = Uint8Array.from([0x00, 32, ...sha256(item.script)]);
    return inp.scriptSig.length > 0 ? p2shOf(wsh) : wsh;
  }
  if (item.context === 'tapscript') {
    let w = inp.witness;
    if (w.length >= 2 && w[w.length - 1][0] === 0x50) w = w.slice(0, -1);
    const cb = parseControlBlock(w[w.length - 1]);
    let node = tapLeafHash(item.script, cb.leafVersion);
    for (const sib of cb.path) node = tapBranchHash(node, sib);
    return Uint8Array.from([0x51, 32, ...tweakXOnly(cb.internalKey, node)]);
  }
  return null;
}

function p2shOf(script: Uint8Array): Uint8Array {
  return Uint8Array.from([0xa9, 20, ...hash160(script), 0x87]);
}

/** Outputs paying to the matched script, found through its scriptPubKey's history. */
export function fundingOutputs(s: Store, tx: Tx, item: MatchItem, limit: number): FundingOutput[] {
  const spk = committingScriptPubKey(tx, item);
  if (spk === null) return [];
  const out: FundingOutput[] = [];
  for (const id of historyIds(s, sha256(spk))) {
    const p = placeOf(id);
    if (!p.output) continue;
    const o = outputAt(s, id);
    if (!o || !equalBytes(o.script, spk)) continue;
    out.push({
      txid: s.txidAt(p.height, p.position)!,
      vout: p.index,
      height: p.height,
      value: o.value,
      shortId: shortIdFromBytes(id),
    });
    if (out.length === limit) break;
  }
  return out;
}
