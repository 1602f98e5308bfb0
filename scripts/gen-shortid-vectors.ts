/**
 * Generates test/fixtures/shortid/vectors.json (and the tables in docs/lnpbp-5.md are copied from
 * its output) from real blocks in ../shared, parsed with bitcoinjs-lib (independent of our parser).
 * Expected ids are built here as bit strings straight from the bit tables in docs/lnpbp-5.md, not
 * with the package's codec, so the tests compare two implementations.
 *
 * Usage: npx tsx scripts/gen-shortid-vectors.ts [--markdown]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Block, Transaction } from 'bitcoinjs-lib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shared = join(root, '..', 'shared');

// ---- real data -------------------------------------------------------------------------------

function readBlk(path: string): Buffer[] {
  const b = readFileSync(path);
  const out: Buffer[] = [];
  for (let o = 0; o < b.length; ) {
    if (b.readUInt32LE(o) !== 0xd9b4bef9) throw new Error(`bad magic at ${o} in ${path}`);
    const size = b.readUInt32LE(o + 4);
    out.push(b.subarray(o + 8, o + 8 + size));
    o += 8 + size;
  }
  return out;
}

const raws = [
  ...readBlk(join(shared, 'chain/mainnet-0-599/blk00000.dat')),
  ...readBlk(join(shared, 'chain/mainnet-0-599/blk00001.dat')),
];
const blocks = raws.map((r) => Block.fromBuffer(r));
// Heights are file order; prove it by linkage from genesis.
const GENESIS = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';
if (blocks[0].getId() !== GENESIS) throw new Error('first block is not genesis');
for (let i = 1; i < blocks.length; i++) {
  if (!Buffer.from(blocks[i].prevHash!).equals(Buffer.from(blocks[i - 1].getHash())))
    throw new Error(`block ${i} does not link`);
}
const modern = Block.fromBuffer(readFileSync(join(shared, 'chain/mainnet-modern/block-840002.bin')));
// BIP-34: the coinbase scriptSig starts with a push of the height.
{
  const script = Buffer.from(modern.transactions![0].ins[0].script);
  const n = script[0];
  const h = script.subarray(1, 1 + n).readUIntLE(0, n);
  if (h !== 840002) throw new Error(`block-840002.bin coinbase says height ${h}`);
}
const big = Transaction.fromHex(
  readFileSync(join(shared, 'chain/big-tx/tx-69420-outputs.hex'), 'utf8').trim(),
);
if (big.outs.length !== 69420) throw new Error('big tx output count');

// ---- the bit tables, as strings --------------------------------------------------------------

function bits(v: number | bigint, n: number): string {
  const s = BigInt(v).toString(2);
  if (s.length > n) throw new Error(`${v} does not fit ${n} bits`);
  return s.padStart(n, '0');
}
function u64(b: string): bigint {
  if (b.length !== 64) throw new Error(`layout is ${b.length} bits`);
  return BigInt(`0b${b}`);
}
// Ordinary on-chain: 0 | height 23 | checksum 8 | position 16 | out 1 | index+1 15
function onchain(height: number, cs: number, pos: number, out: 0 | 1, idx1: number): bigint {
  return u64('0' + bits(height, 23) + bits(cs, 8) + bits(pos, 16) + bits(out, 1) + bits(idx1, 15));
}
// Extended on-chain output: 0 | height 23 | checksum 8 | 1 | position 14 | index-32767 17
function onchainExt(height: number, cs: number, pos: number, index: number): bigint {
  return u64('0' + bits(height, 23) + bits(cs, 8) + '1' + bits(pos, 14) + bits(index - 32767, 17));
}
// Ordinary off-chain: 1 | txid top 47 | out 1 | index+1 15
function txidBits(txid: string, n: number): string {
  return BigInt(`0x${txid}`).toString(2).padStart(256, '0').slice(0, n);
}
function offchain(txid: string, out: 0 | 1, idx1: number): bigint {
  return u64('1' + txidBits(txid, 47) + bits(out, 1) + bits(idx1, 15));
}
// Extended off-chain output: 1 | txid top 30 | index-32767 17 | 1 | 0 x15
function offchainExt(txid: string, index: number): bigint {
  return u64('1' + txidBits(txid, 30) + bits(index - 32767, 17) + '1' + '0'.repeat(15));
}

function checksumOf(hashHex: string): number {
  let x = 0;
  for (let i = 0; i < 64; i += 2) x ^= Number.parseInt(hashHex.slice(i, i + 2), 16);
  return x;
}
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const prefix47 = (txid: string) => Number(BigInt(`0x${txid.slice(0, 12)}`) >> 1n);
const prefix30 = (txid: string) => Number(BigInt(`0x${txid.slice(0, 8)}`) >> 2n) * 2 ** 17;

// ---- vectors ---------------------------------------------------------------------------------

interface Vector {
  name: string;
  source: string;
  id: string;
  hex: string;
  text: string;
  item: Record<string, string | number>;
  context?: Record<string, string | number>;
}
const vectors: Vector[] = [];
function push(
  name: string,
  source: string,
  id: bigint,
  item: Record<string, string | number>,
  text: string,
  context?: Record<string, string | number>,
): void {
  vectors.push({
    name,
    source,
    id: id.toString(),
    hex: `0x${id.toString(16).padStart(16, '0')}`,
    text,
    item,
    context,
  });
}

function onchainVectors(
  name: string,
  source: string,
  height: number,
  blk: Block,
  pos: number,
  what: string[],
): void {
  const hash = blk.getId();
  const cs = checksumOf(hash);
  const tx = blk.transactions![pos];
  const ctx = { blockHash: hash, txid: tx.getId(), inputs: tx.ins.length, outputs: tx.outs.length };
  const base = `${height}:${hex2(cs)}`;
  for (const w of what) {
    if (w === 'block')
      push(
        `${name} block`,
        source,
        onchain(height, cs, 0, 0, 0),
        { kind: 'block', height, checksum: cs },
        base,
        { blockHash: hash },
      );
    else if (w === 'tx') {
      const id = onchain(height, cs, pos, 0, 0);
      if (pos === 0)
        push(
          `${name} coinbase tx (= block id)`,
          source,
          id,
          { kind: 'block', height, checksum: cs },
          base,
          ctx,
        );
      else
        push(
          `${name} tx ${pos}`,
          source,
          id,
          { kind: 'tx', height, checksum: cs, position: pos },
          `${base}:${pos}`,
          ctx,
        );
    } else {
      const index = Number(w.slice(1));
      if (w[0] === 'i') {
        if (index >= tx.ins.length) throw new Error(`${name}: no input ${index}`);
        const inp = tx.ins[index];
        const prev = Buffer.from(inp.hash).reverse().toString('hex');
        push(
          `${name} tx ${pos} input ${index}`,
          source,
          onchain(height, cs, pos, 0, index + 1),
          { kind: 'input', height, checksum: cs, position: pos, index },
          `${base}:${pos}:i${index}`,
          { ...ctx, spends: `${prev}:${inp.index}` },
        );
      } else {
        if (index >= tx.outs.length) throw new Error(`${name}: no output ${index}`);
        push(
          `${name} tx ${pos} output ${index}`,
          source,
          onchain(height, cs, pos, 1, index + 1),
          { kind: 'output', height, checksum: cs, position: pos, index },
          `${base}:${pos}:o${index}`,
          { ...ctx, value: Number(tx.outs[index].value) },
        );
      }
    }
  }
}

const SRC_BLK = 'shared/chain/mainnet-0-599/blk00000.dat';
const SRC_MOD = 'shared/chain/mainnet-modern/block-840002.bin';
const SRC_BIG = 'shared/chain/big-tx/tx-69420-outputs.hex';

onchainVectors('genesis', SRC_BLK, 0, blocks[0], 0, ['block', 'tx', 'i0', 'o0']);
onchainVectors('block 9', SRC_BLK, 9, blocks[9], 0, ['block', 'o0']);
// Block 170 tx 1 is the first person-to-person payment: it spends block 9's coinbase output 0.
const spend = blocks[170].transactions![1];
if (
  Buffer.from(spend.ins[0].hash).reverse().toString('hex') !== blocks[9].transactions![0].getId() ||
  spend.ins[0].index !== 0
) {
  throw new Error('block 170 tx 1 does not spend block 9 coinbase output 0');
}
onchainVectors('block 170', SRC_BLK, 170, blocks[170], 1, ['block', 'tx', 'i0', 'o0', 'o1']);
onchainVectors('block 840002', SRC_MOD, 840002, modern, 0, ['block', 'tx', 'i0', 'o0', 'o1']);
onchainVectors('block 840002', SRC_MOD, 840002, modern, 1, ['tx', 'i0', 'i2', 'o0', 'o3']);
const last = modern.transactions!.length - 1;
onchainVectors('block 840002', SRC_MOD, 840002, modern, last, ['tx', 'i0', 'o0']);
// The tx with the most outputs in 840002, for a multi-output case from a modern block.
let most = 1;
modern.transactions!.forEach((t, i) => {
  if (i > 0 && t.outs.length > modern.transactions![most].outs.length) most = i;
});
const mostOuts = modern.transactions![most].outs.length;
onchainVectors('block 840002', SRC_MOD, 840002, modern, most, ['tx', `o${mostOuts - 1}`]);

// Off-chain ids of real txids.
function offVectors(name: string, source: string, txid: string, what: string[]): void {
  for (const w of what) {
    if (w === 'tx') {
      push(
        `${name} off-chain tx`,
        source,
        offchain(txid, 0, 0),
        { kind: 'offchain-tx', txidPrefix: prefix47(txid) },
        `off:${txid.slice(0, 12).replace(/.$/, (c) => (Number.parseInt(c, 16) & 14).toString(16))}`,
        { txid },
      );
      continue;
    }
    const index = Number(w.slice(1));
    const p12 = (BigInt(prefix47(txid)) * 2n).toString(16).padStart(12, '0');
    if (w[0] === 'i') {
      push(
        `${name} off-chain input ${index}`,
        source,
        offchain(txid, 0, index + 1),
        { kind: 'offchain-input', txidPrefix: prefix47(txid), index },
        `off:${p12}:i${index}`,
        { txid },
      );
    } else if (index < 32767) {
      push(
        `${name} off-chain output ${index}`,
        source,
        offchain(txid, 1, index + 1),
        { kind: 'offchain-output', txidPrefix: prefix47(txid), index },
        `off:${p12}:o${index}`,
        { txid },
      );
    } else {
      const p8 = (BigInt(prefix30(txid) / 2 ** 17) * 4n).toString(16).padStart(8, '0');
      push(
        `${name} off-chain output ${index} (extended)`,
        source,
        offchainExt(txid, index),
        { kind: 'offchain-output', txidPrefix: prefix30(txid), index },
        `off:${p8}:o${index}`,
        { txid },
      );
    }
  }
}
offVectors('block 170 tx 1', SRC_BLK, spend.getId(), ['tx', 'i0', 'o0', 'o1']);
offVectors('block 840002 tx 1', SRC_MOD, modern.transactions![1].getId(), ['tx', 'i2', 'o3']);

// Overflow: tx a536e7f6... (69,420 outputs). Its block is not in shared/ (bitcoin-s, where the file
// comes from, links it on testnet), so the on-chain placement is synthetic; off-chain ids are real.
const bigId = big.getId();
offVectors('tx a536e7f6', SRC_BIG, bigId, [
  'tx',
  'i0',
  'o0',
  'o32765',
  'o32766',
  'o32767',
  'o32768',
  'o65535',
  'o69419',
]);
const SYN = 'synthetic placement';
const synH = 840002;
const synCs = checksumOf(modern.getId());
const synPos = 1234;
for (const index of [32765, 32766, 32767, 32768, 65535, 69419]) {
  const ext = index >= 32767;
  push(
    `tx a536e7f6 output ${index}${ext ? ' (extended)' : ''}, placed at ${synH}:${hex2(synCs)}:${synPos}`,
    SYN,
    ext ? onchainExt(synH, synCs, synPos, index) : onchain(synH, synCs, synPos, 1, index + 1),
    { kind: 'output', height: synH, checksum: synCs, position: synPos, index },
    `${synH}:${hex2(synCs)}:${synPos}:o${index}`,
    { txid: bigId, outputs: big.outs.length },
  );
}

// Boundaries of each layout (synthetic).
const B = 'boundary';
const bnd = (name: string, id: bigint, item: Record<string, string | number>, text: string) =>
  push(name, B, id, item, text);
bnd(
  'smallest id: block 0 checksum 0',
  onchain(0, 0, 0, 0, 0),
  { kind: 'block', height: 0, checksum: 0 },
  '0:00',
);
bnd(
  'highest height and checksum',
  onchain(8388607, 255, 0, 0, 0),
  { kind: 'block', height: 8388607, checksum: 255 },
  '8388607:ff',
);
bnd(
  'highest ordinary position',
  onchain(1, 2, 32767, 0, 0),
  { kind: 'tx', height: 1, checksum: 2, position: 32767 },
  '1:02:32767',
);
bnd(
  'highest ordinary input',
  onchain(1, 2, 3, 0, 32767),
  { kind: 'input', height: 1, checksum: 2, position: 3, index: 32766 },
  '1:02:3:i32766',
);
bnd(
  'highest ordinary output',
  onchain(1, 2, 3, 1, 32767),
  { kind: 'output', height: 1, checksum: 2, position: 3, index: 32766 },
  '1:02:3:o32766',
);
bnd(
  'first extended output',
  onchainExt(1, 2, 3, 32767),
  { kind: 'output', height: 1, checksum: 2, position: 3, index: 32767 },
  '1:02:3:o32767',
);
bnd(
  'highest extended output and position',
  onchainExt(8388607, 255, 16383, 163838),
  { kind: 'output', height: 8388607, checksum: 255, position: 16383, index: 163838 },
  '8388607:ff:16383:o163838',
);
bnd(
  'highest on-chain id (an extended output)',
  u64(`0${'1'.repeat(63)}`),
  { kind: 'output', height: 8388607, checksum: 255, position: 16383, index: 163838 },
  '8388607:ff:16383:o163838',
);
bnd(
  'smallest off-chain id',
  u64(`1${'0'.repeat(63)}`),
  { kind: 'offchain-tx', txidPrefix: 0 },
  'off:000000000000',
);
bnd(
  'highest off-chain ordinary output',
  u64(`1${'1'.repeat(47)}1${'1'.repeat(15)}`),
  { kind: 'offchain-output', txidPrefix: 2 ** 47 - 1, index: 32766 },
  'off:fffffffffffe:o32766',
);
bnd(
  'highest extended off-chain output',
  u64(`1${'1'.repeat(47)}1${'0'.repeat(15)}`),
  { kind: 'offchain-output', txidPrefix: (2 ** 30 - 1) * 2 ** 17, index: 163838 },
  'off:fffffffc:o163838',
);

// The one unassigned bit pattern per (height, checksum, position): out flag set, index+1 = 0.
const invalidIds = [
  { id: onchain(0, 0, 0, 1, 0).toString(), why: 'on-chain, out flag set, index field 0' },
  { id: onchain(840002, synCs, 1, 1, 0).toString(), why: 'on-chain, out flag set, index field 0' },
  { id: onchain(8388607, 255, 32767, 1, 0).toString(), why: 'on-chain, out flag set, index field 0' },
];

// BOLT-7 short_channel_id.
const scids = [
  { text: '539268x845x1', u64: ((539268n << 40n) | (845n << 16n) | 1n).toString(), source: 'BOLT-7 example' },
  (() => {
    const cs = checksumOf(modern.getId());
    return {
      text: '840002x1x0',
      u64: ((840002n << 40n) | (1n << 16n)).toString(),
      source: SRC_MOD,
      blockHash: modern.getId(),
      shortId: onchain(840002, cs, 1, 1, 1).toString(),
    };
  })(),
  (() => {
    const cs = checksumOf(blocks[170].getId());
    return {
      text: '170x1x1',
      u64: ((170n << 40n) | (1n << 16n) | 1n).toString(),
      source: SRC_BLK,
      blockHash: blocks[170].getId(),
      shortId: onchain(170, cs, 1, 1, 2).toString(),
    };
  })(),
];

// Headers, so tests can recompute block hashes and checksums from bytes.
const headers: Record<string, string> = {
  '0': raws[0].subarray(0, 80).toString('hex'),
  '9': raws[9].subarray(0, 80).toString('hex'),
  '170': raws[170].subarray(0, 80).toString('hex'),
  '840002': readFileSync(join(shared, 'chain/mainnet-modern/block-840002.bin'))
    .subarray(0, 80)
    .toString('hex'),
};

const fixture = {
  about: 'LNPBP-5 short id vectors; generated by scripts/gen-shortid-vectors.ts; layout in docs/lnpbp-5.md',
  headers,
  vectors,
  invalidIds,
  scids,
};
const out = join(root, 'test/fixtures/shortid/vectors.json');
writeFileSync(out, `${JSON.stringify(fixture, null, 1)}\n`);
console.error(`wrote ${vectors.length} vectors to ${out}`);

if (process.argv.includes('--markdown')) {
  const rows = vectors.map((v) => `| ${v.name} | \`${v.text}\` | \`${v.hex}\` | ${v.id} |`);
  console.log(['| Item | Text | Hex | Decimal |', '|---|---|---|---|', ...rows].join('\n'));
  console.log();
  for (const v of vectors) if (v.context) console.log(`- ${v.name}: ${JSON.stringify(v.context)}`);
  console.log();
  for (const s of scids) console.log(`- scid ${JSON.stringify(s)}`);
  console.log();
  for (const s of invalidIds) console.log(`- invalid ${JSON.stringify(s)}`);
}
