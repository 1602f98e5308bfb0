import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openIndex } from '../src/index/index.ts';
import { dumpHash, type LogLine, mainnetBlocksDir, runBpd, spawnBpd } from './bpd-harness.ts';
import { mainnet600, tempDir } from './index-support.ts';

/**
 * Crash safety of the binary: bpd indexes mainnet 0-599 from a blocks: dir and is SIGKILLed at
 * random moments (during start-up, between and inside block writes) at least 20 times, restarted
 * each time; the final index equals a clean run's, byte for byte of the canonical dump.
 */
describe('bpd: SIGKILL during initial indexing', () => {
  it('survives 20 kills at random moments and ends equal to a clean run', async () => {
    const t = tempDir('bpdcrash');
    const blocks = mainnetBlocksDir(t.dir);
    const args = (d: string) => [
      '--datadir',
      d,
      '--network',
      'mainnet',
      '--source',
      `blocks:${blocks}`,
      '--exit-at-tip',
      '--progress-interval',
      '0',
    ];
    // The clean run, in-process (the binary's own clean run is the last round below).
    const ref = openIndex(`${t.dir}/clean`, 'mainnet');
    for (const [h, raw] of mainnet600().entries()) ref.connectBlock(raw, h);
    const want = ref.dumpHash();
    await ref.close();

    const dir = `${t.dir}/crashy`;
    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 12) % n; // the high bits: an LCG's low bits cycle
    };
    const starts: number[] = [];
    const reached: number[] = [];
    let kills = 0;
    while (kills < 20) {
      const c = spawnBpd(args(dir));
      const opened = await c.waitLine('index opened', (l) => l.msg === 'index opened');
      const start = (opened.tipHeight as number | null) ?? -1;
      starts.push(start);
      // Half the kills at a random delay after the index opened (start-up, source scan, the
      // first writes), half a random delay after a random block's progress line (mid-stream).
      let last = start;
      c.onLine((l: LogLine) => {
        if (l.msg === 'progress') last = l.height as number;
      }, true);
      // Spread the kills so that 20 of them land before the tip whatever the machine's speed.
      const per = Math.max(2, Math.floor((599 - Math.max(start, 0)) / (21 - kills)));
      if (rand(2) === 0 && start < 300) {
        setTimeout(() => c.kill('SIGKILL'), rand(60));
      } else {
        const target = start + 1 + rand(Math.min(30, per));
        c.waitLine('progress', (l) => l.msg === 'progress' && (l.height as number) >= target).then(
          () => setTimeout(() => c.kill('SIGKILL'), rand(3)),
          () => {},
        );
      }
      const { code, signal } = await c.exited;
      reached.push(last);
      if (signal !== 'SIGKILL') {
        assert.equal(code, 0, c.stderr());
        break; // reached the tip before the kill
      }
      kills++;
    }
    assert.ok(kills >= 20, `only ${kills} kills before the tip (starts ${starts.join(',')})`);
    // Nothing committed was lost: each run started at or above the last height the previous one logged.
    for (let i = 1; i < starts.length; i++) {
      assert.ok(starts[i] >= reached[i - 1], `run ${i} started at ${starts[i]} < ${reached[i - 1]}`);
      assert.ok(starts[i] >= starts[i - 1]);
    }
    assert.ok(starts.filter((h) => h > 0 && h < 599).length >= 10, `kills mid-way: ${starts.join(',')}`);
    const fin = await runBpd(args(dir));
    assert.equal(fin.code, 0, fin.stderr);
    assert.ok(fin.lines.some((l) => l.msg === 'at tip' && l.height === 599));
    assert.equal(await dumpHash(dir), want);
    t.cleanup();
  });
});
