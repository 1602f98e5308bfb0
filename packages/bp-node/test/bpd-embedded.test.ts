import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBpd, spawnBpd } from './bpd-harness.ts';
import { waitFor } from './harness/wait.ts';
import { tempDir } from './index-support.ts';

/**
 * The quick-start default: bpd with no --source starts an embedded bcoin regtest node, mines a
 * short chain with real payments, indexes it and follows it; the node goes away with bpd.
 */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('bpd with the embedded node (no --source)', () => {
  it('--exit-at-tip: indexes the mined chain with its payments and exits 0, taking the node down', async () => {
    const t = tempDir('bpdembedded');
    const r = await runBpd(['--datadir', `${t.dir}/d`, '--exit-at-tip']);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const started = r.lines.find((l) => l.msg === 'embedded bcoin regtest node started');
    assert.ok(started, 'the embedded node started');
    const mined = r.lines.find((l) => l.msg === 'embedded chain mined');
    assert.ok(mined && (mined.height as number) >= 432, 'past segwit activation');
    assert.ok(r.lines.some((l) => l.msg === 'at tip' && l.height === mined.height));
    const dump = (await runBpd(['dump', '--datadir', `${t.dir}/d`])).stdout.split('\n');
    assert.ok(dump.includes('meta network regtest'));
    // Real payments: spends of indexed outputs, beyond the coinbases.
    assert.ok(dump.filter((l) => l.startsWith('spend ')).length > 0);
    assert.ok(
      dump.filter((l) => l.startsWith('txid ')).length > dump.filter((l) => l.startsWith('hash ')).length,
    );
    await waitFor('embedded node exited', () => gone(started.pid as number), 10_000);
    t.cleanup();
  });

  it('keeps following the blocks the embedded node mines, and stops cleanly on SIGTERM', async () => {
    const t = tempDir('bpdembedded2');
    const c = spawnBpd(['--datadir', `${t.dir}/d`, '--embedded-block-interval', '1', '--log-level', 'debug']);
    try {
      const started = await c.waitLine(
        'embedded node',
        (l) => l.msg === 'embedded bcoin regtest node started',
        60_000,
      );
      const tip = await c.waitLine('at tip', (l) => l.msg === 'at tip', 60_000);
      const h = tip.height as number;
      await c.waitLine(
        'a newly mined block',
        (l) => l.msg === 'block connected' && (l.height as number) > h,
        30_000,
      );
      c.kill('SIGTERM');
      assert.equal((await c.exited).code, 0, c.stderr().slice(-3000));
      await waitFor('embedded node exited', () => gone(started.pid as number), 10_000);
    } finally {
      c.kill('SIGKILL');
      t.cleanup();
    }
  });
});
