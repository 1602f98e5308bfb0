/**
 * A packed table: fixed-width rows (txids, spends, extspends, history) kept in two levels, and
 * between them sorted runs.
 *
 * Level 0 is where single blocks write: an LMDB dupSort + dupFixed table keyed by the row's
 * first 2 bytes, the other bytes a fixed-size duplicate value (LEAF2 pages, no per-value
 * header). It takes one random put per row, and LMDB's page splits leave its pages ~60 % full.
 *
 * Level 1 is what compaction (compact.ts) writes: the rows of every level merged in order and
 * cut into chunks, each one LMDB row keyed by its first row, valued `p | rows with their first
 * p bytes removed`, where p is the prefix every row of the chunk shares (the first and last
 * row's common prefix; rows are sorted). A chunk holds up to CHUNK_BYTES, so a large one fills
 * exactly one overflow page and a small table stays inline in its leaf pages: ~100 % fill, and
 * rows shorter than their width. Level 1 is written only by compaction, read by every lookup,
 * and rows leave it only when a disconnect below the compaction point removes them.
 *
 * Runs (runs.ts) are what a batched catch-up writes instead of level-0 puts: a batch's rows of
 * a table, sorted, as level-1 chunks keyed `run number u32 BE | first row` in the table's runs
 * table, one put per chunk with MDB_APPEND. Runs are merged (tiered) and folded into level 1 by
 * compaction.
 *
 * A lookup merges every level and run in row order, so what a table holds (and the dump) does
 * not depend on where a row is. Two level-1 tables (slots) exist so that a compaction can
 * write the new level 1 beside the old in the same transaction; meta `packed` says which one
 * is current.
 */
import type { Bin } from './store.ts';

/** The largest value LMDB (lmdb-js build, 4 KiB pages) keeps in one overflow page. */
export const CHUNK_BYTES = 4072;
/** Bytes of a row that form its level-0 key. */
export const L0_KEY = 2;
/** Bytes of a run chunk's key before its first row: the run number, u32 BE. */
export const RUN_KEY = 4;

/** A live run of a packed table (meta `runs`). */
export interface RunInfo {
  run: number;
  /** Merges the run went through (0: written by one batch). */
  tier: number;
  /** Rows written to it (a disconnect that removes some does not lower it). */
  rows: number;
}

export class PackedTable {
  constructor(
    readonly name: string,
    /** Bytes per row. */
    readonly width: number,
    readonly l0: Bin,
    readonly slots: readonly [Bin, Bin],
    /** The current level-1 table, or null while nothing is compacted. */
    private readonly level1: () => Bin | null,
    /** Chunks of the table's sorted runs (runs.ts). */
    readonly runsDb: Bin,
    /** The live runs, ascending by run number. */
    readonly liveRuns: () => readonly RunInfo[],
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
   * Removes a row (inside a write transaction) from whichever level or run holds it. False
   * when none does.
   */
  remove(row: Uint8Array): boolean {
    if (this.l0.removeSync(row.subarray(0, L0_KEY), row.subarray(L0_KEY, this.width))) return true;
    const r = row.subarray(0, this.width);
    const runs = this.liveRuns();
    // Newest first: a disconnect removes the rows of the last blocks written.
    for (let i = runs.length - 1; i >= 0; i--) {
      if (removeFromChunk(this.runsDb, this.width, r, runKey(runs[i].run))) return true;
    }
    const l1 = this.level1();
    return l1 !== null && removeFromChunk(l1, this.width, r, EMPTY);
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
    const sources: RowCursor[] = [new L0Cursor(this.l0, this.width, prefix, start, exclusive)];
    const l1 = this.level1();
    if (l1 !== null) sources.push(new ChunkCursor(l1, this.width, EMPTY, start, exclusive));
    for (const r of this.liveRuns()) {
      sources.push(new ChunkCursor(this.runsDb, this.width, runKey(r.run), start, exclusive));
    }
    const m = new RowMerge(sources);
    try {
      // Rows from `start` on are >= prefix: the first one without it is past them all.
      for (let row = m.next(); row !== null && startsWith(row, prefix); row = m.next()) yield row;
    } finally {
      m.close();
    }
  }

  /** Every row in order (every level and run merged): the dump and compaction read this. */
  *all(): Generator<Uint8Array> {
    const m = this.merged();
    try {
      for (let row = m.next(); row !== null; row = m.next()) yield row;
    } finally {
      m.close();
    }
  }

  /** Every row in order, as a merge the caller steps and closes (compaction). */
  merged(): RowMerge {
    const sources: RowCursor[] = [new L0Cursor(this.l0, this.width)];
    const l1 = this.level1();
    if (l1 !== null) sources.push(new ChunkCursor(l1, this.width, EMPTY));
    for (const r of this.liveRuns()) sources.push(new ChunkCursor(this.runsDb, this.width, runKey(r.run)));
    return new RowMerge(sources);
  }

  /** The live level-1 table, or null while nothing is compacted. */
  liveLevel1(): Bin | null {
    return this.level1();
  }

  /** Whether any run is live (the read path's fast lookups read the levels only). */
  hasRuns(): boolean {
    return this.liveRuns().length > 0;
  }

  /** Rows outside level 1: level 0's entries plus the rows written to live runs. */
  l0Rows(): number {
    let n = (this.l0.getStats() as { entryCount: number }).entryCount;
    for (const r of this.liveRuns()) n += r.rows;
    return n;
  }
}

const EMPTY = new Uint8Array(0);

/** The key prefix of run `run`'s chunks. */
export function runKey(run: number): Uint8Array {
  const k = new Uint8Array(RUN_KEY);
  new DataView(k.buffer).setUint32(0, run);
  return k;
}

// --- cursors and their merge ------------------------------------------------------------------

/** A sorted stream of rows: `row` is the current one (a view it owns) after advance() is true. */
export interface RowCursor {
  row: Uint8Array;
  advance(): boolean;
  close(): void;
}

/** Level 0's rows: all of them, or those of one 2-byte bucket from `start` on. */
class L0Cursor implements RowCursor {
  readonly row: Uint8Array;
  private readonly it: Iterator<unknown>;
  private readonly bucket: boolean;

