/**
 * Hashing micro-benchmark: every txid and wtxid of a real block (the block parser's workload),
 * and sha256d of fixed 300-byte chunks, with node:crypto per call, @noble/hashes per call, the
 * JS fallback batch, and the native sha256dBatch (SHA-NI and portable C cores).
 * Run: node --import tsx bench/hash.ts [block.bin]   (best of several rounds; MB/s of input bytes)
 */
import { createHash, hash as cryptoHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { parseBlock } from '../packages/bitcoin/src/block/parse.ts';
import { jsHash } from '../packages/bitcoin/src/hash/js.ts';
import { addon, nativeImpl } from '../packages/bitcoin/src/hash/native.ts';

const file =
  process.argv[2] ?? new URL('../../shared/chain/mainnet-modern/block-840002.bin', import.meta.url);
const raw = new Uint8Array(readFileSync(file));
const block = parseBlock(raw);

interface Work {
  name: string;
  data: Uint8Array;
  segs: Uint32Array;
  counts: Uint32Array;
  /** Bytes the workload stands for (the block size, or the chunked bytes). */
  bytes: number;
}

function blockWork(): Work {
  const segs: number[] = [];
  const counts: number[] = [];
  for (const tx of block.txs) {
    const off = tx.raw.byteOffset - raw.byteOffset;
    if (tx.hasWitness) {
      segs.push(off, 4, off + 6, tx.witnessOffset - 6, off + tx.raw.length - 4, 4);
      counts.push(3);
    } else {
      segs.push(off, tx.raw.length);
      counts.push(1);
    }
  }
  for (const tx of block.txs) {
    if (!tx.hasWitness) continue;
    segs.push(tx.raw.byteOffset - raw.byteOffset, tx.raw.length);
    counts.push(1);
  }
  return {
    name: `block ${block.txs.length} txs, txid+wtxid`,
    data: raw,
    segs: new Uint32Array(segs),
    counts: new Uint32Array(counts),
    bytes: raw.length,
  };
}

function chunkWork(size: number): Work {
  const n = Math.floor(raw.length / size);
  const segs = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    segs[2 * i] = i * size;
    segs[2 * i + 1] = size;
  }
  return {
    name: `${size}-byte chunks`,
    data: raw,
    segs,
    counts: new Uint32Array(n).fill(1),
    bytes: n * size,
  };
}

type Runner = (w: Work, out: Uint8Array) => void;

const perCallCrypto: Runner = (w, out) => {
  let s = 0;
  for (let i = 0; i < w.counts.length; i++) {
    const c = w.counts[i];
    let first: Buffer;
    if (c === 1) {
      first = cryptoHash('sha256', w.data.subarray(w.segs[s], w.segs[s] + w.segs[s + 1]), 'buffer');
      s += 2;
    } else {
      const h = createHash('sha256');
      for (let k = 0; k < c; k++, s += 2) h.update(w.data.subarray(w.segs[s], w.segs[s] + w.segs[s + 1]));
      first = h.digest();
    }
    out.set(cryptoHash('sha256', first, 'buffer'), 32 * i);
  }
};

const perCallNoble: Runner = (w, out) => {
  let s = 0;
  for (let i = 0; i < w.counts.length; i++) {
    const h = nobleSha256.create();
    for (let k = 0; k < w.counts[i]; k++, s += 2)
      h.update(w.data.subarray(w.segs[s], w.segs[s] + w.segs[s + 1]));
    out.set(nobleSha256(h.digest()), 32 * i);
  }
};

const runners: [string, Runner][] = [
  ['node:crypto per call', perCallCrypto],
  ['@noble/hashes per call', perCallNoble],
  ['JS fallback sha256dBatch', (w, out) => jsHash.sha256dBatch(w.data, w.segs, w.counts, out)],
];
if (addon && nativeImpl) {
  const a = addon;
  const batch = nativeImpl.sha256dBatch;
  runners.push([`native sha256dBatch (${addon.impl()})`, (w, out) => batch(w.data, w.segs, w.counts, out)]);
  runners.push([
    'native sha256dBatch (portable C)',
    (w, out) => {
      a.forcePortable(true);
      try {
        batch(w.data, w.segs, w.counts, out);
      } finally {
        a.forcePortable(false);
      }
    },
  ]);
}

/** Best of `rounds` timings of enough repetitions to take ~200 ms. */
function measure(run: Runner, w: Work, out: Uint8Array, rounds = 5): number {
  run(w, out);
  let reps = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) run(w, out);
    if (performance.now() - t > 50) break;
    reps *= 2;
  }
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) run(w, out);
    best = Math.min(best, (performance.now() - t) / reps);
  }
  return w.bytes / 1e6 / (best / 1e3);
}

console.log(`native addon: ${addon ? `loaded, core ${addon.impl()}` : 'absent'}; input ${raw.length} bytes`);
for (const w of [blockWork(), chunkWork(300)]) {
  const out = new Uint8Array(w.counts.length * 32);
  const expect = new Uint8Array(out.length);
  perCallCrypto(w, expect);
  console.log(`\n${w.name} (${w.counts.length} hashes, ${(w.bytes / 1e6).toFixed(2)} MB)`);
  const results: [string, number][] = [];
  for (const [name, run] of runners) {
    out.fill(0);
    const mbps = measure(run, w, out);
    if (Buffer.compare(out, expect) !== 0) throw new Error(`${name}: wrong hashes`);
    results.push([name, mbps]);
  }
  const base = results[0][1];
  for (const [name, mbps] of results) {
    console.log(
      `  ${name.padEnd(36)} ${mbps.toFixed(0).padStart(6)} MB/s  ${(mbps / base).toFixed(2)}x node:crypto`,
    );
  }
}

// Single calls: what sha256 / sha256d cost outside batches (block headers, merkle branches, tags).
console.log('\nsingle calls (ns per call)');
const singles: [string, (d: Uint8Array) => unknown][] = [
  ['node:crypto hash()', (d) => cryptoHash('sha256', cryptoHash('sha256', d, 'buffer'), 'buffer')],
  ['@noble/hashes', (d) => nobleSha256(nobleSha256(d))],
  ['JS fallback sha256d', (d) => jsHash.sha256d(d)],
];
const native = nativeImpl;
if (native) singles.push(['native sha256d', (d) => native.sha256d(d)]);
for (const size of [32, 64, 80, 300]) {
  const line = [`  sha256d ${String(size).padStart(3)} B:`];
  for (const [name, f] of singles) {
    const d = raw.slice(1000, 1000 + size);
    for (let i = 0; i < 20_000; i++) f(d);
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < 5; r++) {
      const n = 50_000;
      const t = performance.now();
      for (let i = 0; i < n; i++) f(d);
      best = Math.min(best, ((performance.now() - t) * 1e6) / n);
    }
    line.push(`${name} ${best.toFixed(0)}`);
  }
  console.log(line.join('  '));
}
