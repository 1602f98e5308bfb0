/**
 * Sorted runs: how a batched catch-up writes the packed tables nobody reads while it runs
 * (`spends`, `extspends`, `history`; `txids` stays in level 0, the writer resolves inputs
 * through it). A batch's rows of such a table, already sorted, are cut into level-1 chunks
 * (packed.ts, `p | rows without their first p bytes`, <= CHUNK_BYTES) and appended with
 * MDB_APPEND to the table's runs table under `run number u32 BE | chunk's first row`: one put
 * per ~4 KiB and full pages, where level 0 takes one random dupSort put per row.
 *
 * Merge policy (tiered): a run written by a batch is tier 0; when FAN_IN runs of one tier are
 * live they are merged, in the same transaction, into one run of the next tier (a sequential
 * read of each, appends of the result, the inputs' chunks deleted). A row is so rewritten once
 * per tier, log_FAN_IN(batches) times at most, and a table has at most FAN_IN - 1 runs per
 * tier. Compaction (compact.ts) folds every run into level 1.
 *
 * Crash safety: runs, merges and meta `runs` (the directory) are written in the batch's one
 * LMDB transaction, so a kill at any instant leaves the directory and the chunks in step.
 */
import { ChunkCursor, ChunkWriter, type PackedTable, RowMerge, type RunInfo, runKey } from './packed.ts';
import type { RowBuffer } from './rowsort.ts';
import type { Store } from './store.ts';

/** Runs of one tier merged at once. */
export const FAN_IN = 8;
/**
 * Fewer rows of a table than this in a batch go to level 0 instead (batch.ts): a run costs a
 * few tens of microseconds whatever its size (its directory entry, a chunk, its share of later
 * merges) and adds a source to every lookup until compaction, a level-0 put ~1.2-2.5 us a row.
 */
export const MIN_RUN_ROWS = 256;

/** What the runs of a batch cost (the bench and tests read it). */
export interface RunStats {
  /** Rows written to new runs. */
  rows: number;
  /** Rows rewritten by merges, and the merges' milliseconds. */
  mergedRows: number;
  merges: number;
  mergeMs: number;
}

export const runStats: RunStats = { rows: 0, mergedRows: 0, merges: 0, mergeMs: 0 };

/**
 * Writes `rows` (their order `order`, ascending) as a new run of `t`, then merges while a tier
 * holds FAN_IN runs. Inside the caller's write transaction; updates meta `runs`.
 */
export function writeRun(s: Store, t: PackedTable, rows: RowBuffer, order: Uint32Array): void {
  if (order.length === 0) return;
  const live = [...t.liveRuns()];
  const run = nextRun(t, live);
  const w = new ChunkWriter(t.runsDb, t.width, runKey(run));
  const buf = rows.buf;
  const width = t.width;
  for (let i = 0; i < order.length; i++) w.addAt(buf, order[i] * width);
  w.finish();
  runStats.rows += w.count;
  live.push({ run, tier: 0, rows: w.count });
  settle(t, live);
  s.setRuns(t, live);
}

/**
 * Leaves `t` at most two live runs (inside the caller's write transaction; updates meta `runs`):
 * after a short catch-up, what it left in runs costs every lookup one probe per run until the
 * next compaction. The largest run is left alone while it holds more rows than all the others
 * together (they are merged into one beside it), else all are merged: a node that catches up
 * a day's blocks at every start does not rewrite everything since its last compaction each
 * time, and each row is rewritten O(log n) times, as in a binary counter. Returns the rows
 * rewritten.
 */
export function foldRuns(s: Store, t: PackedTable): number {
  const live = [...t.liveRuns()].sort((a, b) => b.rows - a.rows);
  if (live.length < 2) return 0;
  const rest = live.slice(1);
  const restRows = rest.reduce((n, r) => n + r.rows, 0);
  const keep = live[0].rows > restRows ? [live[0]] : [];
  const fold = keep.length > 0 ? rest : live;
  if (fold.length < 2) return 0;
  const merged = mergeRuns(t, fold, nextRun(t, live));
  s.setRuns(t, merged.rows > 0 ? [...keep, merged] : keep);
  return merged.rows;
}

/** Merges while some tier holds FAN_IN runs (a merge may fill the next tier). */
function settle(t: PackedTable, live: RunInfo[]): void {
  for (;;) {
    const tiers = new Map<number, RunInfo[]>();
    let full: RunInfo[] | null = null;
    for (const r of live) {
      const g = tiers.get(r.tier) ?? [];
      g.push(r);
      tiers.set(r.tier, g);
      if (g.length >= FAN_IN && full === null) full = g;
    }
    if (full === null) return;
    const merged = mergeRuns(t, full, nextRun(t, live));
    const gone = new Set(full.map((r) => r.run));
    const rest = live.filter((r) => !gone.has(r.run));
    live.length = 0;
    live.push(...rest);
    if (merged.rows > 0) live.push(merged);
  }
}

/**
 * Merges `inputs` into the new run `run` (sequential reads, appends) and deletes their chunks.
 * The merged run's tier is one above the highest input's.
 */
export function mergeRuns(t: PackedTable, inputs: readonly RunInfo[], run: number): RunInfo {
  const t0 = performance.now();
  const db = t.runsDb;
  const m = new RowMerge(inputs.map((r) => new ChunkCursor(db, t.width, runKey(r.run))));
  const w = new ChunkWriter(db, t.width, runKey(run));
  try {
    for (let row = m.next(); row !== null; row = m.next()) w.add(row);
  } finally {
    m.close();
  }
  w.finish();
  for (const r of inputs) dropRun(db, r.run);
  runStats.mergedRows += w.count;
  runStats.merges++;
  runStats.mergeMs += performance.now() - t0;
  return { run, tier: Math.max(...inputs.map((r) => r.tier)) + 1, rows: w.count };
}

/** Deletes every chunk of run `run`. */
function dropRun(db: Bin, run: number): void {
  const keys: Uint8Array[] = [];
  for (const k of db.getKeys({ start: runKey(run), end: runKey(run + 1) })) keys.push(Uint8Array.from(k));
  for (const k of keys) db.removeSync(k);
}

/** A run number above every chunk key in the runs table (so its chunks append). */
function nextRun(t: PackedTable, live: readonly RunInfo[]): number {
  let n = 0;
  for (const r of live) n = Math.max(n, r.run + 1);
  for (const k of t.runsDb.getKeys({ reverse: true, limit: 1 })) {
    const b = k as Uint8Array;
    n = Math.max(n, (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) + 1);
  }
  return n;
}

type Bin = PackedTable['runsDb'];