  constructor(db: Bin, w: number, prefix?: Uint8Array, start?: Uint8Array, exclusive = false) {
    this.row = new Uint8Array(w);
    this.bucket = prefix !== undefined;
    if (prefix !== undefined && start !== undefined) {
      const key = prefix.subarray(0, L0_KEY);
      this.row.set(key, 0);
      const opts = { start: start.subarray(L0_KEY), exclusiveStart: exclusive };
      this.it = db.getValues(key, opts)[Symbol.iterator]();
    } else this.it = db.getRange()[Symbol.iterator]();
  }

  advance(): boolean {
    const r = this.it.next();
    if (r.done) return false;
    if (this.bucket) this.row.set(r.value as Uint8Array, L0_KEY);
    else {
      const { key, value } = r.value as { key: Uint8Array; value: Uint8Array };
      this.row.set(key, 0);
      this.row.set(value, L0_KEY);
    }
    return true;
  }

  close(): void {
    this.it.return?.();
  }
}

/**
 * The rows of chunks whose keys start with `kp` (level 1: empty; a run: its number), in order,
 * from `start` on when given.
 */
export class ChunkCursor implements RowCursor {
  readonly row: Uint8Array;
  private readonly it: Iterator<{ key: Uint8Array; value: Uint8Array }>;
  private key: Uint8Array = EMPTY;
  private v: Uint8Array = EMPTY;
  private i = 0;
  private n = 0;
  private p = 0;
  private first = true;
  private readonly kpLen: number;

  constructor(
    db: Bin,
    private readonly w: number,
    kp: Uint8Array,
    private readonly start?: Uint8Array,
    private readonly exclusive = false,
  ) {
    this.row = new Uint8Array(w);
    this.kpLen = kp.length;
    let from: Uint8Array = kp;
    if (start !== undefined) from = chunkFrom(db, kp, start) ?? kp;
    const end = kp.length === 0 ? undefined : prefixEnd(kp);
    this.it = db.getRange(end === undefined ? { start: from } : { start: from, end })[Symbol.iterator]();
  }

  advance(): boolean {
    const w = this.w;
    while (this.i >= this.n) {
      const r = this.it.next();
      if (r.done) return false;
      const key = r.value.key;
      const v = r.value.value;
      this.key = this.kpLen === 0 ? key : key.subarray(this.kpLen);
      this.v = v;
      this.p = v[0];
      this.n = chunkRows(v, w);
      this.i = 0;
      if (this.first && this.start !== undefined)
        this.i = lowerBound(this.key, v, w, this.start, this.exclusive);
      this.first = false;
      for (let j = 0; j < this.p; j++) this.row[j] = this.key[j];
    }
    const p = this.p;
    const v = this.v;
    const base = 1 + this.i * (w - p) - p;
    for (let j = p; j < w; j++) this.row[j] = v[base + j];
    this.i++;
    return true;
  }

  close(): void {
    this.it.return?.();
  }
}

/**
 * Merges sorted cursors (no row is in two of them) through a binary heap of their current
 * rows. next() is the least row left (the view of the cursor that holds it, valid until the
 * next call), null when all are exhausted.
 */
export class RowMerge {
  private readonly heap: RowCursor[] = [];
  private top: RowCursor | null = null;

  constructor(private readonly sources: RowCursor[]) {
    for (const c of sources) if (c.advance()) this.push(c);
  }

  next(): Uint8Array | null {
    const top = this.top;
    this.top = null;
    if (top?.advance()) this.push(top);
    const h = this.heap;
    if (h.length === 0) return null;
    const min = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      this.down(0);
    }
    this.top = min;
    return min.row;
  }

  close(): void {
    for (const c of this.sources) c.close();
  }

