/**
 * The floor under issue #3's ">= 100 MB/s on 2 cores": the LMDB writes an index of the chain
 * cannot do without, and the hashing it cannot skip, each alone, on the real blocks
 * 840002-840007, before any code of bpd's around them. LMDB has one writer, so the writes bound
 * the whole index, however the rest is spread over the cores.
 *
 *   node --import tsx bench/index-floor.ts [--rounds N] [--batch B] [--utxos N] [--txids N]
 *
 * The writes, per batch of B blocks (default 2), one transaction each, commits unsynced (bpd's
 * durability `os`), into an index already holding `--utxos` UTXOs (default 2,000,000) and
 * `--txids` level-0 txid rows (1,000,000): a mainnet index holds ~180 M and ~1.1 G, so these are
 * kinder than a real sync's:
 * - per tx, its `txids` row (6-byte txid prefix + 8-byte id) into the level-0 dupSort table, as
 *   bpd writes it (2-byte key), in key order;
 * - per non-coinbase input, the UTXO it spends deleted (a random one of the index's: on mainnet
 *   every input spends an indexed output), in key order;
 * - per spendable output, its UTXO (`value | script`) appended;
 * - the `spends`/`extspends` and `history` rows (one of each per input, a `history` row per
 *   output) as bytes appended in 4 KiB chunks: the cheapest way rows can reach LMDB (bpd's sorted
 *   runs are that plus the sort), no merges.
 * The same operations go through lmdb-js (`putSync`/`removeSync` in `transactionSync`, as bpd
 * calls them) and through LMDB's C API (support/lmdb-floor.c, built with `cc` against the LMDB
 * lmdb-js bundles), each into a fresh datadir, timed from the first batch on.
 *
 * The hashing: parse each block into txs and compute every txid and wtxid (bpd's `parseBlock` +
 * `hashBlockTxs`, native SHA-NI), both merkle roots, and the sha256 of every output script
 * (`sha256Ranges`): what verifying the block and keying history by script need.
 *
 * Prints per part: µs per item (tx, non-coinbase input, output) of CPU and MB/s of block data it
 * alone allows; then the bound on two cores.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { hashBlockTxs, parseBlock } from '../packages/bitcoin/src/block/parse.ts';
import { merkleRoot, sha256Ranges } from '../packages/bitcoin/src/hash/index.ts';
import { EXT_MIN_INDEX, outputLo, txLo, writeShortId } from '../packages/bitcoin/src/shortid/index.ts';
import { prepareBlock } from '../packages/bp-node/src/index/prepared.ts';
import { modernBlock } from '../test/support/fixtures.ts';

const HEIGHTS = [840002, 840003, 840004, 840005, 840006, 840007];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const rounds = arg('--rounds', 5);
const per = arg('--batch', 2);
const nUtxos = arg('--utxos', 2_000_000);
const nTxids = arg('--txids', 1_000_000);

function threadCpu(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
}

/** Deterministic bytes (xorshift32), so every run and both replays see the same keys. */
let seed = 0x2545f491;
function rand32(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

const OP = { put: 1, append: 2, del: 3, start: 8, commit: 9, end: 0 } as const;
const T = { txids: 0, utxos: 1, runs: 2 } as const;

/** The operations, as the C replayer reads them and as the lmdb-js replay walks them. */
class Ops {
  buf = new Uint8Array(1 << 24);
  n = 4;
  timed = 0;
  private started = false;

  constructor() {
    this.buf.set([0x4c, 0x46, 0x31, 0], 0);
  }

  add(op: number, table: number, key: Uint8Array, value: Uint8Array = new Uint8Array(0)): void {
    const need = this.n + 8 + key.length + value.length;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, 2 * this.buf.length));
      next.set(this.buf.subarray(0, this.n));
      this.buf = next;
    }
    const b = this.buf;
    let at = this.n;
    b[at] = op;
    b[at + 1] = table;
    b[at + 2] = key.length & 0xff;
    b[at + 3] = key.length >>> 8;
    new DataView(b.buffer).setUint32(at + 4, value.length, true);
    at += 8;
    b.set(key, at);
    b.set(value, at + key.length);
    this.n = need;
    if (this.started && op !== OP.start && op !== OP.end) this.timed++;
    if (op === OP.start) this.started = true;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const raws = HEIGHTS.map((h) => modernBlock(h));
