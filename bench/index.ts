/**
 * Index benchmark: bpd's connectBlock (verify, block file append, one LMDB write transaction per
 * block, every table) over real mainnet blocks, into a fresh temp datadir per run.
 *
 *   node --import tsx bench/index.ts [--rounds N] [--durability full|os|both] [--only genesis|modern]
 *
 * Chains: mainnet 0-599 from the blk files (an index from genesis), and 840002-840007 (an index
 * started at 840002, so most inputs spend outputs it does not hold and become `extspends` rows).
 * Reads /work/shared/chain when present, else test/fixtures/chain. Prints per run: block MB/s
 * (block bytes / wall time of the connect loop) and CPU MB/s, blocks/s, items/s; then sizes from
 * a compacting LMDB copy (free pages not counted): index bytes (all tables but the UTXO set),
 * index bytes per block byte, bytes per item (each tx, non-coinbase input and output counts
 * one), the UTXO set and blocks.dat separately; and the peak RSS.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlkRecords } from '../packages/bitcoin/src/block/blkfile.ts';
import { parseBlock } from '../packages/bitcoin/src/block/parse.ts';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { modernBlock, readFixture } from '../test/support/fixtures.ts';

const SHARED = '/work/shared/chain';
const MODERN = [840002, 840003, 840004, 840005, 840006, 840007];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const rounds = Number(arg('--rounds') ?? 3);
const durabilityArg = arg('--durability') ?? 'both';
const durabilities: ('full' | 'os')[] =
  durabilityArg === 'both' ? ['full', 'os'] : [durabilityArg as 'full' | 'os'];
const only = arg('--only');

interface Chain {
  name: string;
  blocks: { height: number; raw: Uint8Array }[];
  bytes: number;
  txs: number;
  inputs: number;
  outputs: number;
  source: string;
}

function describeChain(name: string, blocks: { height: number; raw: Uint8Array }[], source: string): Chain {
  let txs = 0;
  let inputs = 0;
  let outputs = 0;
  let bytes = 0;
  for (const b of blocks) {
    const blk = parseBlock(b.raw);
    bytes += b.raw.length;
    txs += blk.txs.length;
    blk.txs.forEach((tx, i) => {
      if (i > 0) inputs += tx.inputs.length;
      outputs += tx.outputs.length;
    });
  }
  return { name, blocks, bytes, txs, inputs, outputs, source };
}

function genesisChain(): Chain {
  const files = ['blk00000.dat', 'blk00001.dat'];
  const shared = files.map((f) => join(SHARED, 'mainnet-0-599', f));
  const useShared = shared.every((f) => existsSync(f));
  const raws: Uint8Array[] = [];
  for (let i = 0; i < files.length; i++) {
    const bytes = useShared ? new Uint8Array(readFileSync(shared[i])) : readFixture(`chain/${files[i]}`);
    for (const r of readBlkRecords(bytes, 'mainnet')) raws.push(r.raw);
  }
  return describeChain(
    'mainnet 0-599 (from genesis)',
    raws.map((raw, height) => ({ height, raw })),
    useShared ? `${SHARED}/mainnet-0-599` : 'test/fixtures/chain',
  );
}

function modernChain(): Chain {
  const shared = MODERN.map((h) => join(SHARED, 'mainnet-modern', `block-${h}.bin`));
  const useShared = shared.every((f) => existsSync(f));
  const blocks = MODERN.map((height, i) => ({
    height,
    raw: useShared ? new Uint8Array(readFileSync(shared[i])) : modernBlock(height),
  }));
  return describeChain(
    'mainnet 840002-840007 (base 840002)',
    blocks,
    useShared ? `${SHARED}/mainnet-modern` : 'test/fixtures/chain',
  );
}

interface RunResult {
  secs: number;
  cpuSecs: number;
  tables: Record<string, number>;
  compacted: number;
  /** After Index.compact(): its wall time, the compacting copy's size, the packed tables' bytes. */
  compactSecs: number;
  afterCompact: number;
  tablesAfter: Record<string, number>;
  blocksDat: number;
}