  private push(c: RowCursor): void {
    const h = this.heap;
    let i = h.length;
    h.push(c);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (compare(h[up].row, c.row) <= 0) break;
      h[i] = h[up];
      i = up;
    }
    h[i] = c;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const c = h[i];
    for (;;) {
      let k = 2 * i + 1;
      if (k >= n) break;
      if (k + 1 < n && compare(h[k + 1].row, h[k].row) < 0) k++;
      if (compare(c.row, h[k].row) <= 0) break;
      h[i] = h[k];
      i = k;
    }
    h[i] = c;
  }
}

/** Writes rows (ascending, unique) as chunks with MDB_APPEND: full pages. */
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
    /** Bytes every chunk key starts with (a run's number; none for level 1). */
    private readonly keyPrefix: Uint8Array = EMPTY,
  ) {
    // Grown as rows come (a chunk of 1-byte suffixes holds ~4,000 rows): a batch's small
    // run should not cost a ~70 KB buffer.
    this.rows = new Uint8Array(width * 64);
  }

  add(row: Uint8Array): void {
    this.addAt(row, 0);
  }

  /** add() of the row at src[at..at + width) (a batch's row buffer, without a copy first). */
  addAt(src: Uint8Array, at: number): void {
    const w = this.width;
    const rows = this.rows;
    if (this.n > 0) {
      // Rows come sorted: the chunk's shared prefix is its first row's with the newest.
      let p = 0;
      const max = this.p;
      while (p < max && rows[p] === src[at + p]) p++;
      if (1 + (this.n + 1) * (w - p) > CHUNK_BYTES) this.flush();
      else this.p = p;
    }
    if (this.n === 0) this.p = w; // one row: nothing shared yet
    let rows2 = rows;
    if ((this.n + 1) * w > rows.length) {
      rows2 = new Uint8Array(Math.min(2 * rows.length, w * CHUNK_BYTES));
      rows2.set(rows);
      this.rows = rows2;
    }
    for (let j = 0, o = this.n * w; j < w; j++) rows2[o + j] = src[at + j];
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
    const kp = this.keyPrefix;
    const key = new Uint8Array(kp.length + w);
    key.set(kp, 0);
    key.set(this.rows.subarray(0, w), kp.length);
    this.db.putSync(key, v, { append: true });
    this.chunks++;
    this.n = 0;
  }
}

// --- chunks ----------------------------------------------------------------------------------

/**
 * The key of the chunk (among those whose key starts with `kp`) whose first row is the
 * greatest at or below `at`, else of the first such chunk; null when there is none.
 */
function chunkFrom(db: Bin, kp: Uint8Array, at: Uint8Array): Uint8Array | null {
  const k = kp.length === 0 ? at : concat(kp, at);
  for (const { key } of db.getRange({ start: k, reverse: true, limit: 1 })) {
    if (startsWith(key, kp)) return key;
  }
  for (const { key } of db.getRange({ start: kp, limit: 1 })) if (startsWith(key, kp)) return key;
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

/**
 * Removes `row` from its chunk among those keyed `kp | first row` (level 1: kp empty; a run:
 * its number), rewriting, re-keying or deleting the chunk.
 */
function removeFromChunk(db: Bin, w: number, row: Uint8Array, kp: Uint8Array): boolean {
  let key: Uint8Array | null = null;
  let v: Uint8Array | null = null;
  const k = kp.length === 0 ? row : concat(kp, row);
  for (const e of db.getRange({ start: k, reverse: true, limit: 1 })) {
    key = e.key;
    v = e.value;
  }
  if (key === null || v === null || !startsWith(key, kp)) return false;
  const first = key.subarray(kp.length);
  const i = lowerBound(first, v, w, row, false);
  const n = chunkRows(v, w);
  if (i >= n || compareRow(first, v, w, i, row) !== 0) return false;
  if (n === 1) return db.removeSync(key);
  const p = v[0];
  const rw = w - p;
  const next = new Uint8Array(v.length - rw);
  next.set(v.subarray(0, 1 + i * rw), 0);
  next.set(v.subarray(1 + (i + 1) * rw), 1 + i * rw);
  if (i > 0) {
    db.putSync(Uint8Array.from(key), next);
    return true;
  }
  // The chunk's first row goes: it is re-keyed by its new first row (same shared prefix).
  const newKey = new Uint8Array(kp.length + w);
  newKey.set(kp, 0);
  newKey.set(first.subarray(0, p), kp.length);
  newKey.set(next.subarray(1, 1 + rw), kp.length + p);
  db.removeSync(Uint8Array.from(key));
  db.putSync(newKey, next);
  return true;
}

// --- helpers ---------------------------------------------------------------------------------

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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** One past `prefix` as a big-endian number (an exclusive range end); undefined if all 0xff. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const e = Uint8Array.from(prefix);
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i] !== 0xff) {
      e[i]++;
      return e.subarray(0, i + 1);
    }
  }
  return undefined;
}