const bytes = raws.reduce((n, r) => n + r.length, 0);
const prepared = raws.map((raw, i) => prepareBlock(raw, HEIGHTS[i]));
let items = 0;
for (const p of prepared) {
  const lay = p.layout;
  items += lay.txCount + (lay.inFirst[lay.txCount] - lay.inFirst[1]) + lay.outFirst[lay.txCount];
}

/** The whole write workload: prefill (untimed), then the batches. */
function buildOps(nUtxos: number, nTxids: number): Ops {
  seed = 0x2545f491;
  const ops = new Ops();
  // Prefill: UTXOs below 840002's ids, appended in key order; level-0 txid rows, sorted.
  const utxoKeys: Uint8Array[] = [];
  const value = new Uint8Array(30);
  for (let i = 0; i < nUtxos; i++) {
    const k = new Uint8Array(8);
    writeShortId(k, 0, (700_000 + Math.floor(i / 16)) * 256, outputLo(i % 16, 0));
    utxoKeys.push(k);
    ops.add(OP.append, T.utxos, k, value);
  }
  const txRows: Uint8Array[] = [];
  for (let i = 0; i < nTxids; i++) {
    const r = new Uint8Array(14);
    for (let j = 0; j < 14; j += 2) {
      const x = rand32();
      r[j] = x;
      r[j + 1] = x >>> 8;
    }
    txRows.push(r);
  }
  txRows.sort(compare);
  for (const r of txRows) ops.add(OP.put, T.txids, r.subarray(0, 2), r.subarray(2));
  ops.add(OP.start, 0, new Uint8Array(0));
  // Spent UTXOs: a random permutation's prefix, one per input.
  for (let i = utxoKeys.length - 1; i > 0; i--) {
    const j = rand32() % (i + 1);
    [utxoKeys[i], utxoKeys[j]] = [utxoKeys[j], utxoKeys[i]];
  }
  let spent = 0;
  let run = 0;
  const chunk = new Uint8Array(4096);
  for (let b0 = 0; b0 < prepared.length; b0 += per) {
    const batch = prepared.slice(b0, b0 + per);
    const rows: Uint8Array[] = [];
    const dels: Uint8Array[] = [];
    let rowBytes = 0;
    for (const p of batch) {
      const lay = p.layout;
      const nIn = lay.inFirst[lay.txCount] - lay.inFirst[1];
      for (let t = 0; t < lay.txCount; t++) {
        const r = new Uint8Array(14);
        r.set(p.txids.subarray(32 * t, 32 * t + 6), 0);
        writeShortId(r, 6, p.hi, txLo(t));
        rows.push(r);
      }
      // With no UTXOs before the run, inputs spend outputs the index does not hold (as in
      // bench/index.ts, an index started at 840002): nothing to delete.
      for (let k = 0; k < nIn && utxoKeys.length > 0; k++) dels.push(utxoKeys[spent++ % utxoKeys.length]);
      rowBytes += nIn * (20 + 16) + lay.outFirst[lay.txCount] * 16;
    }
    rows.sort(compare);
    for (const r of rows) ops.add(OP.put, T.txids, r.subarray(0, 2), r.subarray(2));
    dels.sort(compare);
    for (const k of dels) ops.add(OP.del, T.utxos, k);
    for (const p of batch) {
      const lay = p.layout;
      for (let t = 0; t < lay.txCount; t++) {
        const o0 = lay.outFirst[t];
        const n = Math.min(lay.outputs(t), EXT_MIN_INDEX);
        for (let i = 0; i < n; i++) {
          if (lay.unspendable(o0 + i)) continue;
          const k = new Uint8Array(8);
          writeShortId(k, 0, p.hi, outputLo(t, i));
          const at = lay.spkAt[o0 + i];
          const v = new Uint8Array(8 + lay.spkLen[o0 + i]);
          v.set(lay.raw.subarray(lay.outAt[o0 + i], lay.outAt[o0 + i] + 8), 0);
          v.set(lay.raw.subarray(at, at + lay.spkLen[o0 + i]), 8);
          ops.add(OP.append, T.utxos, k, v);
        }
      }
    }
    run++;
    for (let c = 0; c * 4096 < rowBytes; c++) {
      const k = new Uint8Array(8);
      k.set(u32be(run), 0);
      k.set(u32be(c), 4);
      ops.add(OP.append, T.runs, k, chunk);
    }
    ops.add(OP.commit, 0, new Uint8Array(0));
  }
  ops.add(OP.end, 0, new Uint8Array(0));
  return ops;
}