function tableBytes(ix: ReturnType<typeof openIndex>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, t] of Object.entries(ix.stats().tables)) out[name] = t.bytes;
  return out;
}

async function compactedCopy(ix: ReturnType<typeof openIndex>, dir: string, name: string): Promise<number> {
  const copy = join(dir, name);
  mkdirSync(copy);
  await (ix.store.env as unknown as { backup(path: string, compact: boolean): Promise<void> }).backup(
    copy,
    true,
  );
  return statSync(join(copy, 'data.mdb')).size;
}

async function runOnce(chain: Chain, durability: 'full' | 'os'): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-index-'));
  try {
    const ix = openIndex(dir, 'mainnet', { durability });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (const b of chain.blocks) ix.connectBlock(b.raw, b.height);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const tables = tableBytes(ix);
    const compacted = await compactedCopy(ix, dir, 'copy-before');
    const c0 = performance.now();
    ix.compact();
    const compactSecs = (performance.now() - c0) / 1000;
    const tablesAfter = tableBytes(ix);
    const afterCompact = await compactedCopy(ix, dir, 'copy-after');
    const blocksDat = statSync(join(dir, 'index', 'blocks.dat')).size;
    await ix.close();
    return {
      secs,
      cpuSecs: (cpu.user + cpu.system) / 1e6,
      tables,
      compacted,
      compactSecs,
      afterCompact,
      tablesAfter,
      blocksDat,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmtTables = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

const chains: Chain[] = [];
if (only !== 'modern') chains.push(genesisChain());
if (only !== 'genesis') chains.push(modernChain());

console.log(`index bench: ${rounds} rounds, durability ${durabilities.join('/')}, node ${process.version}`);
for (const chain of chains) {
  const items = chain.txs + chain.inputs + chain.outputs;
  console.log(
    `\n${chain.name}: ${chain.blocks.length} blocks, ${f2(chain.bytes / 1e6)} MB, ${chain.txs} txs, ${chain.inputs} inputs, ${chain.outputs} outputs = ${items} items (${chain.source})`,
  );
  let last: RunResult | null = null;
  for (const d of durabilities) {
    const runs: RunResult[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await runOnce(chain, d));
    const secs = median(runs.map((r) => r.secs));
    const best = Math.min(...runs.map((r) => r.secs));
    const cpu = median(runs.map((r) => r.cpuSecs));
    console.log(
      `  durability ${d.padEnd(4)}: ${f2(chain.bytes / 1e6 / secs)} MB/s median (best ${f2(chain.bytes / 1e6 / best)}), ${f2(chain.bytes / 1e6 / cpu)} MB/s per CPU second, ${f1(chain.blocks.length / secs)} blocks/s, ${f1(items / secs / 1e3)} k items/s`,
    );
    last = runs[runs.length - 1];
  }
  if (!last) continue;
  const utxo = last.tables.utxos;
  const index = last.compacted - utxo;
  console.log(
    `  sizes (compacted copy ${last.compacted} B): index ${index} B = ${f1(index / items)} B/item, ${f2(index / chain.bytes)} B per block byte; UTXO set ${utxo} B; blocks.dat ${last.blocksDat} B = ${f2(last.blocksDat / chain.bytes)} x block bytes`,
  );
  console.log(`  tables (bytes in pages, uncompacted): ${fmtTables(last.tables)}`);
  const indexAfter = last.afterCompact - last.tablesAfter.utxos;
  console.log(
    `  after Index.compact() (${f2(last.compactSecs)} s): index ${indexAfter} B = ${f1(indexAfter / items)} B/item, ${f2(indexAfter / chain.bytes)} B per block byte`,
  );
  console.log(`  tables after compaction: ${fmtTables(last.tablesAfter)}`);
}
console.log(`\npeak RSS ${f1(process.resourceUsage().maxRSS / 1024)} MB`);
