/**
 * The read path's lookups in a packed table (packed.ts): the first rows under a prefix, both
 * levels merged, collected into buffers this object keeps, with a fixed number of LMDB calls
 * and no generator per row.
 *
 * Why not `PackedTable.scan`: each lmdb-js `getRange`/`getValues` call builds an iterable, its
 * closures, an options copy and a TextDecoder, and at the default young-generation size that
 * garbage made a single-row range read cost ~10-15 µs (measured: a range iterable made once and
 * iterated again costs ~2.5 µs, an exact `getBinaryFast` ~1 µs). So this keeps one iterable per
 * kind of range, points it at the next lookup by changing its options object (lmdb-js reads
 * `key`, `start` and `exclusiveStart` when iteration starts), and reads a level-1 chunk with
 * `getBinaryFast` on the key its floor search found, reading it where lmdb-js put it.
 *
 * `scan` stays the general path (dump, compaction, cursors over long histories), and the one
 * used inside a write transaction: lmdb-js turns an iterable used there into a non-snapshot one
 * for good, so a kept iterable never sees a write transaction. Tests compare both paths on every
 * level layout.
 */

import { chunkRows, L0_KEY, lowerBound, type PackedTable, runKey, startsWith } from './packed.ts';
import type { Bin } from './store.ts';

const EMPTY = new Uint8Array(0);

/** Options objects that lmdb-js keeps a reference to and reads at each iteration's start. */
interface L0Options {
  key: Uint8Array;
  valuesForKey: true;
  start: Uint8Array;
  exclusiveStart: boolean;
}

interface ChunkRanges {
  /** The greatest chunk key at or below `start` (a reverse range of one key). */
  floorOpts: { start: Uint8Array; reverse: true; limit: 1; values: false };
  floor: Iterable<Uint8Array>;
  /** Chunks from `start` on (after it when `exclusiveStart`). */
  nextOpts: { start: Uint8Array; exclusiveStart: boolean };
  next: Iterable<{ key: Uint8Array; value: Uint8Array }>;
}

/** Rows of one level, `w` bytes each, in a buffer that grows as needed and is reused. */
class RowBuf {
  bytes: Uint8Array;
  n = 0;

  constructor(readonly w: number) {
    this.bytes = new Uint8Array(w * 16);
  }

  /** Room for one more row; returns its offset. */
  next(): number {
    const at = this.n * this.w;
    if (at + this.w > this.bytes.length) {
      const b = new Uint8Array(this.bytes.length * 2);
      b.set(this.bytes);
      this.bytes = b;
    }
    this.n++;
    return at;
  }
}

export class RowLookup {
  private readonly w: number;
  private readonly l0Opts: L0Options = {
    key: new Uint8Array(L0_KEY),
    valuesForKey: true,
    start: EMPTY,
    exclusiveStart: false,
  };
  private l0Range: Iterable<Uint8Array> | null = null;
  private readonly ranges = new Map<Bin, ChunkRanges>();
  private readonly a: RowBuf;
  private readonly b: RowBuf;
  private readonly c: RowBuf;
  /** The result of the last `find`: `count` rows of `width` bytes from offset 0. */
  rows: Uint8Array = EMPTY;

  constructor(readonly table: PackedTable) {
    this.w = table.width;
    this.a = new RowBuf(this.w);
    this.b = new RowBuf(this.w);
    this.c = new RowBuf(this.w);
  }

  /**
   * The first `limit` rows starting with `prefix` (at least L0_KEY bytes), in row order, from
   * `from` on (a row or a prefix of one, default `prefix`; `exclusive`: strictly after it):
   * what `scan` yields, cut at `limit`. Returns the count; the rows are `this.rows`, valid until
   * the next call.
   */
  find(prefix: Uint8Array, from: Uint8Array | undefined, exclusive: boolean, limit: number): number {
    const t = this.table;
    if (prefix.length < L0_KEY) throw new RangeError('lookup prefix shorter than the level-0 key');
    const start = from ?? prefix;
    if (!startsWith(start, prefix)) throw new RangeError('lookup start outside its prefix');
    if (inWriteTxn(t.l0)) return this.viaScan(prefix, start, exclusive, limit);
    this.readL0(prefix, start, exclusive, limit);
    const l1 = t.liveLevel1();
    const a = this.a;
    if (t.hasRuns()) return this.withRuns(l1, prefix, start, exclusive, limit);
    if (l1 === null) return this.result(a);
    const b = this.b;
    this.readL1(l1, EMPTY, prefix, start, exclusive, limit);
    if (b.n === 0) return this.result(a);
    if (a.n === 0) return this.result(b);
    return this.result(this.merge(limit));
  }

