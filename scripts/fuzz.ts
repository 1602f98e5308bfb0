/**
 * Mutation fuzzer for the decoders of @lnpbp/bitcoin, seeded with real data: mainnet blocks
 * (test/fixtures/chain), blk*.dat framing, Bitcoin Core's tx_valid/tx_invalid transactions, the
 * three huge transactions, address vectors and LNPBP-5 short id texts.
 *
 * Oracle: decoding hostile bytes or text may only throw DecodeError or ValueError. Anything else
 * (TypeError, RangeError, stack overflow, ...) is a finding, as is an iteration slower than the
 * time bound (a hang), RSS over the memory bound, or a parse whose re-serialization differs from
 * its input (the parser skipped or invented bytes).
 *
 * Every iteration draws from its own PRNG seeded by (seed, iteration), so one iteration can be
 * replayed alone: the finding line prints the command.
 *
 *   node --import tsx scripts/fuzz.ts [--seed S] [--iterations N] [--time-bound MS]
 *       [--rss-bound MB] [--replay I] [--out DIR] [--no-worker]
 *
 * Defaults: seed 1, 100,000 iterations, 250 ms per iteration plus 2 ms per KB of input,
 * 1,536 MB RSS, findings saved as JSON under $TMPDIR/bp-fuzz.
 *
 * The CLI runs the loop in a worker thread watched by the main thread, so an iteration that never
 * returns (an infinite loop) is still caught and reported with its iteration number.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  addressToScript,
  base58checkDecode,
  decodeAddress,
  decodeBech32,
  decodeSegwit,
  scriptToAddress,
} from '../packages/bitcoin/src/address/index.ts';
import { readBlkRecords } from '../packages/bitcoin/src/block/blkfile.ts';
import { checkProofOfWork } from '../packages/bitcoin/src/block/header.ts';
import {
  blockWeight,
  checkMerkleRoot,
  checkWitnessCommitment,
  hashBlockTxs,
  parseBlock,
} from '../packages/bitcoin/src/block/parse.ts';
import { equalBytes, fromHex, toHex } from '../packages/bitcoin/src/bytes/hex.ts';
import { DecodeError, ValueError } from '../packages/bitcoin/src/errors.ts';
import type { NetworkName } from '../packages/bitcoin/src/network.ts';
import { classify } from '../packages/bitcoin/src/script/classify.ts';
import { type Revealed, revealedScript } from '../packages/bitcoin/src/script/revealed.ts';
import { tokenize } from '../packages/bitcoin/src/script/tokenize.ts';
import { formatScid, parseScid, scidFromU64, scidToU64 } from '../packages/bitcoin/src/shortid/scid.ts';
import { describeShortId, formatShortId, parseShortId } from '../packages/bitcoin/src/shortid/text.ts';
import { parseTx } from '../packages/bitcoin/src/tx/parse.ts';
import { serializeBlock, serializeTx } from '../packages/bitcoin/src/tx/serialize.ts';
import type { Tx } from '../packages/bitcoin/src/tx/types.ts';
import { fixturePath, MODERN_BLOCKS, modernBlock, readFixture } from '../test/support/fixtures.ts';

// ---------------------------------------------------------------------------------------------
// Deterministic PRNG: sfc32 seeded through splitmix32 from (seed, iteration).

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** Small lengths far more often than large ones: 1..max, log-uniform. */
  len(max: number): number {
    if (max <= 1) return 1;
    return Math.max(1, Math.min(max, Math.floor(Math.exp((this.u32() / 0x100000000) * Math.log(max + 1)))));
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus. Binary seeds carry a map of their CompactSize fields and sections (txs, inputs,
// outputs, witness items) so mutations can hit the fields that steer allocation.

interface CompactField {
  off: number;
  len: number;
  value: number;
}

interface Section {
  off: number;
  len: number;
  /** Index into `fields` of the count this section is counted by. */
  countField: number;
}

interface Layout {
  fields: CompactField[];
  sections: Section[];
}

type BinaryKind = 'block' | 'blk' | 'tx';
type TextKind = 'address' | 'shortid';
export type SeedKind = BinaryKind | TextKind;

interface BinarySeed {
  kind: BinaryKind;
  name: string;
  bytes: Uint8Array;
  layout: Layout;
}

interface TextSeed {
  kind: TextKind;
  name: string;
  text: string;
}

export interface Corpus {
  blocks: BinarySeed[];
  /** Full-size mainnet blocks (1-2 MB): picked rarely, they cost ~100x a small seed. */
  bigBlocks: BinarySeed[];
  blk: BinarySeed[];
  txs: BinarySeed[];
  bigTxs: BinarySeed[];
  addresses: TextSeed[];
  shortids: TextSeed[];
  /** scriptPubKeys from real outputs, handed to revealedScript as the prevout. */
  prevScripts: Uint8Array[];
}

function readCompact(b: Uint8Array, pos: number): { value: number; len: number } {
  const first = b[pos];
  if (first < 0xfd) return { value: first, len: 1 };
  if (first === 0xfd) return { value: b[pos + 1] | (b[pos + 2] << 8), len: 3 };
  if (first === 0xfe) {
    return { value: (b[pos + 1] | (b[pos + 2] << 8) | (b[pos + 3] << 16)) + b[pos + 4] * 0x1000000, len: 5 };
  }
  throw new Error(`8-byte CompactSize in a seed at ${pos}`);
}

/** Walks a valid transaction at pos recording its layout; returns the end offset. */
function walkTx(b: Uint8Array, pos: number, L: Layout): number {
  pos += 4;
  const segwit = b[pos] === 0 && b[pos + 1] === 1;
  if (segwit) pos += 2;
  const field = (): { index: number; value: number } => {
    const c = readCompact(b, pos);
    L.fields.push({ off: pos, len: c.len, value: c.value });
    pos += c.len;
    return { index: L.fields.length - 1, value: c.value };
  };
  const nIn = field();
  for (let i = 0; i < nIn.value; i++) {
    const start = pos;
    pos += 36;
    {
      const n = field().value;
      pos += n;
    }
    pos += 4;
    L.sections.push({ off: start, len: pos - start, countField: nIn.index });
  }
  const nOut = field();
  for (let i = 0; i < nOut.value; i++) {
    const start = pos;
    pos += 8;
    {
      const n = field().value;
      pos += n;
    }
    L.sections.push({ off: start, len: pos - start, countField: nOut.index });
  }
  if (segwit) {
    for (let i = 0; i < nIn.value; i++) {
      const items = field();
      for (let j = 0; j < items.value; j++) {
        const start = pos;
        {
          const n = field().value;
          pos += n;
        }
        L.sections.push({ off: start, len: pos - start, countField: items.index });
      }
    }
  }
  return pos + 4;
}

function walkBlock(b: Uint8Array, pos: number, L: Layout): number {
  pos += 80;
  const c = readCompact(b, pos);
  L.fields.push({ off: pos, len: c.len, value: c.value });
  const countField = L.fields.length - 1;
  pos += c.len;
  for (let i = 0; i < c.value; i++) {
    const start = pos;
    pos = walkTx(b, pos, L);
    L.sections.push({ off: start, len: pos - start, countField });
  }
  return pos;
}

function binarySeed(kind: BinaryKind, name: string, bytes: Uint8Array): BinarySeed {
  const layout: Layout = { fields: [], sections: [] };
  if (kind === 'tx') walkTx(bytes, 0, layout);
  else if (kind === 'block') walkBlock(bytes, 0, layout);
  else {
    // blk framing: the size field is u32 LE, not a CompactSize; record sections only.
    let pos = 0;
    while (pos + 8 <= bytes.length) {
      const size = bytes[pos + 4] | (bytes[pos + 5] << 8) | (bytes[pos + 6] << 16) | (bytes[pos + 7] << 24);
      if (size <= 0) break;
      const inner: Layout = { fields: [], sections: [] };
      walkBlock(bytes, pos + 8, inner);
      const shift = layout.fields.length;
      layout.fields.push(...inner.fields);
      for (const s of inner.sections) layout.sections.push({ ...s, countField: s.countField + shift });
      layout.sections.push({ off: pos, len: 8 + size, countField: -1 });
      pos += 8 + size;
    }
  }
  return { kind, name, bytes, layout };
}

/** A block made of a real header and a run of real transactions (the merkle root won't match). */
function miniBlock(src: Uint8Array, srcLayout: Layout, from: number, n: number): Uint8Array {
  const txSections = srcLayout.sections.filter((s) => s.countField === 0);
  const picked = txSections.slice(from, from + n);
  let size = 81;
  for (const s of picked) size += s.len;
  const out = new Uint8Array(size);
  out.set(src.subarray(0, 80), 0);
  out[80] = picked.length;
  let pos = 81;
  for (const s of picked) {
    out.set(src.subarray(s.off, s.off + s.len), pos);
    pos += s.len;
  }
  return out;
}

function readJson(rel: string): unknown {
  return JSON.parse(readFileSync(fixturePath(rel), 'utf8'));
}

/** Loads every seed from test/fixtures (deterministic order). */
export function loadCorpus(): Corpus {
  const c: Corpus = {
    blocks: [],
    bigBlocks: [],
    blk: [],
    txs: [],
    bigTxs: [],
    addresses: [],
    shortids: [],
    prevScripts: [],
  };
  for (const h of MODERN_BLOCKS) {
    const big = binarySeed('block', `block-${h}`, modernBlock(h));
    c.bigBlocks.push(big);
    const txSections = big.layout.sections.filter((s) => s.countField === 0);
    // Coinbase plus neighbours, and runs from the middle: small blocks with modern scripts.
    const starts = [0, 1, 17, Math.floor(txSections.length / 2), txSections.length - 6];
    for (const from of starts) {
      for (const n of [1, 3, 6]) {
        const bytes = miniBlock(big.bytes, big.layout, from, n);
        c.blocks.push(binarySeed('block', `block-${h}[${from}..+${n}]`, bytes));
      }
    }
    // Single transactions, a spread across the block.
    const step = Math.max(1, Math.floor(txSections.length / 60));
    for (let i = 0; i < txSections.length; i += step) {
      const s = txSections[i];
      c.txs.push(binarySeed('tx', `block-${h}.tx[${i}]`, big.bytes.slice(s.off, s.off + s.len)));
    }
  }
  for (const f of ['chain/blk00000.dat', 'chain/blk00001.dat']) {
    const file = readFixture(f);
    const records = [...readBlkRecords(file, 'mainnet')];
    // Every 10th early block as a block seed; the blk seeds are windows of a few records.
    for (let i = 0; i < records.length; i += 10) {
      c.blocks.push(binarySeed('block', `${f}#${i}`, records[i].raw.slice()));
    }
    for (let i = 0; i + 4 <= records.length; i += 25) {
      const from = records[i].offset - 8;
      const to = records[i + 3].offset + records[i + 3].raw.length;
      c.blk.push(binarySeed('blk', `${f}@${from}`, file.slice(from, to)));
    }
  }
  for (const f of ['reorg-blk_0_to_4.dat', 'reorg-blk_3A.dat', 'reorg-blk_4A.dat', 'reorg-blk_5A.dat']) {
    c.blk.push(binarySeed('blk', f, readFixture(`chain/${f}`)));
  }
  for (const f of ['tx/tx_valid.json', 'tx/tx_invalid.json']) {
    for (const row of readJson(f) as unknown[][]) {
      if (row.length < 2 || typeof row[1] !== 'string') continue;
      const bytes = fromHex(row[1]);
      try {
        parseTx(bytes);
      } catch {
        continue; // tx_invalid holds a few that are invalid as serializations, not just scripts
      }
      c.txs.push(binarySeed('tx', `${f}#${c.txs.length}`, bytes));
    }
  }
  for (const f of [
    'tx-69420-outputs.bin.gz',
    'megatx-5569-inputs.bin.gz',
    'huge-witness-500k-items.bin.gz',
  ]) {
    c.bigTxs.push(binarySeed('tx', f, readFixture(`chain/${f}`)));
  }
  for (const t of c.txs) {
    const tx = parseTx(t.bytes);
    for (const o of tx.outputs) if (c.prevScripts.length < 4000) c.prevScripts.push(o.scriptPubKey.slice());
  }

  const addr = (text: string, name: string): void => {
    c.addresses.push({ kind: 'address', name, text });
  };
  for (const row of readJson('bitcoin-core/key_io_valid.json') as [
    string,
    string,
    { isPrivkey: boolean },
  ][]) {
    if (!row[2].isPrivkey) addr(row[0], 'key_io_valid');
  }
  for (const row of readJson('bitcoin-core/key_io_invalid.json') as [string][])
    addr(row[0], 'key_io_invalid');
  const bips = readJson('bips/bip173-bip350-vectors.json') as Record<
    string,
    {
      validStrings: string[];
      invalidStrings: { string: string }[];
      validAddresses: { string: string }[];
      invalidAddresses: { string: string }[];
    }
  >;
  for (const [bip, v] of Object.entries(bips)) {
    for (const s of v.validStrings) addr(s, `${bip}.validStrings`);
    for (const s of v.invalidStrings) addr(s.string, `${bip}.invalidStrings`);
    for (const s of v.validAddresses) addr(s.string, `${bip}.validAddresses`);
    for (const s of v.invalidAddresses) addr(s.string, `${bip}.invalidAddresses`);
  }

  const sid = readJson('shortid/vectors.json') as {
    vectors: { id: string; hex: string; text: string }[];
    invalidIds: { id: string }[];
    scids: { text: string; u64: string }[];
  };
  const id = (text: string, name: string): void => {
    c.shortids.push({ kind: 'shortid', name, text });
  };
  for (const v of sid.vectors) {
    id(v.text, 'vector.text');
    id(v.hex, 'vector.hex');
    id(v.id, 'vector.id');
  }
  for (const v of sid.invalidIds) id(v.id, 'invalidId');
  for (const v of sid.scids) {
    id(v.text, 'scid.text');
    id(v.u64, 'scid.u64');
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// Byte mutations. Each returns a fresh array and appends a description for the report.

const INTERESTING = [0x00, 0xff, 0xfd, 0xfe, 0x01, 0x7f, 0x80, 0xfc, 0x50, 0x6a, 0x20, 0x14];
/** Encodings a CompactSize field is swapped for: huge, boundary, non-canonical. */
const HUGE_COMPACT: readonly number[][] = [
  [0xfd, 0xff, 0xff],
  [0xfe, 0xff, 0xff, 0xff, 0xff],
  [0xfe, 0x00, 0x00, 0x01, 0x00],
  [0xfe, 0xff, 0xff, 0xff, 0x7f],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  [0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00],
  [0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00],
  [0xfd, 0xfc, 0x00],
  [0xfd, 0x00, 0x00],
  [0xfe, 0xff, 0xff, 0x00, 0x00],
  [0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0xfd],
  [0xfe, 0x01],
];
/** Largest input the fuzzer builds; Core's block limit is 4,000,000 bytes. */
const MAX_INPUT = 4_500_000;

function encodeCompact(v: number): number[] {
  if (v < 0xfd) return [v];
  if (v <= 0xffff) return [0xfd, v & 0xff, v >>> 8];
  return [0xfe, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

function replaceRange(b: Uint8Array, off: number, len: number, ins: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(b.length - len + ins.length);
  out.set(b.subarray(0, off), 0);
  out.set(ins, off);
  out.set(b.subarray(off + len), off + ins.length);
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (rng.chance(0.5)) out.fill(rng.pick(INTERESTING));
  else for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

/** A position near a structure boundary more often than not. */
function position(rng: Rng, b: Uint8Array, seed: BinarySeed): number {
  if (b.length === 0) return 0;
  const L = seed.layout;
  if (L.fields.length > 0 && rng.chance(0.3)) {
    const f = rng.pick(L.fields);
    return Math.min(b.length - 1, f.off + rng.int(f.len + 2));
  }
  return rng.int(b.length);
}

function mutateBytes(
  rng: Rng,
  input: Uint8Array,
  seed: BinarySeed,
  corpus: Corpus,
  log: string[],
): Uint8Array {
  let b = input;
  const L = seed.layout;
  const op = rng.int(12);
  switch (op) {
    case 0: {
      b = b.slice();
      const n = rng.len(8);
      const where: number[] = [];
      for (let i = 0; i < n && b.length > 0; i++) {
        const p = position(rng, b, seed);
        const bit = rng.int(8);
        b[p] ^= 1 << bit;
        where.push(p * 8 + bit);
      }
      log.push(`bitflip bits ${where.join(',')}`);
      return b;
    }
    case 1: {
      b = b.slice();
      const n = rng.len(4);
      const where: string[] = [];
      for (let i = 0; i < n && b.length > 0; i++) {
        const p = position(rng, b, seed);
        b[p] = rng.chance(0.8) ? rng.pick(INTERESTING.slice(0, 4)) : rng.int(256);
        where.push(`${p}=${b[p].toString(16)}`);
      }
      log.push(`set ${where.join(',')}`);
      return b;
    }
    case 2: {
      const at = rng.chance(0.5) ? rng.int(b.length) : Math.max(0, b.length - rng.len(64));
      log.push(`truncate to ${at}`);
      return b.slice(0, at);
    }
    case 3: {
      const at = position(rng, b, seed);
      const run = randomBytes(rng, rng.len(rng.chance(0.9) ? 64 : 4096));
      log.push(
        `insert ${run.length} bytes at ${at}: ${toHex(run.subarray(0, 16))}${run.length > 16 ? '...' : ''}`,
      );
      return replaceRange(b, at, 0, run);
    }
    case 4: {
      const at = position(rng, b, seed);
      const n = Math.min(b.length - at, rng.len(rng.chance(0.9) ? 64 : 4096));
      log.push(`delete ${n} bytes at ${at}`);
      return replaceRange(b, at, n, []);
    }
    case 5: {
      // Splice: this input's head with another seed's tail.
      const pool = seed.kind === 'blk' ? corpus.blk : rng.chance(0.5) ? corpus.txs : corpus.blocks;
      const other = rng.pick(pool);
      const at = rng.int(b.length + 1);
      const from = rng.int(other.bytes.length + 1);
      log.push(`splice head ${at} + ${other.name} from ${from}`);
      const out = new Uint8Array(at + other.bytes.length - from);
      out.set(b.subarray(0, at), 0);
      out.set(other.bytes.subarray(from), at);
      return out;
    }
    case 6:
    case 7: {
      // CompactSize field replaced: huge, boundary, non-canonical, or off by one.
      if (L.fields.length === 0) {
        const at = rng.int(b.length + 1);
        const enc = rng.pick(HUGE_COMPACT);
        log.push(`compact ${toHex(Uint8Array.from(enc))} over ${enc.length} bytes at ${at}`);
        return replaceRange(b, at, Math.min(enc.length, b.length - at), enc);
      }
      const f = rng.pick(L.fields);
      if (f.off + f.len > b.length) return b;
      let enc: number[];
      const choice = rng.int(4);
      if (choice === 0) enc = encodeCompact(f.value + 1);
      else if (choice === 1) enc = encodeCompact(Math.max(0, f.value - 1));
      else if (choice === 2) enc = encodeCompact(rng.int(b.length * 2 + 2));
      else enc = rng.pick(HUGE_COMPACT);
      log.push(`compact field at ${f.off} (${f.value}) -> ${toHex(Uint8Array.from(enc))}`);
      return replaceRange(b, f.off, f.len, enc);
    }
    case 8:
    case 9: {
      // Duplicate a section (tx, input, output, witness item), sometimes bumping its count.
      if (L.sections.length === 0) return dupRun(rng, b, log);
      const s = rng.pick(L.sections);
      if (s.off + s.len > b.length || s.len > 1_100_000) return dupRun(rng, b, log);
      const copy = b.slice(s.off, s.off + s.len);
      let out = replaceRange(b, s.off + s.len, 0, copy);
      let bumped = '';
      if (s.countField >= 0 && rng.chance(0.6)) {
        const f = L.fields[s.countField];
        const enc = encodeCompact(f.value + 1);
        out = replaceRange(out, f.off, f.len, enc);
        bumped = `, count at ${f.off} -> ${f.value + 1}`;
      }
      log.push(`duplicate section ${s.off}+${s.len}${bumped}`);
      return out;
    }
    case 10: {
      // Drop a section, sometimes lowering its count to match.
      if (L.sections.length === 0) return dupRun(rng, b, log);
      const s = rng.pick(L.sections);
      if (s.off + s.len > b.length) return b.slice(0, rng.int(b.length));
      let out = replaceRange(b, s.off, s.len, []);
      let dropped = '';
      if (s.countField >= 0 && rng.chance(0.6)) {
        const f = L.fields[s.countField];
        out = replaceRange(out, f.off, f.len, encodeCompact(Math.max(0, f.value - 1)));
        dropped = `, count at ${f.off} -> ${Math.max(0, f.value - 1)}`;
      }
      log.push(`drop section ${s.off}+${s.len}${dropped}`);
      return out;
    }
    default:
      return dupRun(rng, b, log);
  }
}

function dupRun(rng: Rng, b: Uint8Array, log: string[]): Uint8Array {
  const at = rng.int(b.length);
  const n = Math.min(b.length - at, rng.len(rng.chance(0.9) ? 256 : 65536));
  log.push(`duplicate run ${at}+${n}`);
  return replaceRange(b, at + n, 0, b.subarray(at, at + n));
}

// ---------------------------------------------------------------------------------------------
// Text mutations (addresses, short ids).

const BECH32_CHARS = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BASE58_CHARS = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const ODD_CHARS = [
  '1',
  '0',
  ':',
  'x',
  'i',
  'o',
  '-',
  '+',
  ' ',
  '\t',
  '\n',
  '\u0000',
  '\u007f',
  '\u0080',
  'é',
  'İ',
  'ß',
  '\ud83d',
  '\ude00',
  '😀',
  'off:',
  '0x',
  'bc1',
  'tb1',
  'bcrt1',
];
const BIG_NUMBERS = [
  '18446744073709551615',
  '18446744073709551616',
  '99999999999999999999999999',
  '9007199254740993',
  '4294967296',
  '16777216',
  '32767',
  '32768',
  '65535',
  '65536',
  '0',
  '00000000',
  '1e400',
  '',
];

function mutateText(rng: Rng, s: string, pool: TextSeed[], log: string[]): string {
  const op = rng.int(10);
  const at = rng.int(s.length + 1);
  switch (op) {
    case 0: {
      const alphabet = rng.pick([BECH32_CHARS, BASE58_CHARS, '0123456789abcdefABCDEF']);
      const ch = alphabet[rng.int(alphabet.length)];
      log.push(`replace char ${at} with ${JSON.stringify(ch)}`);
      return s.slice(0, at) + ch + s.slice(at + 1);
    }
    case 1: {
      const ch = rng.chance(0.5) ? rng.pick(ODD_CHARS) : String.fromCharCode(rng.int(0x10000));
      log.push(`insert ${JSON.stringify(ch)} at ${at}`);
      return s.slice(0, at) + ch + s.slice(at);
    }
    case 2: {
      const n = rng.len(8);
      log.push(`delete ${n} chars at ${at}`);
      return s.slice(0, at) + s.slice(at + n);
    }
    case 3: {
      log.push(`truncate to ${at}`);
      return s.slice(0, at);
    }
    case 4: {
      const which = rng.int(3);
      log.push(`case ${['upper', 'lower', 'flip one'][which]}`);
      if (which === 0) return s.toUpperCase();
      if (which === 1) return s.toLowerCase();
      const c = s[at] ?? '';
      return s.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(at + 1);
    }
    case 5: {
      // Numbers in short ids and scids: swap a digit run for an extreme one.
      const runs = [...s.matchAll(/[0-9a-fA-F]+/g)];
      const num = rng.pick(BIG_NUMBERS);
      if (runs.length === 0) return s + num;
      const m = rng.pick(runs);
      log.push(`number run at ${m.index} -> ${JSON.stringify(num)}`);
      return s.slice(0, m.index) + num + s.slice((m.index ?? 0) + m[0].length);
    }
    case 6: {
      const n = rng.len(s.length + 1);
      const times = rng.chance(0.8) ? rng.len(8) : rng.len(2000);
      log.push(`repeat ${at}+${n} x${times}`);
      return s.slice(0, at) + s.slice(at, at + n).repeat(times) + s.slice(at);
    }
    case 7: {
      const other = rng.pick(pool).text;
      const from = rng.int(other.length + 1);
      log.push(`splice head ${at} + ${JSON.stringify(other)} from ${from}`);
      return s.slice(0, at) + other.slice(from);
    }
    case 8: {
      if (s.length < 2) return s + s;
      const i = rng.int(s.length - 1);
      log.push(`swap ${i},${i + 1}`);
      return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
    }
    default: {
      const sep = rng.pick([':', '1', 'x', 'o', 'i']);
      log.push(`insert separator ${sep} at ${at}`);
      return s.slice(0, at) + sep + s.slice(at);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Targets. `step` records which call is running so a finding names it.

interface Ctx {
  step: string;
  /** Calls that returned, and typed errors, per target. */
  ok: Record<string, number>;
  typed: Record<string, number>;
  prevScripts: Uint8Array[];
}

class OracleFailure extends Error {
  override readonly name = 'OracleFailure';
}

function typed(e: unknown): boolean {
  return e instanceof DecodeError || e instanceof ValueError;
}

/** Runs fn; a typed error counts and is swallowed, anything else propagates to the oracle. */
function attempt<T>(ctx: Ctx, step: string, fn: () => T): T | undefined {
  ctx.step = step;
  try {
    const v = fn();
    ctx.ok[step] = (ctx.ok[step] ?? 0) + 1;
    return v;
  } catch (e) {
    if (!typed(e)) throw e;
    ctx.typed[step] = (ctx.typed[step] ?? 0) + 1;
    return undefined;
  }
}

function scriptTargets(ctx: Ctx, script: Uint8Array, where: string): void {
  attempt(ctx, 'tokenize', () => tokenize(script, where));
  attempt(ctx, 'classify', () => classify(script));
}

function revealTargets(ctx: Ctx, r: Revealed | undefined, where: string): void {
  if (r === undefined) return;
  if ('redeemScript' in r) scriptTargets(ctx, r.redeemScript, `${where}.redeemScript`);
  if ('witnessScript' in r) scriptTargets(ctx, r.witnessScript, `${where}.witnessScript`);
  if ('leaf' in r) scriptTargets(ctx, r.leaf.script, `${where}.leaf`);
}

function txTargets(ctx: Ctx, tx: Tx, salt: number): void {
  for (let i = 0; i < tx.outputs.length; i++) {
    const spk = tx.outputs[i].scriptPubKey;
    scriptTargets(ctx, spk, `output[${i}]`);
    attempt(ctx, 'scriptToAddress', () => scriptToAddress(spk, 'mainnet'));
  }
  for (let i = 0; i < tx.inputs.length; i++) {
    const input = tx.inputs[i];
    scriptTargets(ctx, input.scriptSig, `input[${i}].scriptSig`);
    revealTargets(
      ctx,
      attempt(ctx, 'revealedScript', () => revealedScript(input)),
      `input[${i}]`,
    );
    // With a prevout given: a real scriptPubKey of some class, so each spend path is tried.
    const prev = ctx.prevScripts[(salt + i * 7919) % ctx.prevScripts.length];
    revealTargets(
      ctx,
      attempt(ctx, 'revealedScript(prevout)', () => revealedScript(input, prev)),
      `input[${i}]`,
    );
  }
}

function checkRoundTrip(ctx: Ctx, what: string, got: Uint8Array, want: Uint8Array): void {
  ctx.step = `${what} round trip`;
  if (!equalBytes(got, want)) {
    throw new OracleFailure(
      `${what} parsed but re-serializes differently (${got.length} vs ${want.length} bytes)`,
    );
  }
}

function blockTargets(ctx: Ctx, bytes: Uint8Array, salt: number): void {
  const block = attempt(ctx, 'parseBlock', () => parseBlock(bytes));
  if (block === undefined) return;
  checkRoundTrip(ctx, 'block', serializeBlock(block), bytes);
  ctx.step = 'hashBlockTxs';
  hashBlockTxs(block);
  // The batch must agree with hashing one tx at a time (the lazy path).
  const n = block.txs.length;
  for (const i of n === 0 ? [] : [0, n >> 1, n - 1]) {
    const tx = block.txs[i];
    ctx.step = 'parseTx(block tx) txid';
    const alone = parseTx(tx.raw);
    if (!equalBytes(alone.txid(), tx.txid()) || !equalBytes(alone.wtxid(), tx.wtxid())) {
      throw new OracleFailure(`tx ${i}: batched txid/wtxid differ from hashing the tx alone`);
    }
  }
  attempt(ctx, 'checkMerkleRoot', () => checkMerkleRoot(block));
  attempt(ctx, 'checkWitnessCommitment', () => checkWitnessCommitment(block));
  attempt(ctx, 'blockWeight', () => blockWeight(block));
  attempt(ctx, 'checkProofOfWork', () => checkProofOfWork(block.header));
  for (let i = 0; i < block.txs.length; i++) txTargets(ctx, block.txs[i], salt + i);
  ctx.ok.blockParsed = (ctx.ok.blockParsed ?? 0) + 1;
}

function runBinary(ctx: Ctx, kind: BinaryKind, bytes: Uint8Array, salt: number): void {
  if (kind === 'block') {
    blockTargets(ctx, bytes, salt);
    return;
  }
  if (kind === 'tx') {
    const tx = attempt(ctx, 'parseTx', () => parseTx(bytes));
    if (tx === undefined) return;
    checkRoundTrip(ctx, 'tx', serializeTx(tx, { witness: tx.hasWitness }), bytes);
    ctx.step = 'txid';
    tx.txid();
    tx.wtxid();
    txTargets(ctx, tx, salt);
    return;
  }
  const network: NetworkName = 'mainnet';
  const records = attempt(ctx, 'readBlkRecords', () => [...readBlkRecords(bytes, network)]);
  for (const rec of records ?? []) blockTargets(ctx, rec.raw, salt);
}

const NETWORKS_TRIED: NetworkName[] = ['mainnet', 'testnet', 'regtest'];

function runAddress(ctx: Ctx, s: string): void {
  for (const net of NETWORKS_TRIED) {
    const d = attempt(ctx, 'decodeAddress', () => decodeAddress(s, net));
    if (d === undefined) continue;
    ctx.step = 'scriptToAddress(decoded)';
    const back = scriptToAddress(d.scriptPubKey, net);
    if (back === undefined) throw new OracleFailure(`decoded ${d.type} has no address on ${net}`);
    const spk = attempt(ctx, 'addressToScript', () => addressToScript(back, net));
    if (spk === undefined || !equalBytes(spk, d.scriptPubKey)) {
      throw new OracleFailure(`address round trip on ${net}: ${back}`);
    }
  }
  attempt(ctx, 'decodeBech32', () => decodeBech32(s));
  attempt(ctx, 'decodeSegwit', () => decodeSegwit(s));
  attempt(ctx, 'base58checkDecode', () => base58checkDecode(s));
}

function runShortId(ctx: Ctx, s: string): void {
  const id = attempt(ctx, 'parseShortId', () => parseShortId(s));
  if (id !== undefined) {
    const text = attempt(ctx, 'formatShortId', () => formatShortId(id));
    attempt(ctx, 'describeShortId', () => describeShortId(id));
    if (text !== undefined) {
      ctx.step = 'parseShortId(formatShortId)';
      if (parseShortId(text) !== id)
        throw new OracleFailure(`short id ${id} formats as ${text}, which parses back differently`);
    }
  }
  const scid = attempt(ctx, 'parseScid', () => parseScid(s));
  if (scid !== undefined) {
    ctx.step = 'scid round trip';
    const u = scidToU64(scid);
    if (formatScid(scidFromU64(u)) !== formatScid(scid)) throw new OracleFailure(`scid ${s} round trip`);
  }
}

// ---------------------------------------------------------------------------------------------
// The loop.

export interface FuzzOptions {
  seed: number;
  iterations: number;
  /** First iteration number (so a run can be split or resumed). */
  start?: number;
  /** Wall-clock bound per iteration in ms; a slow iteration is re-run and judged on CPU time. */
  timeBoundMs?: number;
  /**
   * Extra allowance per KB of input (default 2 ms): the 500 KB tx with 500,000 witness items
   * takes 350-600 ms to parse, materialize and re-serialize (~1 us per item, linear work, not a
   * hang); a hang is work that grows faster than the input.
   */
  perKbMs?: number;
  /** Resident set size bound in MB. */
  rssBoundMb?: number;
  /** Print a progress line every this many iterations (0: never). */
  progressEvery?: number;
  log?: (line: string) => void;
  /** Stop at the first finding (default true). */
  stopOnFinding?: boolean;
  corpus?: Corpus;
  /** Called before each iteration (the CLI's watchdog reads it). */
  onIteration?: (iteration: number) => void;
}

export type FindingKind = 'untyped-error' | 'oracle' | 'hang' | 'memory';

export interface Finding {
  kind: FindingKind;
  seed: number;
  iteration: number;
  seedName: string;
  target: string;
  error: string;
  stack?: string;
  mutations: string[];
  /** Hex of the mutated bytes, or JSON of the mutated text. */
  input: string;
  inputLength: number;
}

export interface FuzzResult {
  seed: number;
  iterations: number;
  findings: Finding[];
  /** Seeds fuzzed per kind. */
  kinds: Record<string, number>;
  ok: Record<string, number>;
  typed: Record<string, number>;
  elapsedMs: number;
  slowestMs: number;
  peakRssMb: number;
}

interface Case {
  kind: SeedKind;
  seedName: string;
  bytes?: Uint8Array;
  text?: string;
  mutations: string[];
  salt: number;
}

/** Builds the input of one iteration from (seed, iteration) alone. */
export function makeCase(corpus: Corpus, seed: number, iteration: number): Case {
  const rng = new Rng(seed, iteration);
  const r = rng.int(1000);
  const mutations: string[] = [];
  // Some unmutated inputs keep the success paths (and their round-trip oracles) exercised.
  const rounds = rng.chance(0.03) ? 0 : rng.chance(0.6) ? 1 : 1 + rng.len(4);
  const salt = rng.int(1 << 30);
  if (r < 750) {
    let seedPick: BinarySeed;
    if (r < 290) seedPick = rng.pick(corpus.blocks);
    else if (r < 300) seedPick = rng.pick(corpus.bigBlocks);
    else if (r < 360) seedPick = rng.pick(corpus.blk);
    else if (r < 745) seedPick = rng.pick(corpus.txs);
    else seedPick = rng.pick(corpus.bigTxs);
    let b = seedPick.bytes;
    for (let i = 0; i < rounds; i++) {
      b = mutateBytes(rng, b, seedPick, corpus, mutations);
      if (b.length > MAX_INPUT) b = b.subarray(0, MAX_INPUT);
    }
    return { kind: seedPick.kind, seedName: seedPick.name, bytes: b, mutations, salt };
  }
  const pool = r < 880 ? corpus.addresses : corpus.shortids;
  const seedPick = rng.pick(pool);
  let s = seedPick.text;
  for (let i = 0; i < rounds; i++) s = mutateText(rng, s, pool, mutations);
  return { kind: seedPick.kind, seedName: seedPick.name, text: s, mutations, salt };
}

function runCase(ctx: Ctx, c: Case): void {
  if (c.kind === 'address') runAddress(ctx, c.text!);
  else if (c.kind === 'shortid') runShortId(ctx, c.text!);
  else runBinary(ctx, c.kind, c.bytes!, c.salt);
}

function describeInput(c: Case): { input: string; inputLength: number } {
  if (c.bytes) return { input: toHex(c.bytes), inputLength: c.bytes.length };
  return { input: JSON.stringify(c.text), inputLength: c.text!.length };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function runFuzz(opts: FuzzOptions): FuzzResult {
  const corpus = opts.corpus ?? loadCorpus();
  const log = opts.log ?? ((line: string) => console.log(line));
  const baseBound = opts.timeBoundMs ?? 250;
  const perKb = opts.perKbMs ?? 2;
  const rssBound = (opts.rssBoundMb ?? 1536) * 1024 * 1024;
  const every = opts.progressEvery ?? 0;
  const stop = opts.stopOnFinding ?? true;
  const start = opts.start ?? 0;
  const ctx: Ctx = { step: '', ok: {}, typed: {}, prevScripts: corpus.prevScripts };
  const result: FuzzResult = {
    seed: opts.seed,
    iterations: 0,
    findings: [],
    kinds: {},
    ok: ctx.ok,
    typed: ctx.typed,
    elapsedMs: 0,
    slowestMs: 0,
    peakRssMb: 0,
  };
  const t0 = performance.now();
  let peakRss = process.memoryUsage.rss();
  const finding = (kind: FindingKind, it: number, c: Case, error: string, stack?: string): void => {
    const f: Finding = {
      kind,
      seed: opts.seed,
      iteration: it,
      seedName: c.seedName,
      target: ctx.step,
      error,
      stack,
      mutations: c.mutations,
      ...describeInput(c),
    };
    result.findings.push(f);
    log(formatFinding(f));
  };
  for (let it = start; it < start + opts.iterations; it++) {
    opts.onIteration?.(it);
    const c = makeCase(corpus, opts.seed, it);
    result.kinds[c.kind] = (result.kinds[c.kind] ?? 0) + 1;
    const t = performance.now();
    try {
      runCase(ctx, c);
    } catch (e) {
      const err = e as Error;
      const kind = e instanceof OracleFailure ? 'oracle' : 'untyped-error';
      finding(kind, it, c, `${err?.name ?? typeof e}: ${err?.message ?? String(e)}`, err?.stack);
      result.iterations++;
      if (stop) break;
      continue;
    }
    const dt = performance.now() - t;
    const bound = baseBound + (perKb * (c.bytes?.length ?? c.text!.length)) / 1024;
    if (dt > bound) {
      // Wall time on a shared machine includes other processes: re-run and judge on CPU time.
      const c0 = cpuMs();
      runCase(ctx, c);
      const cpu = cpuMs() - c0;
      if (cpu > bound) {
        finding(
          'hang',
          it,
          c,
          `iteration took ${dt.toFixed(0)} ms, re-run ${cpu.toFixed(0)} ms CPU (bound ${bound} ms)`,
        );
        result.iterations++;
        if (stop) break;
        continue;
      }
    }
    if (dt > result.slowestMs) result.slowestMs = dt;
    result.iterations++;
    if ((it & 15) === 0) {
      const rss = process.memoryUsage.rss();
      if (rss > peakRss) peakRss = rss;
      if (rss > rssBound) {
        finding('memory', it, c, `RSS ${(rss / 1048576).toFixed(0)} MB over ${rssBound / 1048576} MB`);
        if (stop) break;
      }
    }
    if (every > 0 && result.iterations % every === 0) {
      const el = (performance.now() - t0) / 1000;
      log(
        `fuzz seed=${opts.seed}: ${result.iterations}/${opts.iterations} iterations, ` +
          `${(result.iterations / el).toFixed(0)}/s, blocks parsed ${ctx.ok.blockParsed ?? 0}, ` +
          `txs parsed ${ctx.ok.parseTx ?? 0}, findings ${result.findings.length}, ` +
          `slowest ${result.slowestMs.toFixed(0)} ms, rss ${(peakRss / 1048576).toFixed(0)} MB`,
      );
    }
  }
  result.elapsedMs = performance.now() - t0;
  result.peakRssMb = Math.round(Math.max(peakRss, process.memoryUsage.rss()) / 1048576);
  return result;
}

export function formatFinding(f: Finding): string {
  const shown =
    f.input.length > 2000 ? `${f.input.slice(0, 2000)}... (${f.inputLength} bytes/chars)` : f.input;
  return [
    `FINDING ${f.kind} seed=${f.seed} iteration=${f.iteration} target=${f.target}`,
    `  error: ${f.error}`,
    `  from seed input: ${f.seedName}`,
    `  mutations: ${f.mutations.join(' | ')}`,
    `  input: ${shown}`,
    `  replay: node --import tsx scripts/fuzz.ts --seed ${f.seed} --replay ${f.iteration}`,
    ...(f.stack ? [`  stack: ${f.stack.split('\n').slice(0, 8).join('\n    ')}`] : []),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// CLI: a worker runs the loop; the main thread watches for an iteration that never ends.

interface CliArgs {
  seed: number;
  iterations: number;
  timeBoundMs: number;
  rssBoundMb: number;
  replay?: number;
  out: string;
  worker: boolean;
}

function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = {
    seed: 1,
    iterations: 100_000,
    timeBoundMs: 250,
    rssBoundMb: 1536,
    out: join(tmpdir(), 'bp-fuzz'),
    worker: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${k} needs a non-negative integer`);
      return n;
    };
    if (k === '--seed') a.seed = v();
    else if (k === '--iterations') a.iterations = v();
    else if (k === '--time-bound') a.timeBoundMs = v();
    else if (k === '--rss-bound') a.rssBoundMb = v();
    else if (k === '--replay') a.replay = v();
    else if (k === '--out') a.out = argv[++i];
    else if (k === '--no-worker') a.worker = false;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function saveFindings(out: string, findings: Finding[]): void {
  if (findings.length === 0) return;
  mkdirSync(out, { recursive: true });
  for (const f of findings) {
    const file = join(out, `seed-${f.seed}-iter-${f.iteration}.json`);
    writeFileSync(file, JSON.stringify(f, null, 1));
    console.log(`  saved ${file}`);
  }
}

function summary(r: FuzzResult): string {
  const keys = Object.keys({ ...r.ok, ...r.typed }).sort();
  const rows = keys.map((k) => `    ${k}: ${r.ok[k] ?? 0} ok, ${r.typed[k] ?? 0} typed errors`);
  return [
    `fuzz seed=${r.seed}: ${r.iterations} iterations in ${(r.elapsedMs / 1000).toFixed(1)} s, ` +
      `${r.findings.length} findings, slowest ${r.slowestMs.toFixed(0)} ms, peak RSS ${r.peakRssMb} MB`,
    `  inputs: ${Object.entries(r.kinds)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    '  targets:',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay !== undefined) {
    const corpus = loadCorpus();
    const c = makeCase(corpus, args.seed, args.replay);
    console.log(`replay seed=${args.seed} iteration=${args.replay} from ${c.seedName}`);
    console.log(`  mutations: ${c.mutations.join(' | ')}`);
    const { input, inputLength } = describeInput(c);
    console.log(
      `  input: ${input.length > 2000 ? `${input.slice(0, 2000)}... (${inputLength} bytes/chars)` : input}`,
    );
    const r = runFuzz({ ...args, start: args.replay, iterations: 1, corpus });
    console.log(summary(r));
    process.exit(r.findings.length ? 1 : 0);
  }
  if (!args.worker) {
    const r = runFuzz({ ...args, progressEvery: 5000 });
    console.log(summary(r));
    saveFindings(args.out, r.findings);
    process.exit(r.findings.length ? 1 : 0);
  }
  // Watchdog: the worker stores the running iteration and its start time in shared memory.
  const shared = new SharedArrayBuffer(16);
  const state = new Float64Array(shared);
  // Workers do not inherit tsx's loader hooks: the worker registers them, then loads this file.
  const boot =
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};\n` +
    `register();\nawait import(${JSON.stringify(import.meta.url)});`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), {
    workerData: { bpFuzz: true, args, shared },
    resourceLimits: { maxOldGenerationSizeMb: args.rssBoundMb },
  });
  const hangAfter = Math.max(10 * args.timeBoundMs, 5000);
  let done = false;
  const timer = setInterval(() => {
    const started = state[1];
    if (done || started === 0 || performance.timeOrigin + performance.now() - started < hangAfter) return;
    done = true;
    const it = state[0];
    console.log(
      `FINDING hang seed=${args.seed} iteration=${it}: no progress for ${hangAfter} ms\n` +
        `  replay: node --import tsx scripts/fuzz.ts --seed ${args.seed} --replay ${it}`,
    );
    void worker.terminate().then(() => process.exit(1));
  }, 200);
  worker.on('message', (m: { result?: FuzzResult }) => {
    if (!m.result) return;
    done = true;
    clearInterval(timer);
    console.log(summary(m.result));
    saveFindings(args.out, m.result.findings);
    process.exitCode = m.result.findings.length ? 1 : 0;
  });
  worker.on('error', (e) => {
    if (done) return;
    done = true;
    clearInterval(timer);
    const it = state[0];
    console.log(
      `FINDING ${e.message.includes('memory') ? 'memory' : 'crash'} seed=${args.seed} iteration=${it}: ${e.message}\n` +
        `  replay: node --import tsx scripts/fuzz.ts --seed ${args.seed} --replay ${it}`,
    );
    process.exitCode = 1;
  });
  worker.on('exit', () => clearInterval(timer));
}

function workerMain(): void {
  const { args, shared } = workerData as { args: CliArgs; shared: SharedArrayBuffer };
  const state = new Float64Array(shared);
  const r = runFuzz({
    ...args,
    progressEvery: 5000,
    onIteration: (it) => {
      state[0] = it;
      state[1] = performance.timeOrigin + performance.now();
    },
  });
  parentPort!.postMessage({ result: { ...r, findings: r.findings.map((f) => ({ ...f })) } });
}

if (!isMainThread && (workerData as { bpFuzz?: boolean } | null)?.bpFuzz) {
  workerMain();
} else if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(String(e?.message ?? e));
    process.exit(2);
  });
}
