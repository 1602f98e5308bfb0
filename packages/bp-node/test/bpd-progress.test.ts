import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mainnetBlocksDir, runBpd } from './bpd-harness.ts';
import { tempDir } from './index-support.ts';

/**
 * Progress during initial sync: the binary indexing mainnet 0-599 from a blocks: dir logs
 * height, target, blocks/s, MB/s and ETA at most every --progress-interval, then a summary.
 */
describe('bpd: progress lines during initial sync', () => {
  it('logs height, blocks/s, MB/s and ETA every --progress-interval', async () => {
    const t = tempDir('bpdprogress');
    const blocks = mainnetBlocksDir(t.dir);
    const r = await runBpd([
      '--datadir',
      `${t.dir}/d`,
      '--network',
      'mainnet',
      '--source',
      `blocks:${blocks}`,
      '--exit-at-tip',
      '--progress-interval',
      '0.05',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const progress = r.lines.filter((l) => l.msg === 'progress');
    assert.ok(progress.length >= 2, `${progress.length} progress lines:\n${r.stderr}`);
    let prevHeight = -1;
    let prevTs = 0;
    for (const p of progress) {
      assert.equal(p.component, 'bpd.sync');
      assert.equal(p.target, 599);
      for (const k of ['height', 'blocksPerSec', 'mbPerSec', 'etaSec', 'pct'] as const) {
        assert.equal(typeof p[k], 'number', `${k} in ${JSON.stringify(p)}`);
        assert.ok((p[k] as number) >= 0, `${k} in ${JSON.stringify(p)}`);
      }
      const h = p.height as number;
      assert.ok(h > prevHeight && h <= 599);
      // At a steady rate: never closer together than the interval.
      const ts = Date.parse(p.ts);
      if (prevTs) assert.ok(ts - prevTs >= 45, `lines ${ts - prevTs} ms apart`);
      assert.ok((p.blocksPerSec as number) > 0);
      // Percent done stays below 100 until the target.
      if (h < 599) assert.ok((p.pct as number) < 100);
      prevHeight = h;
      prevTs = ts;
    }
    const synced = r.lines.find((l) => l.msg === 'synced');
    assert.ok(synced, 'a summary line at the end');
    assert.equal(synced.height, 599);
    assert.equal(synced.blocks, 600);
    for (const k of ['seconds', 'blocksPerSec', 'mbPerSec']) assert.equal(typeof synced[k], 'number', k);
    t.cleanup();
  });

  it('an interval of 0 logs every block', async () => {
    const t = tempDir('bpdprogress0');
    const blocks = mainnetBlocksDir(t.dir);
    const r = await runBpd([
      '--datadir',
      `${t.dir}/d`,
      '--network',
      'mainnet',
      '--source',
      `blocks:${blocks}`,
      '--exit-at-tip',
      '--progress-interval',
      '0',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const heights = r.lines.filter((l) => l.msg === 'progress').map((l) => l.height);
    assert.deepEqual(
      heights,
      Array.from({ length: 600 }, (_, i) => i),
    );
    t.cleanup();
  });
});
