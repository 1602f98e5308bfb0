import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openIndex } from '../src/index/index.ts';
import { Syncer } from '../src/sync/syncer.ts';
import { MemorySource, mainnet600, tempDir } from './index-support.ts';

/**
 * Initial-sync durability: a long catch-up commits without a flush per block (Index durability
 * 'os'), flushes at least every noSyncFlushMs, and is back to 'full' (everything flushed) at its
 * end; short catch-ups and an index the caller opened with 'os' are left alone. The index is
 * the same either way.
 */
const quiet = { info() {}, warn() {}, error() {} };

async function sync(
  opts: { noSyncCatchUp?: number; noSyncFlushMs?: number; batchCatchUp?: number },
  durability?: 'full' | 'os',
) {
  const t = tempDir('durability');
  const ix = openIndex(t.dir, 'mainnet', { durability });
  const seen = new Set<string>();
  let flushes = 0;
  const flush = ix.flush.bind(ix);
  ix.flush = () => {
    flushes++;
    flush();
  };
  const s = new Syncer(ix, new MemorySource(mainnet600()), quiet, opts);
  s.on('block', () => seen.add(ix.durability));
  await s.run({ exitAtTip: true });
  const r = { during: [...seen], after: ix.durability, flushes, hash: ix.dumpHash() };
  await ix.close();
  t.cleanup();
  return r;
}

describe('sync durability during catch-up', () => {
  it('a 600-block catch-up runs without per-commit flushes, flushes periodically, ends flushed', async () => {
    const fast = await sync({ noSyncFlushMs: 0, batchCatchUp: 0 });
    assert.deepEqual(fast.during, ['os']);
    assert.equal(fast.after, 'full');
    assert.equal(fast.flushes, 600);
    const slow = await sync({ noSyncCatchUp: 1000 });
    assert.deepEqual(slow.during, ['full']);
    assert.equal(slow.flushes, 0);
    assert.equal(fast.hash, slow.hash);
  });

  it("an index opened with durability 'os' stays so", async () => {
    const r = await sync({}, 'os');
    assert.deepEqual(r.during, ['os']);
    assert.equal(r.after, 'os');
  });
});