const APPEND = { append: true } as const;

/** Replays the ops through lmdb-js; CPU and wall seconds of the timed part. */
function replayJs(ops: Uint8Array, dir: string): { cpu: number; wall: number } {
  const env = open({ path: dir, maxDbs: 4, pageSize: 4096 });
  const bin = { keyEncoding: 'binary', encoding: 'binary' } as const;
  const dbs = [
    env.openDB({ name: 't0', ...bin, dupSort: true }),
    env.openDB({ name: 't1', ...bin }),
    env.openDB({ name: 't2', ...bin }),
  ];
  const view = new DataView(ops.buffer, ops.byteOffset, ops.byteLength);
  let at = 4;
  let t0 = { cpu: 0, wall: 0 };
  // bpd's durability `os` commit flags (store.ts).
  const flags: number = 0x10003;
  let done = false;
  let start = false;
  while (!done) {
    if (start) {
      t0 = { cpu: threadCpu(), wall: performance.now() };
      start = false;
    }
    env.transactionSync(() => {
      for (;;) {
        const op = ops[at];
        const table = ops[at + 1];
        const kl = ops[at + 2] | (ops[at + 3] << 8);
        const vl = view.getUint32(at + 4, true);
        const key = ops.subarray(at + 8, at + 8 + kl);
        const value = ops.subarray(at + 8 + kl, at + 8 + kl + vl);
        at += 8 + kl + vl;
        if (op === OP.end) {
          done = true;
          return;
        }
        if (op === OP.commit) return;
        if (op === OP.start) {
          // Timed from after the prefill's commit, as the C replay.
          start = true;
          return;
        }
        if (op === OP.del) dbs[table].removeSync(key);
        else if (op === OP.append) dbs[table].putSync(key, value, APPEND);
        else dbs[table].putSync(key, value);
      }
    }, flags);
  }
  const r = { cpu: threadCpu() - t0.cpu, wall: (performance.now() - t0.wall) / 1000 };
  void env.close();
  return r;
}