  /**
   * `find` in one level only (0, or the live level 1: none when nothing is compacted), all rows
   * under `prefix`. Null inside a write transaction, where only `find` reads, and while the
   * table has sorted runs.
   */
  findIn(level: 0 | 1, prefix: Uint8Array): number | null {
    const t = this.table;
    if (prefix.length < L0_KEY) throw new RangeError('lookup prefix shorter than the level-0 key');
    if (inWriteTxn(t.l0) || t.hasRuns()) return null;
    const all = Number.POSITIVE_INFINITY;
    if (level === 0) {
      this.readL0(prefix, prefix, false, all);
      return this.result(this.a);
    }
    const l1 = t.liveLevel1();
    this.b.n = 0;
    if (l1 !== null) this.readL1(l1, EMPTY, prefix, prefix, false, all);
    return this.result(this.b);
  }

  /**
   * `find` with sorted runs (runs.ts) live: level 0 is in `a`; level 1 and each run are read
   * like level 1 (a run's chunks are keyed `run number | first row`) and merged in one by one.
   */
  private withRuns(
    l1: Bin | null,
    prefix: Uint8Array,
    start: Uint8Array,
    exclusive: boolean,
    limit: number,
  ): number {
    const t = this.table;
    const { a, b } = this;
    const add = () => {
      if (b.n === 0) return;
      if (a.n === 0) copyRows(a, b);
      else copyRows(a, this.merge(limit));
    };
    if (l1 !== null) {
      this.readL1(l1, EMPTY, prefix, start, exclusive, limit);
      add();
    }
    for (const r of t.liveRuns()) {
      this.readL1(t.runsDb, runKey(r.run), prefix, start, exclusive, limit);
      add();
    }
    return this.result(a);
  }

  private result(r: RowBuf): number {
    this.rows = r.bytes;
    return r.n;
  }

  /** The general path (inside a write transaction). */
  private viaScan(prefix: Uint8Array, start: Uint8Array, exclusive: boolean, limit: number): number {
    const out = this.c;
    out.n = 0;
    if (limit > 0) {
      for (const r of this.table.scan(prefix, start, exclusive)) {
        // next() first: it may grow (replace) out.bytes.
        const at = out.next();
        out.bytes.set(r.subarray(0, this.w), at);
        if (out.n === limit) break;
      }
    }
    return this.result(out);
  }

  private readL0(prefix: Uint8Array, start: Uint8Array, exclusive: boolean, limit: number): void {
    const out = this.a;
    out.n = 0;
    if (limit <= 0) return;
    const o = this.l0Opts;
    o.key[0] = prefix[0];
    o.key[1] = prefix[1];
    o.start = start.subarray(L0_KEY);
    o.exclusiveStart = exclusive;
    this.l0Range ??= (this.table.l0 as unknown as { getRange(o: L0Options): Iterable<Uint8Array> }).getRange(
      o,
    );
    const it = this.l0Range[Symbol.iterator]();
    const restLen = prefix.length - L0_KEY;
    try {
      for (;;) {
        const r = it.next();
        if (r.done) return;
        const v = r.value;
        for (let i = 0; i < restLen; i++) if (v[i] !== prefix[L0_KEY + i]) return;
        const at = out.next();
        out.bytes[at] = o.key[0];
        out.bytes[at + 1] = o.key[1];
        for (let i = L0_KEY; i < this.w; i++) out.bytes[at + i] = v[i - L0_KEY];
        if (out.n === limit) return;
      }
    } finally {
      it.return?.();
    }
  }

  private rangesOf(db: Bin): ChunkRanges {
    let r = this.ranges.get(db);
    if (r === undefined) {
      const floorOpts = { start: EMPTY, reverse: true as const, limit: 1 as const, values: false as const };
      const nextOpts = { start: EMPTY, exclusiveStart: false };
      r = {
        floorOpts,
        floor: db.getRange(floorOpts) as unknown as Iterable<Uint8Array>,
        nextOpts,
        next: db.getRange(nextOpts) as unknown as Iterable<{ key: Uint8Array; value: Uint8Array }>,
      };
      this.ranges.set(db, r);
    }
    return r;
  }

