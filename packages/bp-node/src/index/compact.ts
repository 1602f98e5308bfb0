/**
 * Compaction: rewrites the packed tables (txids, spends, extspends, history) from both levels
 * and every sorted run (runs.ts) into fresh level-1 chunks written in key order with MDB_APPEND, so their pages are full and
 * their rows prefix-stripped (packed.ts). One LMDB write transaction, flushed before it returns:
 * a crash at any instant leaves either the old tables or the new ones, never a mix, and what
 * the index answers (and its dump) is the same before and after.
 *
 * Cost: one sequential read of every packed row and one put per ~4 KiB chunk; the transaction
 * holds the old and the new copy until it commits, so the file needs room for both once (LMDB
 * reuses the old pages afterwards).
 */
import { ChunkWriter } from './packed.ts';
import { META_PACKED } from './schema.ts';
import type { Store } from './store.ts';

export interface CompactResult {
  /** Rows now in level 1, per table. */
  rows: Record<string, number>;
  /** Level-1 chunks written, per table. */
  chunks: Record<string, number>;
  /** Rows that were in level 0 or in sorted runs before. */
  fromLevel0: number;
  ms: number;
}

export function compactIndex(s: Store): CompactResult {
  if (s.readOnly) throw new Error('index opened read-only');
  const t0 = performance.now();
  const rows: Record<string, number> = {};
  const chunks: Record<string, number> = {};
  let fromLevel0 = 0;
  try {
    s.env.transactionSync(() => {
      const { slot } = s.packedState();
      const target = 1 - slot;
      for (const t of s.packedTables()) {
        fromLevel0 += t.l0Rows();
        const out = t.slots[target];
        out.clearSync();
        const w = new ChunkWriter(out, t.width);
        const m = t.merged();
        try {
          for (let r = m.next(); r !== null; r = m.next()) w.add(r);
        } finally {
          m.close();
        }
        w.finish();
        rows[t.name] = w.count;
        chunks[t.name] = w.chunks;
        t.l0.clearSync();
        t.slots[slot].clearSync();
        t.runsDb.clearSync();
        if (t.hasRuns()) s.setRuns(t, []);
      }
      const state = new Uint8Array(1 + 8 * s.packedTables().length);
      state[0] = target;
      s.packedTables().forEach((t, i) => {
        new DataView(state.buffer).setBigUint64(1 + 8 * i, BigInt(rows[t.name]));
      });
      s.meta.putSync(META_PACKED, state);
      s.forgetPackedState();
    });
  } finally {
    s.forgetPackedState();
  }
  return { rows, chunks, fromLevel0, ms: performance.now() - t0 };
}
