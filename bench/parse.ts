/**
 * Block parsing benchmark: parse every transaction of mainnet blocks 840002-840007 and compute
 * its txid and wtxid, with our parser (native batched hashing and the JS fallback), bitcoinjs-lib
 * and @scure/btc-signer, in one process on the same bytes. Rounds are interleaved (each round
 * runs every contender once over all six blocks) so load from other processes hits all alike.
 *
 *   node --import tsx bench/parse.ts [--rounds N] [--only name,name] [--dir DIR]
 *
 * Reads /work/shared/chain/mainnet-modern/block-84000{2..7}.bin when present (or --dir), else the
 * gzipped copies in test/fixtures/chain. Prints MB/s (block bytes / wall time) per contender,
 * our ratio to the best library, and the peak RSS.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import * as btc from '@scure/btc-signer';
import { BTCArray, RawTx } from '@scure/btc-signer/script.js';
import { Block as BjsBlock } from 'bitcoinjs-lib';
import { hashBlockTxs, parseBlock } from '../packages/bitcoin/src/block/parse.ts';
import { toHexReversed } from '../packages/bitcoin/src/bytes/hex.ts';
import { hashImplName, sha256dBatch } from '../packages/bitcoin/src/hash/index.ts';
import { jsHash } from '../packages/bitcoin/src/hash/js.ts';
import { modernBlock } from '../test/support/fixtures.ts';

const HEIGHTS = [840002, 840003, 840004, 840005, 840006, 840007];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const rounds = Number(arg('--rounds') ?? 7);
const only = arg('--only')?.split(',');
const dir = arg('--dir') ?? '/work/shared/chain/mainnet-modern';

function loadBlocks(): { blocks: Uint8Array[]; source: string } {
  const files = HEIGHTS.map((h) => join(dir, `block-${h}.bin`));
  if (files.every((f) => existsSync(f))) {
    return { blocks: files.map((f) => new Uint8Array(readFileSync(f))), source: dir };
  }
  return { blocks: HEIGHTS.map((h) => modernBlock(h)), source: 'test/fixtures/chain (gunzipped)' };
}

const { blocks, source } = loadBlocks();
const totalBytes = blocks.reduce((n, b) => n + b.length, 0);

/** A contender turns one block into its txids and wtxids; `ids` is only used to check them. */
interface Contender {
  name: string;
  library: boolean;
  run(raw: Uint8Array): number;
  ids(raw: Uint8Array): [string, string][];
}

const sha256d = (b: Uint8Array): Uint8Array => sha256(sha256(b));
const hexRev = toHexReversed;

function ours(name: string, batch: typeof sha256dBatch): Contender {
  return {
    name,
    library: false,
    run(raw) {
      const block = parseBlock(raw);
      hashBlockTxs(block, batch);
      let acc = 0;
      for (const tx of block.txs) acc += tx.txid()[0] + tx.wtxid()[31];
      return acc;
    },
    ids(raw) {
      const block = parseBlock(raw);
      hashBlockTxs(block, batch);
      return block.txs.map((tx) => [hexRev(tx.txid()), hexRev(tx.wtxid())]);
    },
  };
}

/** Ours with every field of every input and output built (what an indexer reads). */
const oursFull: Contender = {
  name: 'ours, plus every input/output/witness materialized',
  library: false,
  run(raw) {
    const block = parseBlock(raw);
    hashBlockTxs(block);
    let acc = 0;
    for (const tx of block.txs) {
      acc += tx.txid()[0] + tx.wtxid()[31];
      for (const i of tx.inputs) acc += i.vout + i.scriptSig.length + i.witness.length;
      for (const o of tx.outputs) acc += o.scriptPubKey.length + (o.value > 0n ? 1 : 0);
    }
    return acc;
  },
  ids: (raw) => ours('', sha256dBatch).ids(raw),
};

const bitcoinjs: Contender = {
  name: 'bitcoinjs-lib Block.fromBuffer + getId/getHash(true)',
  library: true,
  run(raw) {
    const block = BjsBlock.fromBuffer(raw);
    let acc = 0;
    for (const tx of block.transactions!) acc += tx.getId().length + tx.getHash(true)[31];
    return acc;
  },
  ids(raw) {
    return BjsBlock.fromBuffer(raw).transactions!.map((tx) => [tx.getId(), hexRev(tx.getHash(true))]);
  },
};

// @scure/btc-signer has no block type: its own coders read the tx list (the block after the
// 80-byte header), and ids are what Transaction.id does: sha256d of the re-encoded tx without
// witness; the wtxid is sha256d of the encoding with witness.
const scureTxList = BTCArray(RawTx);
type ScureRawTx = ReturnType<typeof RawTx.decode>;
function scureIds(tx: ScureRawTx): [Uint8Array, Uint8Array] {
  const txid = sha256d(RawTx.encode({ ...tx, segwitFlag: false }));
  return [txid, tx.segwitFlag ? sha256d(RawTx.encode(tx)) : txid];
}

const scureCoder: Contender = {
  name: '@scure/btc-signer RawTx list + re-encode + sha256d',
  library: true,
  run(raw) {
    let acc = 0;
    for (const tx of scureTxList.decode(raw.subarray(80))) {
      const [a, b] = scureIds(tx);
      acc += a[0] + b[31];
    }
    return acc;
  },
  ids(raw) {
    return scureTxList.decode(raw.subarray(80)).map((tx) => {
      const [a, b] = scureIds(tx);
      return [hexRev(a), hexRev(b)];
    });
  },
};