/** The hashing alone, on this thread: CPU seconds for all blocks. */
function hashOnce(): number {
  const c0 = threadCpu();
  let segs = new Uint32Array(1024);
  for (const raw of raws) {
    const block = parseBlock(raw);
    hashBlockTxs(block);
    const n = block.txs.length;
    const ids = new Uint8Array(32 * n);
    const wids = new Uint8Array(32 * n);
    let outs = 0;
    for (let i = 0; i < n; i++) {
      const tx = block.txs[i];
      ids.set(tx.txid(), 32 * i);
      if (i > 0) wids.set(tx.wtxid(), 32 * i);
      outs += tx.outputs.length;
    }
    merkleRoot(ids, n);
    merkleRoot(wids, n);
    if (2 * outs > segs.length) segs = new Uint32Array(2 * outs);
    let s = 0;
    for (const tx of block.txs) {
      for (const o of tx.outputs) {
        segs[s++] = o.scriptPubKey.byteOffset - raw.byteOffset;
        segs[s++] = o.scriptPubKey.length;
      }
    }
    sha256Ranges(raw, segs.subarray(0, s), new Uint8Array(32 * outs));
  }
  return threadCpu() - c0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f2 = (n: number) => n.toFixed(2);
const mbps = (s: number) => bytes / 1e6 / s;
const usItem = (s: number) => (s / items) * 1e6;

console.log(
  `index floor: ${rounds} rounds, batches of ${per}, index prefilled with ${nUtxos} UTXOs and ${nTxids} txid rows, node ${process.version}, load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(
  `blocks 840002-840007: ${f2(bytes / 1e6)} MB, ${items} items (txs, non-coinbase inputs, outputs)`,
);
const lib = join(import.meta.dirname, '../node_modules/lmdb/dependencies/lmdb/libraries/liblmdb');
const bin = join(tmpdir(), `bp-lmdb-floor-${process.pid}`);
execFileSync(
  'cc',
  [
    '-O2',
    '-pthread',
    `-I${lib}`,
    '-o',
    bin,
    join(import.meta.dirname, 'support/lmdb-floor.c'),
    join(lib, 'mdb.c'),
    join(lib, 'midl.c'),
  ],
  {
    stdio: ['ignore', 'ignore', 'ignore'],
  },
);
type Times = { cpu: number; wall: number };
const line = (name: string, t: Times[]) => {
  const cpu = median(t.map((x) => x.cpu));
  const wall = median(t.map((x) => x.wall));
  console.log(
    `  ${name.padEnd(34)}: ${f2(usItem(cpu))} us CPU per item -> ${f2(mbps(cpu))} MB/s per CPU second (wall ${f2(mbps(wall))} MB/s)`,
  );
  return cpu;
};

const hash: Times[] = [];
for (let r = 0; r < rounds; r++) {
  const cpu = hashOnce();
  hash.push({ cpu, wall: cpu });
}
console.log('hashing, one thread (parse, txids and wtxids, both merkle roots, output-script hashes):');
const hCpu = line('native SHA-NI', hash);

const scenarios = [
  { name: 'an empty index, as bench/index.ts (inputs spend outputs it does not hold)', utxos: 0, txids: 0 },
  {
    name: `an index holding ${nUtxos} UTXOs and ${nTxids} level-0 txid rows (every input deletes one)`,
    utxos: nUtxos,
    txids: nTxids,
  },
];
for (const sc of scenarios.filter((x, i) => i === 0 || x.utxos + x.txids > 0)) {
  const ops = buildOps(sc.utxos, sc.txids);
  const opsFile = join(mkdtempSync(join(tmpdir(), 'bp-floor-')), 'ops');
  writeFileSync(opsFile, ops.bytes());
  console.log(
    `writes into ${sc.name}: ${ops.timed} LMDB operations in ${Math.ceil(HEIGHTS.length / per)} transactions (${f2(ops.timed / items)} per item):`,
  );
  const js: Times[] = [];
  const c: Times[] = [];
  for (let r = 0; r < rounds; r++) {
    const d1 = mkdtempSync(join(tmpdir(), 'bp-floor-js-'));
    js.push(replayJs(ops.bytes(), d1));
    rmSync(d1, { recursive: true, force: true });
    const d2 = mkdtempSync(join(tmpdir(), 'bp-floor-c-'));
    const out = execFileSync(bin, [opsFile, d2], { encoding: 'utf8' });
    rmSync(d2, { recursive: true, force: true });
    const m = /ops (\d+) wall_s ([\d.]+) cpu_s ([\d.]+)/.exec(out);
    if (m === null || Number(m[1]) !== ops.timed) throw new Error(`lmdb-floor: ${out}`);
    c.push({ wall: Number(m[2]), cpu: Number(m[3]) });
  }
  rmSync(opsFile, { force: true });
  const jsCpu = line('through lmdb-js', js);
  const cCpu = line('through LMDB C', c);
  console.log(`  lmdb-js / C: x${f2(jsCpu / cCpu)} CPU`);
  console.log(
    `  bound on two cores (one LMDB writer, hashing on the other core): ${f2(mbps(Math.max(jsCpu, hCpu)))} MB/s through lmdb-js, ${f2(mbps(Math.max(cCpu, hCpu)))} MB/s in C; the goal, 100 MB/s, is ${f2((bytes / 100e6 / items) * 1e6)} us per item`,
  );
}
rmSync(bin, { force: true });
