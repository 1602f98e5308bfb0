/**
 * A packed table: fixed-width rows (txids, spends, extspends, history) kept in two levels.
 *
 * Level 0 is where blocks write: an LMDB dupSort + dupFixed table keyed by the row's first
 * 2 bytes, the other bytes a fixed-size duplicate value (LEAF2 pages, no per-value header).
 * It takes one random put per row, and LMDB's page splits leave its pages ~60 % full.
 *
 * Level 1 is what compaction (compact.ts) writes: the rows of both levels merged in order and
 * cut into chunks, each one LMDB row keyed by its first row, valued `p | rows with their first
 * p bytes removed`, where p is the prefix every row of the chunk shares (the first and last
 * row's common prefix; rows are sorted). A chunk holds up to CHUNK_BYTES, so a large one fills
 * exactly one overflow page and a small table stays inline in its leaf pages: ~100 % fill, and
 * rows shorter than their width. Level 1 is written only by compaction, read by every lookup,
 * and rows leave it only when a disconnect below the compaction point removes them.
 *
 * A lookup merges both levels in row order, so what a table holds (and the dump) does not
 * depend on which level a row is in. Two level-1 tables (slots) exist so that a compaction can
 * write the new level 1 beside the old in the same transaction; meta `packed` says which one
 * is current.
 */
import type { Bin } from './store.ts';

/** The largest value LMDB (lmdb-js build, 4 KiB pages) keeps in one overflow page. */
export const CHUNK_BYTES = 4072;
/** Bytes of a row that form its level-0 key. */
export const L0_KEY = 2;

export class PackedTable {
  constructor(
    readonly name: string,
    /** Bytes per row. */
    readonly width: number,
    readonly l0: Bin,
    readonly slots: readonly [Bin, Bin],
    /** The current level-1 table, or null while nothing is compacted. */
    private readonly level1: () => Bin | null,
  ) {}

  private lastRow: Uint8Array | null = null;
  private lastKey: Uint8Array = new Uint8Array(0);
  private lastValue: Uint8Array = new Uint8Array(0);

  /** Adds a row (inside a write transaction). Callers reuse one row buffer: its views are kept. */
  put(row: Uint8Array): void {
    if (row !== this.lastRow) {
      this.lastRow = row;
      this.lastKey = row.subarray(0, L0_KEY);
      this.lastValue = row.subarray(L0_KEY, this.width);
    }
    this.l0.putSync(this.lastKey, this.lastValue);
  }

  /**
   * Removes a row (inside a write transaction) from whichever level holds it. False when
   * neither does.
   */
  remove(row: Uint8Array): boolean {
    if (this.l0.removeSync(row.subarray(0, L0_KEY), row.subarray(L0_KEY, this.width))) return true;
    const l1 = this.level1();
    return l1 !== null && removeFromChunk(l1, this.width, row.subarray(0, this.width));
  }

  /**
   * Rows starting with `prefix` (at least L0_KEY bytes), in row order, from `from` on (a row
   * or a prefix of one, default `prefix`; `exclusive`: strictly after it). Each row yielded is
   * a view valid until the next step.
   */
  *scan(prefix: Uint8Array, from?: Uint8Array, exclusive = false): Generator<Uint8Array> {
    if (prefix.length < L0_KEY) throw new RangeError('scan prefix shorter than the level-0 key');
    const start = from ?? prefix;
    if (!startsWith(start, prefix)) throw new RangeError('scan start outside its prefix');
    const a = this.scanL0(prefix, start, exclusive);
    const l1 = this.level1();
    if (l1 === null) {
      yield* a;
      return;
    }
    yield* merge(a, scanChunks(l1, this.width, prefix, start, exclusive));
  }

  /** Every row in order (both levels merged): the dump and compaction read this. */
  *all(): Generator<Uint8Array> {
    const a = this.allL0();
    const l1 = this.level1();
    if (l1 === null) {
      yield* a;
      return;
    }
    yield* merge(a, allChunks(l1, this.width));
  }

  /** The live level-1 table, or null while nothing is compacted. */
  liveLevel1(): Bin | null {
    return this.level1();
  }

  /** Rows in level 0 (entries of the dupSort table). */
  l0Rows(): number {
    return (this.l0.getStats() as { entryCount: number }).entryCount;
  }

  private *scanL0(prefix: Uint8Array, start: Uint8Array, exclusive: boolean): Generator<Uint8Array> {
    const key = prefix.subarray(0, L0_KEY);
    const rest = prefix.subarray(L0_KEY);
    const row = new Uint8Array(this.width);
    row.set(key, 0);
    const opts = { start: start.subarray(L0_KEY), exclusiveStart: exclusive };
    for (const v of this.l0.getValues(key, opts)) {
      if (!startsWith(v, rest)) return;
      row.set(v, L0_KEY);
      yield row;
    }
  }

  private *allL0(): Generator<Uint8Array> {
    const row = new Uint8Array(this.width);
    for (const { key, value } of this.l0.getRange()) {
      row.set(key, 0);
      row.set(value, L0_KEY);
      yield row;
    }
  }
}

/** Writes rows (ascending, unique) as level-1 chunks with MDB_APPEND: full pages. */
export class ChunkWriter {
  private rows: Uint8Array;
  private n = 0;
  private p = 0;
  /** Rows written so far. */
  count = 0;
  chunks = 0;

  constructor(
    private readonly db: Bin,
    private readonly width: number,
  ) {
    this.rows = new Uint8Array(width * CHUNK_BYTES);
  }

