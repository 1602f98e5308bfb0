import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PrefixTable } from '../src/index/prefixtable.ts';

/** The batch finds its txs through PrefixTable: every lookup must agree with a plain scan. */
function chain(keys: Uint8Array[], t: Uint8Array): number[] {
  const out: number[] = [];
  for (let e = keys.length - 1; e >= 0; e--) {
    let same = true;
    for (let i = 0; i < 6; i++) if (keys[e][i] !== t[i]) same = false;
    if (same) out.push(e);
  }
  return out;
}

function walk(pt: PrefixTable, t: Uint8Array): number[] {
  const out: number[] = [];
  for (let e = pt.find(t); e >= 0; e = pt.prev(e)) out.push(e);
  return out;
}

describe('index: prefix table', () => {
  it('finds every entry by its 48-bit prefix, newest first, through growth and shared prefixes', () => {
    const pt = new PrefixTable(4);
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      // One key in 8 repeats an earlier prefix (a different txid beyond byte 6).
      const k = randomBytes(32);
      if (i > 0 && i % 8 === 0) k.set(keys[(i * 7919) % keys.length].subarray(0, 6));
      assert.equal(pt.add(k), i);
      keys.push(k);
    }
    for (let i = 0; i < keys.length; i += 7) assert.deepEqual(walk(pt, keys[i]), chain(keys, keys[i]));
    // Keys that differ from a stored one only in byte 5, or only past byte 6.
    for (let i = 0; i < 2000; i++) {
      const t = Uint8Array.from(keys[i]);
      t[5] ^= 1;
      assert.deepEqual(walk(pt, t), chain(keys, t));
      t[5] ^= 1;
      t[6] ^= 1;
      assert.deepEqual(walk(pt, t), chain(keys, t));
    }
    for (let i = 0; i < 2000; i++) assert.equal(pt.find(randomBytes(32)), -1);
    pt.clear();
    assert.equal(pt.find(keys[0]), -1);
    assert.equal(pt.add(keys[0]), 0);
    assert.deepEqual(walk(pt, keys[0]), [0]);
  });
});
