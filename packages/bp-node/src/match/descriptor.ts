/**
 * Descriptor queries: history, UTXOs and balance of every scriptPubKey a descriptor derives,
 * over the whole index and, when given one, the mempool on top (as IndexView does for one
 * script). Ranged descriptors are derived per multipath branch until `gap` consecutive indexes
 * have no history (BIP-44's gap limit; a script used only in the mempool counts as used); each
 * item says which derivation index (and branch) it belongs to. Private keys never get past
 * `watchOnlyDescriptor`.
 *
 * Cursors with a mempool (9 bytes):
 *   0x00 | item id (8)             after this confirmed item
 *   0x01 | seq u32 | skip u32      from mempool arrival `seq` on, less its first `skip` items
 * Without one they are the bare 8-byte item id. A page costs its confirmed range scan (or the
 * used scripts' mempool entries), whatever the descriptor's history length.
 */
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { assertWatchOnly, type Descriptor, parseDescriptor } from '@lnpbp/bitcoin/descriptor/index';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { shortIdFromBytes } from '@lnpbp/bitcoin/shortid/index';
import type { Mempool, MempoolHistoryItem } from '../index/mempool.ts';
import { historyIds, historyItemAt, placeOf } from '../index/queries.ts';
import { decodeUtxo, HISTORY_PREFIX } from '../index/schema.ts';
import type { Store } from '../index/store.ts';

export const DEFAULT_GAP = 20;
/** Above this a request is refused: gap 10,000 is ~10 s of derivation per branch. */
export const MAX_GAP = 10_000;
export const MAX_DESCRIPTOR_LIMIT = 1_000;

/** Parses and gates a descriptor for the query API: PositionedError on bad text or private keys. */
export function watchOnlyDescriptor(text: string | Descriptor): Descriptor {
  const d = typeof text === 'string' ? parseDescriptor(text) : text;
  assertWatchOnly(d);
  return d;
}

export function checkGap(gap: number | undefined): number {
  const g = gap ?? DEFAULT_GAP;
  if (!Number.isInteger(g) || g < 1 || g > MAX_GAP) {
    throw new ValueError('gap', `gap limit must be an integer 1..${MAX_GAP}, got ${gap}`);
  }
  return g;
}

/** One derived scriptPubKey. */
export interface DerivedScript {
  branch: number;
  /** null for a descriptor without `/*`. */
  index: number | null;
  script: Uint8Array;
  /** sha256(script), internal order: the history key. */
  scriptHash: Uint8Array;
}

/**
 * Derived scripts per (descriptor, branch), kept across requests: derivation (~1 ms per index)
 * dominates a scan, and paging through a descriptor's history re-runs the scan.
 */
const cache = new Map<string, DerivedScript[][]>();
const CACHE_MAX = 64;

/** Scripts of `d` at `index` on `branch` (several for combo()). */
export function derive(d: Descriptor, branch: number, index: number): DerivedScript[] {
  const key = `${d.toStringNoChecksum(branch)}`;
  let per = cache.get(key);
  if (!per) {
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    per = [];
    cache.set(key, per);
  }
  let got = per[index];
  if (!got) {
    got = d.scriptPubKeys(index, branch).map((script) => ({
      branch,
      index: d.isRange ? index : null,
      script,
      scriptHash: sha256(script),
    }));
    per[index] = got;
  }
  return got;
}

export interface ScanResult {
  /** Every script derived, in (branch, index) order. */
  scripts: DerivedScript[];
  /** Scripts with history. */
  used: DerivedScript[];
  /** Per branch: highest used index (-1 when none) and how far derivation went (exclusive). */
  branches: { lastUsed: number; derived: number }[];
}

/**
 * The gap scan as steps: derives until `gap` consecutive unused indexes per branch, filling
 * `out`, and yields after each derivation index so a caller can pause between them.
 */
function* scanSteps(
  d: Descriptor,
  gap: number,
  isUsed: (scriptHash: Uint8Array) => boolean,
  out: ScanResult,
): Generator<void> {
  const nBranches = Math.max(1, d.multipathCount);
  for (let b = 0; b < nBranches; b++) {
    let lastUsed = -1;
    let i = 0;
    for (; d.isRange ? i - lastUsed <= gap : i < 1; i++) {
      for (const s of derive(d, b, i)) {
        out.scripts.push(s);
        if (isUsed(s.scriptHash)) {
          out.used.push(s);
          lastUsed = i;
        }
      }
      yield;
    }
    out.branches.push({ lastUsed, derived: i });
  }
}

const emptyScan = (): ScanResult => ({ scripts: [], used: [], branches: [] });