  add(row: Uint8Array): void {
    const w = this.width;
    if (this.n > 0) {
      const p = Math.min(this.p, commonPrefix(this.rows.subarray(0, w), row, w));
      if (1 + (this.n + 1) * (w - p) > CHUNK_BYTES) this.flush();
      else this.p = p;
    }
    if (this.n === 0) this.p = w; // one row: nothing shared yet
    this.rows.set(row.subarray(0, w), this.n * w);
    this.n++;
    this.count++;
  }

  finish(): void {
    if (this.n > 0) this.flush();
  }

  private flush(): void {
    const w = this.width;
    const p = this.n === 1 ? 0 : this.p;
    const v = new Uint8Array(1 + this.n * (w - p));
    v[0] = p;
    for (let i = 0; i < this.n; i++) v.set(this.rows.subarray(i * w + p, (i + 1) * w), 1 + i * (w - p));
    this.db.putSync(this.rows.slice(0, w), v, { append: true });
    this.chunks++;
    this.n = 0;
  }
}

// --- level-1 chunks ---------------------------------------------------------------------------

/** The chunk whose first row is the greatest at or below `at`, else the first chunk. */
function chunkFrom(db: Bin, at: Uint8Array): Uint8Array | null {
  for (const { key } of db.getRange({ start: at, reverse: true, limit: 1 })) return key;
  for (const { key } of db.getRange({ limit: 1 })) return key;
  return null;
}

/** compare(row i of the chunk, target) over target's length (a shorter target sorts first). */
export function compareRow(key: Uint8Array, v: Uint8Array, w: number, i: number, t: Uint8Array): number {
  const p = v[0];
  const base = 1 + i * (w - p) - p;
  const n = Math.min(w, t.length);
  for (let j = 0; j < n; j++) {
    const b = j < p ? key[j] : v[base + j];
    if (b !== t[j]) return b - t[j];
  }
  return w - t.length;
}

export function chunkRows(v: Uint8Array, w: number): number {
  return (v.length - 1) / (w - v[0]);
}

/** First row index of the chunk >= t (> t when exclusive). */
export function lowerBound(
  key: Uint8Array,
  v: Uint8Array,
  w: number,
  t: Uint8Array,
  exclusive: boolean,
): number {
  let lo = 0;
  let hi = chunkRows(v, w);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareRow(key, v, w, mid, t);
    if (c < 0 || (exclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function* chunkRowsFrom(key: Uint8Array, v: Uint8Array, w: number, i: number, row: Uint8Array) {
  const p = v[0];
  const n = chunkRows(v, w);
  row.set(key.subarray(0, p), 0);
  for (; i < n; i++) {
    row.set(v.subarray(1 + i * (w - p), 1 + (i + 1) * (w - p)), p);
    yield row;
  }
}

function* scanChunks(
  db: Bin,
  w: number,
  prefix: Uint8Array,
  start: Uint8Array,
  exclusive: boolean,
): Generator<Uint8Array> {
  const first = chunkFrom(db, start);
  if (first === null) return;
  const row = new Uint8Array(w);
  let firstChunk = true;
  for (const { key, value } of db.getRange({ start: first })) {
    const i = firstChunk ? lowerBound(key, value, w, start, exclusive) : 0;
    firstChunk = false;
    for (const r of chunkRowsFrom(key, value, w, i, row)) {
      // Rows from `start` on are >= prefix: the first one without it is past them all.
      if (!startsWith(r, prefix)) return;
      yield r;
    }
  }
}

function* allChunks(db: Bin, w: number): Generator<Uint8Array> {
  const row = new Uint8Array(w);
  for (const { key, value } of db.getRange()) yield* chunkRowsFrom(key, value, w, 0, row);
}

/** Removes `row` from its level-1 chunk, rewriting (or deleting) the chunk. */
function removeFromChunk(db: Bin, w: number, row: Uint8Array): boolean {
  let key: Uint8Array | null = null;
  let v: Uint8Array | null = null;
  for (const e of db.getRange({ start: row, reverse: true, limit: 1 })) {
    key = e.key;
    v = e.value;
  }
  if (key === null || v === null) return false;
  const i = lowerBound(key, v, w, row, false);
  const n = chunkRows(v, w);
  if (i >= n || compareRow(key, v, w, i, row) !== 0) return false;
  if (n === 1) return db.removeSync(key);
  const p = v[0];
  const rw = w - p;
  const next = new Uint8Array(v.length - rw);
  next.set(v.subarray(0, 1 + i * rw), 0);
  next.set(v.subarray(1 + (i + 1) * rw), 1 + i * rw);
  if (i > 0) {
    db.putSync(key, next);
    return true;
  }
  // The chunk's first row goes: it is re-keyed by its new first row (same shared prefix).
  const newKey = new Uint8Array(w);
  newKey.set(key.subarray(0, p), 0);
  newKey.set(next.subarray(1, 1 + rw), p);
  db.removeSync(key);
  db.putSync(newKey, next);
  return true;
}

// --- helpers ---------------------------------------------------------------------------------

/** Merges two ascending row streams (no row is in both). */
function* merge(a: Iterator<Uint8Array>, b: Iterator<Uint8Array>): Generator<Uint8Array> {
  let x = a.next();
  let y = b.next();
  while (!x.done && !y.done) {
    if (compare(x.value, y.value) <= 0) {
      yield x.value;
      x = a.next();
    } else {
      yield y.value;
      y = b.next();
    }
  }
  for (; !x.done; x = a.next()) yield x.value;
  for (; !y.done; y = b.next()) yield y.value;
}

export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (a.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

function commonPrefix(a: Uint8Array, b: Uint8Array, n: number): number {
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
