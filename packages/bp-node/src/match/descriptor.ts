/**
 * Descriptor queries: history, UTXOs and balance of every scriptPubKey a descriptor derives,
 * over the whole index. Ranged descriptors are derived per multipath branch until `gap`
 * consecutive indexes have no history (BIP-44's gap limit); each item says which derivation
 * index (and branch) it belongs to. Private keys never get past `watchOnlyDescriptor`.
 */
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { assertWatchOnly, type Descriptor, parseDescriptor } from '@lnpbp/bitcoin/descriptor/index';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { shortIdFromBytes } from '@lnpbp/bitcoin/shortid/index';
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
 * Derives until `gap` consecutive unused indexes per branch; `isUsed` says whether a script
 * hash has any history (confirmed, or with the mempool for a view).
 */
export function scanDescriptor(
  d: Descriptor,
  gap: number,
  isUsed: (scriptHash: Uint8Array) => boolean,
): ScanResult {
  const scripts: DerivedScript[] = [];
  const used: DerivedScript[] = [];
  const branches: { lastUsed: number; derived: number }[] = [];
  const nBranches = Math.max(1, d.multipathCount);
  for (let b = 0; b < nBranches; b++) {
    let lastUsed = -1;
    let i = 0;
    for (; d.isRange ? i - lastUsed <= gap : i < 1; i++) {
      for (const s of derive(d, b, i)) {
        scripts.push(s);
        if (isUsed(s.scriptHash)) {
          used.push(s);
          lastUsed = i;
        }
      }
    }
    branches.push({ lastUsed, derived: i });
  }
  return { scripts, used, branches };
}

export function hasHistory(s: Store, scriptHash: Uint8Array): boolean {
  return !historyIds(s, scriptHash).next().done;
}

export interface DescriptorHistoryItem {
  shortId: bigint;
  kind: 'funding' | 'spending';
  txid: Uint8Array;
  height: number;
  position: number;
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
  height: number;
  value: bigint;
  script: Uint8Array;
  derivationIndex: number | null;
  branch: number;
}

export interface DescriptorOptions {
  gap?: number;
  /** 8-byte item id of the last item of the previous page. */
  cursor?: Uint8Array | null;
  limit: number;
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DESCRIPTOR_LIMIT) {
    throw new ValueError('limit', `must be an integer 1..${MAX_DESCRIPTOR_LIMIT}, got ${limit}`);
  }
}

/** History rows of all used scripts merged into chain order, after `cursor`. */
function* mergedHistory(
  s: Store,
  used: DerivedScript[],
  cursor: Uint8Array | null,
): Generator<{ id: Uint8Array; from: DerivedScript }> {
  // Two scripts of one descriptor may share their 64-bit history prefix only by a collision;
  // distinct scripts with equal hashes (combo duplicates) are listed once.
  const seen = new Set<string>();
  const uniq = used.filter((u) => {
    const k = toHex(u.scriptHash.subarray(0, HISTORY_PREFIX));
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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

/** Confirmed history of every derived script, in chain order, paged by item id. */
export function descriptorHistory(
  s: Store,
  descriptor: string | Descriptor,
  opts: DescriptorOptions,
): { items: DescriptorHistoryItem[]; next: Uint8Array | null; scan: ScanResult } {
  const d = watchOnlyDescriptor(descriptor);
  const gap = checkGap(opts.gap);
  checkLimit(opts.limit);
  const scan = scanDescriptor(d, gap, (h) => hasHistory(s, h));
  const items: DescriptorHistoryItem[] = [];
  let last: Uint8Array | null = null;
  for (const { id, from } of mergedHistory(s, scan.used, opts.cursor ?? null)) {
    if (items.length === opts.limit) return { items, next: last, scan };
    const item = historyItemAt(s, id);
    if (item === null) continue;
    items.push({
      ...item,
      script: from.script,
      derivationIndex: from.index,
      branch: from.branch,
    });
    last = id;
  }
  return { items, next: null, scan };
}

/** Confirmed unspent outputs of every derived script, in chain order, paged by output id. */
export function descriptorUtxos(
  s: Store,
  descriptor: string | Descriptor,
  opts: DescriptorOptions,
): { items: DescriptorUtxo[]; next: Uint8Array | null } {
  const d = watchOnlyDescriptor(descriptor);
  const gap = checkGap(opts.gap);
  checkLimit(opts.limit);
  const scan = scanDescriptor(d, gap, (h) => hasHistory(s, h));
  const items: DescriptorUtxo[] = [];
  let last: Uint8Array | null = null;
  for (const { id, from } of mergedHistory(s, scan.used, opts.cursor ?? null)) {
    const p = placeOf(id);
    if (!p.output) continue;
    const u = s.utxos.get(id);
    if (u === undefined) continue;
    if (items.length === opts.limit) return { items, next: last };
    const txid = s.txidAt(p.height, p.position);
    if (txid === null) continue;
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
  return { items, next: null };
}

export interface DescriptorBalance {
  confirmed: bigint;
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
  opts: { gap?: number } = {},
): DescriptorBalance {
  const d = watchOnlyDescriptor(descriptor);
  const gap = checkGap(opts.gap);
  const scan = scanDescriptor(d, gap, (h) => hasHistory(s, h));
  let confirmed = 0n;
  let utxoCount = 0;
  for (const { id } of mergedHistory(s, scan.used, null)) {
    if (!placeOf(id).output) continue;
    const u = s.utxos.get(id);
    if (u === undefined) continue;
    confirmed += decodeUtxo(u).value;
    utxoCount++;
  }
  return {
    confirmed,
    utxoCount,
    usedScripts: scan.used.length,
    derivedScripts: scan.scripts.length,
    branches: scan.branches.map((b) => ({ lastUsed: b.lastUsed, nextIndex: b.lastUsed + 1 })),
  };
}
