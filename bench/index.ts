/**
 * Index benchmark: bpd's connectBlock (verify, block file append, one LMDB write transaction per
 * block, every table) over real mainnet blocks, into a fresh temp datadir per run; beside it the
 * batched catch-up path (Index.connectBlocks: several blocks per transaction, rows sorted) with
 * all blocks in one batch and in batches of 2, and the one-batch path with rows unsorted.
 * Variants alternate within each round (same process, same blocks).
 *
 *   node --import tsx bench/index.ts [--rounds N] [--durability full|os|both] [--only genesis|modern]
 *                                    [--modes block,all,2,all-unsorted,<n: batches of n>,pipe,pipe<n>,bcoin]
 *                                    [--min-bytes N: the preparer's minBytes]
 *                                    [--merge-rows N: the run-merge measurement's rows, 0 = skip]
 *
 * Chains: mainnet 0-599 from the blk files (an index from genesis), and 840002-840007 (an index
 * started at 840002, so most inputs spend outputs it does not hold and become `extspends` rows).
 * Reads /work/shared/chain when present, else test/fixtures/chain. Prints per run: block MB/s
 * (block bytes / wall time of the connect loop), per CPU second of the process and of its main
 * thread, blocks/s, items/s; then sizes from a compacting LMDB copy (free pages not counted):
 * index bytes (all tables but the UTXO set), index bytes per block byte, bytes per item (each
 * tx, non-coinbase input and output counts one), the UTXO set and blocks.dat separately; and
 * the peak RSS. `pipe` modes are the two-core catch-up (Index.connectBlocksPrepared: a worker
 * thread prepares blocks ahead of the main thread's resolve/apply/commit; `pipe` one batch,
 * `pipe<n>` batches of n, the worker going on during each commit); for them "process CPU"
 * counts both threads and the worker's busy time is printed beside the main thread's. One
 * preparer serves every run (started and warmed before the rounds, as a catch-up's is after
 * its first block).
 *
 * `bcoin` runs the peer, bcoin 1.0.2's ChainDB (tx and address index on) into a fresh on-disk
 * LevelDB (support/bcoin-index.ts says what it indexes and what not: inputs spending outputs
 * from before the chain get a placeholder coin), alternating with our modes; its line gives our
 * first mode's ratio to it, then its LevelDB sizes per key prefix. Before the rounds, its tx
 * index and ours are checked against every tx's height and position in the blocks.
 *
 * Then the cost of merging sorted runs (runs.ts): FAN_IN runs of random 16-byte rows (history
 * rows' width; `--merge-rows` in all, default 400,000) written into a fresh datadir, merged by
 * `mergeRuns` in one transaction (sequential reads, MDB_APPEND, the inputs deleted), per row;
 * beside it the same rows as random level-0 puts (what a row cost before runs), per row.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlkRecords } from '../packages/bitcoin/src/block/blkfile.ts';
import { parseBlock } from '../packages/bitcoin/src/block/parse.ts';
import { BlockPreparer, openIndex } from '../packages/bp-node/src/index/index.ts';
import { ChunkWriter, runKey } from '../packages/bp-node/src/index/packed.ts';
import { RowBuffer } from '../packages/bp-node/src/index/rowsort.ts';
import { FAN_IN, mergeRuns, runStats } from '../packages/bp-node/src/index/runs.ts';
import { modernBlock, readFixture } from '../test/support/fixtures.ts';
import { type BcoinRun, checkBcoinAgainstOurs, runBcoin } from './support/bcoin-index.ts';

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

/** How blocks are connected: one transaction each, or batches of `size` (0 = all). */
interface Mode {
  name: string;
  batch: number | null;
  sort: boolean;
  pipelined?: boolean;
  /** The peer library (bcoin), not ours. */
  peer?: boolean;
}
const MODES: Record<string, Mode> = {
  block: { name: 'per block', batch: null, sort: true },
  all: { name: 'one batch', batch: 0, sort: true },
  '2': { name: 'batches of 2', batch: 2, sort: true },
  'all-unsorted': { name: 'one batch, rows unsorted', batch: 0, sort: false },
  bcoin: { name: 'bcoin 1.0.2 ChainDB', batch: null, sort: false, peer: true },
};
const modes = (arg('--modes') ?? 'block,all,2,all-unsorted').split(',').map((m) => {
  const n = Number(m);
  const p = m.startsWith('pipe') ? m.slice(4) : null;
  const pn = p === '' ? 0 : Number(p);
  const mode =
    MODES[m] ??
    (n > 0 ? { name: `batches of ${n}`, batch: n, sort: true } : undefined) ??
    (p !== null && pn >= 0
      ? {
          name: pn === 0 ? 'pipelined, one batch' : `pipelined, batches of ${pn}`,
          batch: pn,
          sort: true,
          pipelined: true,
        }
      : undefined);
  if (!mode) throw new Error(`unknown mode ${m}`);
  return mode;
});

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

