import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openIndex } from '../src/index/index.ts';
import { mainnet600, runCrashChild, tempDir } from './index-support.ts';

const CHILD = join(import.meta.dirname, 'index-crash-child.ts');

describe('index: kill -9 during initial indexing', () => {
  it('resumes where it stopped after each SIGKILL and ends equal to a clean run', async () => {
    const t = tempDir('crash');
    let seed = 12345;
    const heights: number[] = [];
    let kills = 0;
    for (let round = 0; round < 40; round++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const r = await runCrashChild(CHILD, t.dir, kills < 12 ? 5 + (seed % 60) : null);
      heights.push(r.start);
      if (!r.killed) break;
      kills++;
    }
    assert.ok(kills >= 10, `${kills} kills`);
    // Each restart began at or after where the previous one reached (nothing committed was lost).
    for (let i = 1; i < heights.length; i++) assert.ok(heights[i] >= heights[i - 1]);
    assert.ok(
      heights.some((h) => h > -1 && h < 599),
      `killed mid-way: ${heights.join(',')}`,
    );
    const ix = openIndex(t.dir, 'mainnet');
    const ref = tempDir('crashref');
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
