import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256Ranges } from '../src/hash/index.ts';

/** sha256Ranges against node:crypto (OpenSSL) on ranges of every size class SHA-256 pads differently. */
describe('hash: sha256Ranges', () => {
  it('hashes each (offset, length) range of the data like node:crypto', () => {
    const data = new Uint8Array(randomBytes(20_000));
    const lens = [0, 1, 22, 25, 34, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 10_001];
    const segs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const len = lens[i % lens.length];
      segs.push((i * 7919) % (data.length - len), len);
    }
    const out = new Uint8Array((segs.length / 2) * 32);
    sha256Ranges(data, Uint32Array.from(segs), out);
    for (let i = 0; i < segs.length / 2; i++) {
      const want = createHash('sha256')
        .update(data.subarray(segs[2 * i], segs[2 * i] + segs[2 * i + 1]))
        .digest();
      assert.deepEqual(Buffer.from(out.subarray(32 * i, 32 * i + 32)), want, `range ${i}`);
    }
  });

  it('works on a view with an offset into its buffer', () => {
    const buf = new Uint8Array(randomBytes(500));
    const view = buf.subarray(100, 400);
    const out = new Uint8Array(32);
    sha256Ranges(view, Uint32Array.from([10, 50]), out);
    assert.deepEqual(Buffer.from(out), createHash('sha256').update(buf.subarray(110, 160)).digest());
  });

  it('refuses ranges past the data, odd segment arrays and a short out, writing nothing', () => {
    const data = new Uint8Array(100);
    const out = new Uint8Array(64);
    assert.throws(() => sha256Ranges(data, Uint32Array.from([0, 10, 95, 6]), out), RangeError);
    assert.throws(() => sha256Ranges(data, Uint32Array.from([0, 10, 5]), out), RangeError);
    assert.throws(() => sha256Ranges(data, Uint32Array.from([0, 1, 0, 1, 0, 1]), out), RangeError);
    assert.deepEqual(out, new Uint8Array(64));
  });
});