/**
 * CPU seconds of the calling thread (Linux: /proc/thread-self/schedstat), NaN elsewhere. The
 * process CPU time also counts V8's GC helper threads, which on a loaded VM wait for a core.
 */
function threadCpuSecs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

interface RunResult {
  secs: number;
  cpuSecs: number;
  /** Main-thread CPU seconds of the connect loop. */
  mainSecs: number;
  /** The preparing worker's busy seconds during it (pipelined modes). */
  workerSecs: number;
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

async function runOnce(chain: Chain, durability: 'full' | 'os', mode: Mode): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-index-'));
  try {
    const ix = openIndex(dir, 'mainnet', { durability });
    const cpu0 = process.cpuUsage();
    const main0 = threadCpuSecs();
    const w0 = preparer.workerBusyMs();
    const t0 = performance.now();
    if (mode.pipelined) {
      await ix.connectBlocksPrepared(chain.blocks, preparer, {
        batchBlocks: mode.batch === 0 ? chain.blocks.length : mode.batch!,
      });
    } else if (mode.batch === null) {
      for (const b of chain.blocks) ix.connectBlock(b.raw, b.height);
    } else {
      const size = mode.batch === 0 ? chain.blocks.length : mode.batch;
      for (let i = 0; i < chain.blocks.length; i += size) {
        ix.connectBlocks(chain.blocks.slice(i, i + size), { sortRows: mode.sort });
      }
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const mainSecs = threadCpuSecs() - main0;
    const workerSecs = (preparer.workerBusyMs() - w0) / 1000;
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
      mainSecs,
      workerSecs,
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

/** bcoin's LevelDB after its last run, split as ours is: index, UTXO set, blocks and undo. */
function printPeerSizes(chain: Chain, run: BcoinRun): void {
  const items = chain.txs + chain.inputs + chain.outputs;
  const r = run.sizes!;
  if (run.inputs !== chain.inputs) throw new Error(`bcoin spent ${run.inputs} inputs of ${chain.inputs}`);
  const bytes = (name: string) => r.prefixes[name]?.bytes ?? 0;
  const total = Object.values(r.prefixes).reduce((a, p) => a + p.bytes, 0);
  const index = total - bytes('coins') - bytes('blocks') - bytes('undo');
  console.log(
    `  bcoin inputs: ${run.inputs - run.placeholderInputs} spend coins of the run (indexed in full), ${run.placeholderInputs} spend older outputs (placeholder coin: no address, undo entry without the coin)`,
  );
  console.log(
    `  bcoin sizes (LevelDB, logical key + value bytes; on disk after compactRange, snappy: ${r.diskBytes} B): index ${index} B = ${f1(index / items)} B/item, ${f2(index / chain.bytes)} B per block byte, of which tx copies in the tx index ${r.txCopyBytes} B (without them ${f1((index - r.txCopyBytes) / items)} B/item); coins ${bytes('coins')} B; blocks ${bytes('blocks')} B; undo ${bytes('undo')} B; compactRange ${f2(r.compactSecs)} s`,
  );
  console.log(
    `  bcoin key prefixes: ${Object.entries(r.prefixes)
      .map(([k, p]) => `${k} ${p.keys} keys ${p.bytes} B`)
      .join(', ')}`,
  );
}

const fmtTables = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

const minBytes = arg('--min-bytes');
const preparer = new BlockPreparer(minBytes === undefined ? {} : { minBytes: Number(minBytes) });
const chains: Chain[] = [];
if (only !== 'modern') chains.push(genesisChain());
if (only !== 'genesis') chains.push(modernChain());

console.log(
  `index bench: ${rounds} rounds, durability ${durabilities.join('/')}, modes ${modes.map((m) => m.name).join(' / ')}, node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const chain of chains) {
  const items = chain.txs + chain.inputs + chain.outputs;
  console.log(
    `\n${chain.name}: ${chain.blocks.length} blocks, ${f2(chain.bytes / 1e6)} MB, ${chain.txs} txs, ${chain.inputs} inputs, ${chain.outputs} outputs = ${items} items (${chain.source})`,
  );
  let last: RunResult | null = null;
  let lastPeer: BcoinRun | null = null;
  if (modes.some((m) => m.peer)) {
    const { txs } = await checkBcoinAgainstOurs(chain.blocks);
    console.log(
      `  bcoin's tx index and ours place all ${txs} txs at their block height and position (bcoin does not index the genesis tx)`,
    );
  }
  const ours = modes.find((m) => !m.peer);
  for (const d of durabilities) {
    const runs = new Map<Mode, RunResult[]>(modes.map((m) => [m, []]));
    const peerRuns: BcoinRun[] = [];
    // Starts the worker and loads its modules outside the timed runs.
    const pipe = modes.find((m) => m.pipelined);
    if (pipe) await runOnce(chain, d, pipe);
    for (let r = 0; r < rounds; r++) {
      for (const m of modes) {
        if (m.peer)
          peerRuns.push(await runBcoin(chain.blocks, { sync: d === 'full', sizes: r === rounds - 1 }));
        else runs.get(m)!.push(await runOnce(chain, d, m));
      }
    }
    // Our first mode is the base of the ratios, wherever bcoin stands in --modes.
    const base = { wall: 0, cpu: 0 };
    if (ours) {
      const rs = runs.get(ours)!;
      base.wall = chain.bytes / 1e6 / median(rs.map((r) => r.secs));
      base.cpu = chain.bytes / 1e6 / median(rs.map((r) => r.cpuSecs));
    }
    for (const m of modes) {
      const rs: Pick<RunResult, 'secs' | 'cpuSecs' | 'mainSecs' | 'workerSecs'>[] = m.peer
        ? peerRuns
        : runs.get(m)!;
      const secs = median(rs.map((r) => r.secs));
      const best = Math.min(...rs.map((r) => r.secs));
      const cpu = median(rs.map((r) => r.cpuSecs));
      const wall = chain.bytes / 1e6 / secs;
      const perCpu = chain.bytes / 1e6 / cpu;
      const perMain = chain.bytes / 1e6 / median(rs.map((r) => r.mainSecs));
      const worker = m.pipelined ? `, worker busy ${f2(median(rs.map((r) => r.workerSecs)))} s` : '';
      const ratio =
        m === ours || !ours
          ? ''
          : m.peer
            ? `; ${ours.name} x${f2(base.wall / wall)} wall, x${f2(base.cpu / perCpu)} per CPU s vs bcoin`
            : `; x${f2(wall / base.wall)} wall, x${f2(perCpu / base.cpu)} per CPU s vs ${ours.name}`;
      console.log(
        `  durability ${d.padEnd(4)} ${m.name.padEnd(24)}: ${f2(wall)} MB/s median (best ${f2(chain.bytes / 1e6 / best)}), ${f2(perCpu)} MB/s per CPU second (${f2(perMain)} main thread${worker}), ${f1(chain.blocks.length / secs)} blocks/s, ${f1(items / secs / 1e3)} k items/s${ratio}`,
      );
    }
    if (ours) last = runs.get(ours)!.at(-1)!;
    lastPeer = peerRuns.at(-1) ?? null;
  }
  if (lastPeer) printPeerSizes(chain, lastPeer);
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
await preparer.close();

/**
 * Merge cost: FAN_IN runs of `n / FAN_IN` random rows each, merged into one; against random
 * level-0 puts of the same rows. Median of 3-7 rounds, fresh datadir each.
 */
async function mergeCost(n: number): Promise<void> {
  const per = Math.floor(n / FAN_IN);
  const merge: { wall: number; cpu: number }[] = [];
  const puts: { wall: number; cpu: number }[] = [];
  for (let r = 0; r < Math.max(3, Math.min(rounds, 7)); r++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-merge-'));
    try {
      const ix = openIndex(dir, 'mainnet', { durability: 'os' });
      const s = ix.store;
      const t = s.history;
      const row = new Uint8Array(t.width);
      const bufs: RowBuffer[] = [];
      // FAN_IN runs, written as the policy would (tier 0) but listed without merging.
      s.env.transactionSync(() => {
        const live = [];
        for (let k = 0; k < FAN_IN; k++) {
          const b = new RowBuffer(t.width, per);
          for (let i = 0; i < per; i++) {
            const at = b.push();
            for (let j = 0; j < t.width; j++) b.buf[at + j] = (Math.random() * 256) | 0;
          }
          bufs.push(b);
          const w = new ChunkWriter(t.runsDb, t.width, runKey(k));
          const order = b.sortedOrder();
          for (let i = 0; i < order.length; i++) {
            b.copyRow(order[i], row);
            w.add(row);
          }
          w.finish();
          live.push({ run: k, tier: 0, rows: w.count });
        }
        s.setRuns(t, live);
      });
      const live = [...t.liveRuns()];
      const c0 = threadCpuSecs();
      const t0 = performance.now();
      let merged = 0;
      s.env.transactionSync(() => {
        const m = mergeRuns(t, live, FAN_IN);
        s.setRuns(t, [m]);
        merged = m.rows;
      });
      merge.push({ wall: (performance.now() - t0) / 1e3 / merged, cpu: (threadCpuSecs() - c0) / merged });
      // The same rows as level-0 puts, each run's rows sorted (as a batch put them), a
      // transaction per run.
      const c1 = threadCpuSecs();
      const t1 = performance.now();
      for (const b of bufs) {
        const order = b.sortedOrder();
        s.env.transactionSync(() => {
          for (let i = 0; i < order.length; i++) {
            b.copyRow(order[i], row);
            s.spends.put(row);
          }
        });
      }
      const all = per * FAN_IN;
      puts.push({ wall: (performance.now() - t1) / 1e3 / all, cpu: (threadCpuSecs() - c1) / all });
      await ix.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const us = (xs: { wall: number; cpu: number }[], k: 'wall' | 'cpu') =>
    f2(median(xs.map((x) => x[k])) * 1e6);
  console.log(
    `\nrun merge (${FAN_IN} runs of ${per} random 16-byte rows into one, ${merge.length} rounds, medians): ${us(merge, 'wall')} us/row wall, ${us(merge, 'cpu')} us/row main-thread CPU; the same rows as sorted level-0 puts: ${us(puts, 'wall')} us/row wall, ${us(puts, 'cpu')} us/row CPU; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

if (runStats.merges > 0) {
  console.log(
    `\nruns merged by the merge policy during the runs above: ${runStats.merges} merges, ${runStats.mergedRows} rows, ${f1(runStats.mergeMs)} ms`,
  );
}
const mergeRows = Number(arg('--merge-rows') ?? 400_000);
if (mergeRows > 0) await mergeCost(mergeRows);
console.log(`\npeak RSS ${f1(process.resourceUsage().maxRSS / 1024)} MB`);