// The Transaction class per tx, given the tx boundaries for free (found once, outside timing).
const txSlices = new Map<Uint8Array, Uint8Array[]>(
  blocks.map((b) => [b, parseBlock(b).txs.map((t) => t.raw)] as [Uint8Array, Uint8Array[]]),
);
const SCURE_OPTS = {
  allowUnknownOutputs: true,
  allowUnknownInputs: true,
  allowUnknownVersion: true,
  disableScriptCheck: true,
};
const scureTransaction: Contender = {
  name: '@scure/btc-signer Transaction.fromRaw per tx + id',
  library: true,
  run(raw) {
    let acc = 0;
    for (const bytes of txSlices.get(raw)!) {
      const tx = btc.Transaction.fromRaw(bytes, SCURE_OPTS);
      acc += tx.id.length + sha256d(tx.toBytes(true, true))[31];
    }
    return acc;
  },
  ids(raw) {
    return txSlices.get(raw)!.map((bytes) => {
      const tx = btc.Transaction.fromRaw(bytes, SCURE_OPTS);
      return [tx.id, hexRev(sha256d(tx.toBytes(true, true)))];
    });
  },
};

const all: Contender[] = [
  ours(`ours parseBlock + hashBlockTxs (${hashImplName})`, sha256dBatch),
  ours('ours parseBlock + hashBlockTxs (JS fallback)', jsHash.sha256dBatch),
  oursFull,
  bitcoinjs,
  scureCoder,
  scureTransaction,
];
const contenders = only ? all.filter((c) => only.some((o) => c.name.includes(o))) : all;

// Every contender must produce the same ids as ours before its speed means anything.
const reference = blocks.map((b) => all[0].ids(b));
for (const c of contenders) {
  blocks.forEach((b, i) => {
    const got = c.ids(b);
    const want = reference[i];
    // bitcoinjs gives the coinbase a zero wtxid (its value in the witness merkle tree).
    if (/^0+$/.test(got[0]?.[1] ?? '')) got[0][1] = want[0][1];
    if (got.length !== want.length || got.some((p, j) => p[0] !== want[j][0] || p[1] !== want[j][1])) {
      const j = got.findIndex((p, k) => p[0] !== want[k]?.[0] || p[1] !== want[k]?.[1]);
      throw new Error(
        `${c.name}: ids differ from ours on block ${HEIGHTS[i]} tx ${j}: ${got[j]} vs ${want[j]}`,
      );
    }
  });
}

let sink = 0;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** One pass over all blocks: [wall ms, process CPU ms]. CPU time leaves out waits for the core
 * on a shared machine, but counts the GC's helper threads. */
function pass(c: Contender): [number, number] {
  const c0 = cpuMs();
  const t = performance.now();
  for (const b of blocks) sink += c.run(b);
  return [performance.now() - t, cpuMs() - c0];
}

const rssBefore = process.resourceUsage().maxRSS;
for (const c of contenders) for (let i = 0; i < 3; i++) pass(c); // warm-up: JIT and caches
const times = new Map<Contender, number[]>(contenders.map((c) => [c, []]));
const cpuTimes = new Map<Contender, number[]>(contenders.map((c) => [c, []]));
for (let r = 0; r < rounds; r++) {
  for (const c of contenders) {
    const [wall, cpu] = pass(c);
    times.get(c)!.push(wall);
    cpuTimes.get(c)!.push(cpu);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const mbps = (ms: number): number => totalBytes / 1e6 / (ms / 1e3);

const txCount = reference.reduce((n, ids) => n + ids.length, 0);
console.log(
  `blocks ${HEIGHTS[0]}-${HEIGHTS[HEIGHTS.length - 1]}: ${(totalBytes / 1e6).toFixed(2)} MB, ${txCount} txs (from ${source})`,
);
console.log(`node ${process.version}, hashing ${hashImplName}, ${rounds} rounds after 3 warm-up passes\n`);
console.log(
  `  ${'MB/s (block bytes per second)'.padEnd(56)} ${'median'.padStart(7)} ${'best'.padStart(7)} ${'CPU med'.padStart(8)}`,
);
const results = contenders.map((c) => {
  const ts = times.get(c)!;
  return { c, med: mbps(median(ts)), best: mbps(Math.min(...ts)), cpu: mbps(median(cpuTimes.get(c)!)) };
});
const col = (x: number, w: number): string => x.toFixed(x < 10 ? 1 : 0).padStart(w);
for (const r of results) {
  console.log(`  ${r.c.name.padEnd(56)} ${col(r.med, 7)} ${col(r.best, 7)} ${col(r.cpu, 8)}`);
}
const libs = results.filter((r) => r.c.library);
const mine = results.filter((r) => !r.c.library);
if (libs.length && mine.length) {
  const bestLib = libs.reduce((a, b) => (b.med > a.med ? b : a));
  console.log(`\n  best library: ${bestLib.c.name} (${bestLib.med.toFixed(0)} MB/s median)`);
  for (const r of mine) {
    console.log(
      `  ${r.c.name}: ${(r.med / bestLib.med).toFixed(1)}x the best library (median wall), ` +
        `${(r.cpu / bestLib.cpu).toFixed(1)}x (median CPU)`,
    );
  }
}
const rss = process.resourceUsage().maxRSS;
console.log(
  `\n  peak RSS ${(rss / 1024).toFixed(0)} MB (after loading inputs and checking ids: ${(rssBefore / 1024).toFixed(0)} MB)`,
);
if (sink === -1) console.log(sink);
