import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openIndex } from '../src/index/index.ts';
import { readU64be } from '../src/index/schema.ts';
import { mainnet600, runCrashChild, tempDir } from './index-support.ts';

const CHILD = join(import.meta.dirname, 'index-batch-crash-child.ts');

/**
 * kill -9 during a batched catch-up (8 blocks per LMDB transaction): every restart finds the
 * index at a batch boundary (never part of a batch), at or past where the last run committed,
 * with blocks.dat cut back to what the index refers to; the end state equals a clean run.
 */
describe('index: kill -9 during batched catch-up', () => {
  it('restarts at batch boundaries only and ends equal to a clean run', async () => {
    const t = tempDir('batchcrash');
    let seed = 4242;
    const starts: number[] = [];
    let kills = 0;
    for (let round = 0; round < 40; round++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const r = await runCrashChild(CHILD, t.dir, kills < 12 ? 5 + ((seed >>> 12) % 60) : null);
      starts.push(r.start);
      // The file holds exactly what the index committed (cut back on open).
      if (r.start >= 0) {
        const ix = openIndex(t.dir, 'mainnet', { readOnly: true });
        const fileEnd = readU64be(ix.store.meta.get('fileEnd')!);
        await ix.close();
        assert.ok(statSync(join(t.dir, 'index', 'blocks.dat')).size >= fileEnd);
      }
      if (!r.killed) break;
      kills++;
    }
    assert.ok(kills >= 10, `${kills} kills (starts ${starts.join(',')})`);
    for (let i = 1; i < starts.length; i++) {
      assert.ok(starts[i] >= starts[i - 1], `starts ${starts.join(',')}`);
      // A batch runs from the start + 1 for 8 blocks (or to the tip): commits land on those ends.
      const d = starts[i] - starts[i - 1];
      assert.ok(
        d % 8 === 0 || starts[i] === 599,
        `run ${i} started at ${starts[i]}: inside a batch (${starts.join(',')})`,
      );
    }
    assert.ok(
      starts.some((h) => h > -1 && h < 599),
      `killed mid-way: ${starts.join(',')}`,
    );
    const ix = openIndex(t.dir, 'mainnet');
    const ref = tempDir('batchcrashref');
    const clean = openIndex(ref.dir, 'mainnet');
    for (const [h, raw] of mainnet600().entries()) clean.connectBlock(raw, h);
    assert.equal(ix.tip()!.height, 599);
    assert.equal(ix.dumpHash(), clean.dumpHash());
    await ix.close();
    await clean.close();
    t.cleanup();
    ref.cleanup();
  });
});