  /**
   * Reads into `b` from the chunks keyed `kp | first row` (level 1: kp empty; a run: its
   * number).
   */
  private readL1(
    db: Bin,
    kp: Uint8Array,
    prefix: Uint8Array,
    start: Uint8Array,
    exclusive: boolean,
    limit: number,
  ): void {
    const out = this.b;
    out.n = 0;
    if (limit <= 0) return;
    const w = this.w;
    const kl = kp.length;
    const rg = this.rangesOf(db);
    const from = kl === 0 ? start : concat(kp, start);
    rg.floorOpts.start = from;
    let key: Uint8Array | null = null;
    const f = rg.floor[Symbol.iterator]();
    try {
      const r = f.next();
      if (!r.done && startsWith(r.value, kp)) key = r.value;
    } finally {
      f.return?.();
    }
    let v: Uint8Array;
    if (key !== null) {
      // The value of the key just found, in the same read transaction. getBinaryFast answers
      // in lmdb-js's shared get buffer (its `length` set to the value's): no copy is made, and
      // none is needed, as no other LMDB read happens before this chunk's rows are copied out.
      const got = db.getBinaryFast(key);
      if (got === undefined) throw new Error(`level-1 chunk vanished under a read of ${this.table.name}`);
      v = got;
    } else {
      // Every chunk starts after `start`: the first one is where the rows begin.
      const e = this.nextChunk(rg, from, false);
      if (e === null || !startsWith(e.key, kp)) return;
      key = e.key;
      v = e.value;
    }
    let i = lowerBound(kl === 0 ? key : key.subarray(kl), v, w, start, exclusive);
    for (;;) {
      const n = chunkRows(v, w);
      const p = v[0];
      const rw = w - p;
      for (; i < n; i++) {
        // Rows from `start` on are >= prefix: the first one without it is past them all.
        const base = 1 + i * rw - p;
        for (let j = 0; j < prefix.length; j++) {
          const b = j < p ? key[kl + j] : v[base + j];
          if (b !== prefix[j]) return;
        }
        // Byte loops, not set(subarray): lmdb-js hands Buffers, whose subarray allocates.
        const at = out.next();
        const o = out.bytes;
        for (let j = 0; j < p; j++) o[at + j] = key[kl + j];
        for (let j = p; j < w; j++) o[at + j] = v[base + j];
        if (out.n === limit) return;
      }
      const e = this.nextChunk(rg, key, true);
      if (e === null || !startsWith(e.key, kp)) return;
      key = e.key;
      v = e.value;
      i = 0;
    }
  }

  private nextChunk(
    rg: ChunkRanges,
    from: Uint8Array,
    exclusive: boolean,
  ): { key: Uint8Array; value: Uint8Array } | null {
    rg.nextOpts.start = from;
    rg.nextOpts.exclusiveStart = exclusive;
    const it = rg.next[Symbol.iterator]();
    try {
      const r = it.next();
      return r.done ? null : r.value;
    } finally {
      it.return?.();
    }
  }

  /** Merges the two levels' rows (no row is in both) into `c`, at most `limit`. */
  private merge(limit: number): RowBuf {
    const { a, b, c, w } = this;
    c.n = 0;
    let i = 0;
    let j = 0;
    while (c.n < limit && (i < a.n || j < b.n)) {
      let fromA: boolean;
      if (i === a.n) fromA = false;
      else if (j === b.n) fromA = true;
      else fromA = compareAt(a.bytes, i * w, b.bytes, j * w, w) <= 0;
      const at = c.next();
      const src = fromA ? a.bytes : b.bytes;
      const from = fromA ? i++ * w : j++ * w;
      for (let k = 0; k < w; k++) c.bytes[at + k] = src[from + k];
    }
    return c;
  }
}

/** dst = src's rows. */
function copyRows(dst: RowBuf, src: RowBuf): void {
  const n = src.n * src.w;
  if (dst.bytes.length < n) dst.bytes = new Uint8Array(src.bytes.length);
  dst.bytes.set(src.bytes.subarray(0, n), 0);
  dst.n = src.n;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function compareAt(x: Uint8Array, xi: number, y: Uint8Array, yi: number, w: number): number {
  for (let k = 0; k < w; k++) {
    const d = x[xi + k] - y[yi + k];
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether lmdb-js has a write transaction open on this store's environment. */
function inWriteTxn(db: Bin): boolean {
  return (db as unknown as { env: { writeTxn?: unknown } }).env.writeTxn != null;
}