/**
 * Derives until `gap` consecutive unused indexes per branch; `isUsed` says whether a script
 * hash has any history (confirmed, or with the mempool for a view). Synchronous: a large gap
 * holds the event loop (~1 ms per index); servers use scanDescriptorAsync.
 */
export function scanDescriptor(
  d: Descriptor,
  gap: number,
  isUsed: (scriptHash: Uint8Array) => boolean,
): ScanResult {
  const out = emptyScan();
  for (const _ of scanSteps(d, gap, isUsed, out));
  return out;
}

/** How long a scan runs before it lets other work in. */
export const SCAN_SLICE_MS = 10;

/**
 * scanDescriptor in slices of `sliceMs`, each followed by a setImmediate turn, so a
 * gap-10,000 scan (seconds of derivation) does not stall other requests, push or sync. `signal`
 * (a request's cancel) stops it between slices. The index may move on between slices: the
 * result is the scan of the chain as it was while each index was looked up.
 */
export async function scanDescriptorAsync(
  d: Descriptor,
  gap: number,
  isUsed: (scriptHash: Uint8Array) => boolean,
  opts: { sliceMs?: number; signal?: AbortSignal } = {},
): Promise<ScanResult> {
  const sliceMs = opts.sliceMs ?? SCAN_SLICE_MS;
  const out = emptyScan();
  let start = performance.now();
  for (const _ of scanSteps(d, gap, isUsed, out)) {
    if (performance.now() - start < sliceMs) continue;
    await new Promise<void>((r) => setImmediate(r));
    opts.signal?.throwIfAborted();
    start = performance.now();
  }
  return out;
}

export function hasHistory(s: Store, scriptHash: Uint8Array): boolean {
  return !historyIds(s, scriptHash).next().done;
}

/** Whether a script is used: confirmed history, or (with a mempool) a mempool entry touching it. */
export function usedIn(s: Store, mempool?: Mempool | null): (scriptHash: Uint8Array) => boolean {
  if (!mempool) return (h) => hasHistory(s, h);
  return (h) => hasHistory(s, h) || !mempool.history(h).next().done;
}

export interface DescriptorHistoryItem {
  shortId: bigint;
  kind: 'funding' | 'spending';
  txid: Uint8Array;
  /** null: in the mempool. */
  height: number | null;
  /** Position in the block; null in the mempool. */
  position: number | null;
  index: number;
  value: bigint;
  script: Uint8Array;
  derivationIndex: number | null;
  branch: number;
}

export interface DescriptorUtxo {
  shortId: bigint;
  txid: Uint8Array;
  vout: number;
  /** null: a mempool output. */
  height: number | null;
  value: bigint;
  script: Uint8Array;
  derivationIndex: number | null;
  branch: number;
}

export interface DescriptorOptions {
  gap?: number;
  /** From the previous page's `next` (see the module comment for its two forms). */
  cursor?: Uint8Array | null;
  limit: number;
  /** Puts the mempool on top of the confirmed items (and makes cursors tagged). */
  mempool?: Mempool | null;
  /** A scan already made (scanDescriptorAsync) with the same gap and mempool. */
  scan?: ScanResult;
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DESCRIPTOR_LIMIT) {
    throw new ValueError('limit', `must be an integer 1..${MAX_DESCRIPTOR_LIMIT}, got ${limit}`);
  }
}

/** Used scripts with distinct history keys. */
function distinctUsed(used: DerivedScript[]): DerivedScript[] {
  // Two scripts of one descriptor may share their 64-bit history prefix only by a collision;
  // distinct scripts with equal hashes (combo duplicates) are listed once.
  const seen = new Set<string>();
  return used.filter((u) => {
    const k = toHex(u.scriptHash.subarray(0, HISTORY_PREFIX));
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** History rows of all used scripts merged into chain order, after `cursor`. */
function* mergedHistory(
  s: Store,
  used: DerivedScript[],
  cursor: Uint8Array | null,
): Generator<{ id: Uint8Array; from: DerivedScript }> {
  const uniq = distinctUsed(used);
  const its = uniq.map((u) => historyIds(s, u.scriptHash, cursor));
  const heads = its.map((it) => nextId(it));
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h !== null && (best < 0 || cmp(h, heads[best]!) < 0)) best = i;
    }
    if (best < 0) return;
    yield { id: heads[best]!, from: uniq[best] };
    heads[best] = nextId(its[best]);
  }
}

