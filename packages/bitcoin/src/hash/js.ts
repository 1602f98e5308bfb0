/**
 * The hashing layer without the native addon: node:crypto for SHA-256 (OpenSSL, SHA-NI where
 * the CPU has it) and plain loops for batching; every call pays node:crypto's ~1 us entry cost.
 * Used when the addon is absent or BP_NO_NATIVE=1, and always tested against the native one.
 */
import * as crypto from 'node:crypto';
import { checkBatchArgs, checkMerkleArgs, type HashImpl } from './types.ts';

/*
 * node:crypto for every size: bench/hash.ts measured one crypto.hash() call at about 1.1 us
 * and @noble/hashes at 1.3-2 us for a single 64-byte block, more for longer inputs.
 * crypto.hash() is Node >= 20.12; older 20.x gets the createHash() path.
 */
const oneShot: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

function sha256(data: Uint8Array): Uint8Array {
  const b = oneShot(data);
  return new Uint8Array(b.buffer, b.byteOffset, 32);
}

function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(data));
}

function sha256dBatch(data: Uint8Array, segments: Uint32Array, counts: Uint32Array, out: Uint8Array): void {
  checkBatchArgs(data, segments, counts, out);
  let s = 0;
  let scratch = new Uint8Array(1024);
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    let msg: Uint8Array;
    if (c === 1) {
      msg = data.subarray(segments[s], segments[s] + segments[s + 1]);
      s += 2;
    } else {
      // Several ranges (a segwit txid): join them, then hash once.
      let total = 0;
      for (let k = 0; k < c; k++) total += segments[s + 2 * k + 1];
      if (total > scratch.length) scratch = new Uint8Array(Math.max(total, scratch.length * 2));
      let pos = 0;
      for (let k = 0; k < c; k++, s += 2) {
        scratch.set(data.subarray(segments[s], segments[s] + segments[s + 1]), pos);
        pos += segments[s + 1];
      }
      msg = scratch.subarray(0, total);
    }
    out.set(sha256d(msg), i * 32);
  }
}

function merkleRoot(hashes: Uint8Array, n: number): Uint8Array {
  checkMerkleArgs(hashes, n);
  let level = hashes.slice(0, n * 32);
  while (n > 1) {
    const pairs = (n + 1) >>> 1;
    const next = new Uint8Array(pairs * 32);
    const pair = new Uint8Array(64);
    for (let i = 0; i < pairs; i++) {
      const left = level.subarray(64 * i, 64 * i + 32);
      // An odd level pairs its last hash with itself.
      const right = 2 * i + 1 < n ? level.subarray(64 * i + 32, 64 * i + 64) : left;
      pair.set(left, 0);
      pair.set(right, 32);
      next.set(sha256d(pair), 32 * i);
    }
    level = next;
    n = pairs;
  }
  return level.slice(0, 32);
}

export const jsHash: HashImpl = { name: 'js', sha256, sha256d, sha256dBatch, merkleRoot };