function nextId(it: Generator<Uint8Array>): Uint8Array | null {
  const r = it.next();
  return r.done ? null : Uint8Array.from(r.value);
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** A mempool history item of a used script, with its place in the page order. */
interface MempoolItem {
  m: MempoolHistoryItem;
  from: DerivedScript;
  /** Its rank among the items of its tx (seq): the cursor's `skip`. */
  rank: number;
}

/**
 * Mempool entries of all used scripts in arrival order (within a tx: spends, then outputs, by
 * index), from arrival `fromSeq` on less the first `skip` of that arrival. A tx's items are
 * few (bounded by its inputs and outputs), so sorting them all is cheap next to a page.
 */
function mempoolItems(mempool: Mempool, used: DerivedScript[], fromSeq: number, skip: number): MempoolItem[] {
  const all: { m: MempoolHistoryItem; from: DerivedScript }[] = [];
  for (const u of distinctUsed(used)) {
    for (const m of mempool.history(u.scriptHash, fromSeq - 1)) all.push({ m, from: u });
  }
  const kindRank = (k: 'funding' | 'spending') => (k === 'spending' ? 0 : 1);
  all.sort((a, b) => a.m.seq - b.m.seq || kindRank(a.m.kind) - kindRank(b.m.kind) || a.m.index - b.m.index);
  const out: MempoolItem[] = [];
  let rank = 0;
  for (let i = 0; i < all.length; i++) {
    rank = i > 0 && all[i - 1].m.seq === all[i].m.seq ? rank + 1 : 0;
    if (all[i].m.seq === fromSeq && rank < skip) continue;
    out.push({ ...all[i], rank });
  }
  return out;
}

/** The confirmed part's cursor (item id) and the mempool part's start, from a request cursor. */
interface Place {
  confirmedAfter: Uint8Array | null;
  /** null: still in the confirmed part. */
  mempool: { fromSeq: number; skip: number } | null;
}

function placeOfCursor(cursor: Uint8Array | null | undefined, withMempool: boolean): Place {
  if (!cursor) return { confirmedAfter: null, mempool: null };
  if (!withMempool) {
    if (cursor.length !== 8) throw new ValueError('cursor', 'not a descriptor cursor');
    return { confirmedAfter: cursor, mempool: null };
  }
  if (cursor.length !== 9 || cursor[0] > 1) throw new ValueError('cursor', 'not a descriptor cursor');
  if (cursor[0] === 0) return { confirmedAfter: cursor.subarray(1), mempool: null };
  const v = new DataView(cursor.buffer, cursor.byteOffset + 1, 8);
  return { confirmedAfter: null, mempool: { fromSeq: v.getUint32(0), skip: v.getUint32(4) } };
}

function confirmedCursor(id: Uint8Array, withMempool: boolean): Uint8Array {
  if (!withMempool) return id;
  const c = new Uint8Array(9);
  c.set(id, 1);
  return c;
}

function mempoolCursor(seq: number, skip: number): Uint8Array {
  const c = new Uint8Array(9);
  c[0] = 1;
  const v = new DataView(c.buffer);
  v.setUint32(1, seq);
  v.setUint32(5, skip);
  return c;
}

function scanFor(
  s: Store,
  d: Descriptor,
  gap: number,
  mempool: Mempool | null,
  scan: ScanResult | undefined,
): ScanResult {
  return scan ?? scanDescriptor(d, gap, usedIn(s, mempool));
}

/** A page's arguments checked (before any scan), where it starts, and the scan. */
function pageStart(s: Store, descriptor: string | Descriptor, opts: DescriptorOptions) {
  const d = watchOnlyDescriptor(descriptor);
  const gap = checkGap(opts.gap);
  checkLimit(opts.limit);
  const mp = opts.mempool ?? null;
  const place = placeOfCursor(opts.cursor, mp !== null);
  return { mp, place, scan: scanFor(s, d, gap, mp, opts.scan) };
}

/** History of every derived script: confirmed in chain order, then the mempool; paged. */
export function descriptorHistory(
  s: Store,
  descriptor: string | Descriptor,
  opts: DescriptorOptions,
): { items: DescriptorHistoryItem[]; next: Uint8Array | null; scan: ScanResult } {
  const { mp, place, scan } = pageStart(s, descriptor, opts);
  const items: DescriptorHistoryItem[] = [];
  if (place.mempool === null) {
    let last: Uint8Array | null = null;
    for (const { id, from } of mergedHistory(s, scan.used, place.confirmedAfter)) {
      if (items.length === opts.limit) return { items, next: confirmedCursor(last!, mp !== null), scan };
      const item = historyItemAt(s, id);
      if (item === null) continue;
      items.push({ ...item, script: from.script, derivationIndex: from.index, branch: from.branch });
      last = id;
    }
  }
  if (mp === null) return { items, next: null, scan };
  const start = place.mempool ?? { fromSeq: 0, skip: 0 };
  for (const { m, from, rank } of mempoolItems(mp, scan.used, start.fromSeq, start.skip)) {
    if (items.length === opts.limit) return { items, next: mempoolCursor(m.seq, rank), scan };
    items.push({
      shortId: m.shortId,
      kind: m.kind,
      txid: m.txid,
      height: null,
      position: null,
      index: m.index,
      value: m.value,
      script: from.script,
      derivationIndex: from.index,
      branch: from.branch,
    });
  }
  return { items, next: null, scan };
}

/**
 * Unspent outputs of every derived script: confirmed ones in chain order (less those a mempool
 * tx spends), then mempool outputs no mempool tx spends; paged.
 */
export function descriptorUtxos(
  s: Store,
  descriptor: string | Descriptor,
  opts: DescriptorOptions,
): { items: DescriptorUtxo[]; next: Uint8Array | null } {
  const { mp, place, scan } = pageStart(s, descriptor, opts);
  const items: DescriptorUtxo[] = [];
  if (place.mempool === null) {
    let last: Uint8Array | null = null;
    for (const { id, from } of mergedHistory(s, scan.used, place.confirmedAfter)) {
      const p = placeOf(id);
      if (!p.output) continue;
      const u = s.utxos.get(id);
      if (u === undefined) continue;
      const txid = s.txidAt(p.height, p.position);
      if (txid === null) continue;
      if (mp?.outspend(txid, p.index)) continue;
      if (items.length === opts.limit) return { items, next: confirmedCursor(last!, mp !== null) };
      items.push({
        shortId: shortIdFromBytes(id),
        txid,
        vout: p.index,
        height: p.height,
        value: decodeUtxo(u).value,
        script: from.script,
        derivationIndex: from.index,
        branch: from.branch,
      });
      last = id;
    }
  }
  if (mp === null) return { items, next: null };
  const start = place.mempool ?? { fromSeq: 0, skip: 0 };
  for (const { m, from, rank } of mempoolItems(mp, scan.used, start.fromSeq, start.skip)) {
    if (m.kind !== 'funding' || mp.outspend(m.txid, m.index)) continue;
    if (items.length === opts.limit) return { items, next: mempoolCursor(m.seq, rank) };
    items.push({
      shortId: m.shortId,
      txid: m.txid,
      vout: m.index,
      height: null,
      value: m.value,
      script: from.script,
      derivationIndex: from.index,
      branch: from.branch,
    });
  }
  return { items, next: null };
}

export interface DescriptorBalance {
  /** Confirmed unspent outputs (as for one script: mempool spends of them count in unconfirmedOut). */
  confirmed: bigint;
  /** Mempool outputs paying derived scripts, and mempool inputs spending from them (0 without a mempool). */
  unconfirmedIn: bigint;
  unconfirmedOut: bigint;
  utxoCount: number;
  /** Scripts with history / scripts derived. */
  usedScripts: number;
  derivedScripts: number;
  /** Per branch: highest used derivation index (-1 none) and the next unused one to hand out. */
  branches: { lastUsed: number; nextIndex: number }[];
}

export function descriptorBalance(
  s: Store,
  descriptor: string | Descriptor,
  opts: { gap?: number; mempool?: Mempool | null; scan?: ScanResult } = {},
): DescriptorBalance {
  const d = watchOnlyDescriptor(descriptor);
  const gap = checkGap(opts.gap);
  const mp = opts.mempool ?? null;
  const scan = scanFor(s, d, gap, mp, opts.scan);
  let confirmed = 0n;
  let utxoCount = 0;
  for (const { id } of mergedHistory(s, scan.used, null)) {
    if (!placeOf(id).output) continue;
    const u = s.utxos.get(id);
    if (u === undefined) continue;
    confirmed += decodeUtxo(u).value;
    utxoCount++;
  }
  let unconfirmedIn = 0n;
  let unconfirmedOut = 0n;
  if (mp) {
    for (const { m } of mempoolItems(mp, scan.used, 0, 0)) {
      if (m.kind === 'funding') unconfirmedIn += m.value;
      else unconfirmedOut += m.value;
    }
  }
  return {
    confirmed,
    unconfirmedIn,
    unconfirmedOut,
    utxoCount,
    usedScripts: scan.used.length,
    derivedScripts: scan.scripts.length,
    branches: scan.branches.map((b) => ({ lastUsed: b.lastUsed, nextIndex: b.lastUsed + 1 })),
  };
}
