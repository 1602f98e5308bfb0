/**
 * The peer beside bench/index.ts: bcoin 1.0.2's ChainDB indexing the same blocks into a real
 * on-disk LevelDB (leveldown 6.1.1, snappy on, bcoin's defaults otherwise), network main,
 * `indexTX` and `indexAddress` on. What it does per block is what bcoin's Chain does after
 * script checks, without them (bpd checks no scripts either):
 *
 *   Block.fromRaw -> CoinView.spendInputs per tx (coins read from the view or the LevelDB,
 *   4 at a time, each marked spent and pushed to the undo list) + addTX -> ChainEntry.fromBlock
 *   -> ChainDB.save(entry, block, view): one LevelDB batch per block holding the entry, the
 *   raw block (`b`), the coins created and deleted (`c`), the undo coins (`u`), the tx index
 *   (`t`: txid -> the tx again + block hash, height, time, position) and the address index
 *   (`T`: address hash | txid; `C`: address hash | outpoint, per unspent output).
 *
 * An input whose coin is neither in the run nor in the DB (840002-840007: the index starts
 * there, so most inputs spend older outputs) makes bcoin's own path fail:
 * `spendInputs` returns false (Chain throws bad-txns-inputs-missingorspent) and
 * `ChainDB.indexTX` asserts the coin. So the coin reader given to `spendInputs` answers such a
 * prevout with a placeholder coin (value 0, empty script, no height): bcoin then deletes the
 * coin key (a tombstone, as for any spend), writes an undo entry of ~7 bytes instead of the
 * real coin, finds no address for the input (no `C` delete, no `T` row for the spender's
 * side), and subtracts 0 from its chain value. bpd writes an `extspends` row for such an
 * input and a one-byte undo entry. Everything bcoin does for outputs and for inputs spending
 * coins of the run is real.
 *
 * Durability: bcoin writes each batch with LevelDB's sync=false (the WAL is written to the OS,
 * not fsynced), what `--durability os` does for bpd. For `full` the driver makes every batch
 * write sync=true (fsync of the WAL per block), bcoin's code otherwise untouched.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlock } from '../../packages/bitcoin/src/block/parse.ts';
import { openIndex } from '../../packages/bp-node/src/index/index.ts';

// bcoin is CommonJS without types: the few shapes used here are declared below.
const require = createRequire(import.meta.url);
const bcoin = require('bcoin') as {
  Chain: new (opts: Record<string, unknown>) => { db: ChainDB };
  Block: { fromRaw(raw: Buffer): BcoinBlock };
  ChainEntry: { new (): ChainEntryT; fromBlock(block: BcoinBlock, prev: ChainEntryT): ChainEntryT };
  CoinView: new () => CoinViewT;
  CoinEntry: new () => unknown;
};
const BN = require('bn.js') as new (n: number) => unknown;

interface Prevout {
  hash: string;
  index: number;
}
interface BcoinTx {
  inputs: { prevout: Prevout }[];
  outputs: unknown[];
  hash(enc: 'hex'): string;
}
interface BcoinBlock {
  txs: BcoinTx[];
  prevBlock: string;
  hash(enc: 'hex'): string;
}
interface ChainEntryT {
  hash: string;
  height: number;
  chainwork: unknown;
}
interface CoinViewT {
  spendInputs(db: { readCoin(p: Prevout): Promise<unknown> }, tx: BcoinTx): Promise<boolean>;
  addTX(tx: BcoinTx, height: number): void;
}
interface Batch {
  write(options: unknown, cb?: (err?: Error) => void): void;
}
interface Level {
  batch(): Batch;
  iterator(opts: Record<string, unknown>): {
    next(cb: (err: Error | undefined, key?: Buffer, value?: Buffer) => void): void;
    end(cb: (err?: Error) => void): void;
  };
  compactRange(start: Buffer, end: Buffer, cb: (err?: Error) => void): void;
}
interface ChainDB {
  db: { binding: Level };
  open(): Promise<void>;
  close(): Promise<void>;
  readCoin(p: Prevout): Promise<unknown>;
  save(entry: ChainEntryT, block: BcoinBlock, view: CoinViewT): Promise<void>;
  getEntryByHeight(h: number): Promise<ChainEntryT | null>;
  getMeta(hash: string): Promise<{ height: number; index: number; block: string } | null>;
}

export interface PeerBlock {
  height: number;
  raw: Uint8Array;
}

/** bcoin's key prefixes (lib/blockchain/layout.js), named for the output. */
const PREFIXES: Record<string, string> = {
  b: 'blocks',
  c: 'coins',
  u: 'undo',
  t: 'tx index',
  T: 'tx by address',
  C: 'coins by address',
  e: 'entries',
  h: 'hash->height',
  H: 'height->hash',
  n: 'next hash',
  p: 'tips',
};

export interface BcoinRun {
  /** Wall seconds of the connect loop, to the last batch's write callback. */
  secs: number;
  /** Process CPU seconds over it (main thread, libuv's pool doing the writes and reads, LevelDB's compaction thread). */
  cpuSecs: number;
  /** The main thread's CPU seconds over it. */
  mainSecs: number;
  /** No worker thread (bench/index.ts prints this field for its pipelined modes). */
  workerSecs: 0;
  /**
   * Non-coinbase inputs, of which those given a placeholder coin (the rest spend coins of the
   * run: from the LevelDB, or from the block's own view when created earlier in the block).
   */
  inputs: number;
  placeholderInputs: number;
  /** After the loop (not timed), unless `sizes: false`. */
  sizes: BcoinSizes | null;
}

export interface BcoinSizes {
  /** Wall seconds of a full compactRange (memtable to tables, then compaction). */
  compactSecs: number;
  /** `du` of the LevelDB dir after it (snappy-compressed tables), bytes. */
  diskBytes: number;
  /** Logical bytes (key + value) and keys per prefix, before compression. */
  prefixes: Record<string, { keys: number; bytes: number }>;
  /** Of the tx index's bytes, the copies of the txs themselves (the rest: key, block hash, height, time, position). */
  txCopyBytes: number;
}

/** CPU seconds of the calling thread (Linux), NaN elsewhere: as bench/index.ts counts its main thread. */
function threadCpuSecs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return Number.NaN;
  }
}

function threadpoolIdle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function openChainDB(dir: string, sync: boolean): ChainDB {
  const chain = new bcoin.Chain({
    network: 'main',
    prefix: dir,
    memory: false,
    indexTX: true,
    indexAddress: true,
  });
  const db = chain.db;
  if (sync) {
    // bdb's Batch.write passes no options, so leveldown writes with sync=false.
    const binding = db.db.binding;
    const batch = binding.batch.bind(binding);
    binding.batch = () => {
      const b = batch();
      const write = b.write.bind(b);
      b.write = (o: unknown, cb?: (err?: Error) => void) =>
        write({ sync: true }, typeof o === 'function' ? (o as (err?: Error) => void) : cb);
      return b;
    };
  }
  return db;
}

/**
 * Connects `blocks` (consecutive heights) into a fresh ChainDB in a temp dir and measures it.
 * `check` runs after the timed loop, before close, with the open ChainDB; then the sizes are
 * measured unless `sizes` is false.
 */
export async function runBcoin(
  blocks: PeerBlock[],
  opts: { sync: boolean; sizes?: boolean; check?: (db: ChainDB) => Promise<void> },
): Promise<BcoinRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bcoin-'));
  try {
    const db = openChainDB(dir, opts.sync);
    await db.open(); // writes the genesis block (bcoin does this for every new chain)
    let prev: ChainEntryT | null = null;
    if (blocks[0].height === 0) {
      prev = await db.getEntryByHeight(0);
    } else {
      // An index started above genesis: the entry below the first block is made up, with no
      // chainwork (ChainEntry.fromBlock reads its height and chainwork, nothing else).
      const first = bcoin.Block.fromRaw(
        Buffer.from(blocks[0].raw.buffer, blocks[0].raw.byteOffset, blocks[0].raw.length),
      );
      prev = new bcoin.ChainEntry();
      prev.hash = first.prevBlock;
      prev.height = blocks[0].height - 1;
      prev.chainwork = new BN(0);
    }
    let inputs = 0;
    let placeholderInputs = 0;
    // Asked only for coins not in the view already (CoinView.readCoin looks there first).
    const reader = {
      readCoin: async (p: Prevout) => {
        const coin = await db.readCoin(p);
        if (coin) return coin;
        placeholderInputs++;
        return new bcoin.CoinEntry();
      },
    };
    await threadpoolIdle();
    const cpu0 = process.cpuUsage();
    const main0 = threadCpuSecs();
    const t0 = performance.now();
    for (const b of blocks) {
      // Genesis was connected by open(): its 285 bytes are outside the timed loop.
      if (b.height === 0) continue;
      const block = bcoin.Block.fromRaw(Buffer.from(b.raw.buffer, b.raw.byteOffset, b.raw.length));
      const view = new bcoin.CoinView();
      for (let i = 0; i < block.txs.length; i++) {
        const tx = block.txs[i];
        // Coins created earlier in the same block are found in the view (added below).
        if (i > 0) {
          if (!(await view.spendInputs(reader, tx))) {
            throw new Error(`bcoin: double spend in block ${b.height} tx ${i}`);
          }
          inputs += tx.inputs.length;
        }
        view.addTX(tx, b.height);
      }
      const entry: ChainEntryT = bcoin.ChainEntry.fromBlock(block, prev!);
      await db.save(entry, block, view);
      prev = entry;
    }
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const mainSecs = threadCpuSecs() - main0;
    if (opts.check) await opts.check(db);
    const sizes = opts.sizes === false ? null : await measureSizes(db);
    await db.close();
    if (sizes) {
      sizes.diskBytes = Number(
        execFileSync('du', ['-sb', join(dir, 'chain')], { encoding: 'utf8' }).split('\t')[0],
      );
    }
    return {
      secs,
      cpuSecs: (cpu.user + cpu.system) / 1e6,
      mainSecs,
      workerSecs: 0,
      inputs,
      placeholderInputs,
      sizes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per key prefix logical bytes by a full scan, then a full compactRange (disk bytes left to the caller). */
async function measureSizes(db: ChainDB): Promise<BcoinSizes> {
  const prefixes: Record<string, { keys: number; bytes: number }> = {};
  let txCopyBytes = 0;
  // leveldown's own iterator: bdb's passes its null bounds on, which leveldown 6 turns into
  // the key "null" (an empty range).
  const it = db.db.binding.iterator({ keys: true, values: true });
  for (;;) {
    const kv = await new Promise<[Buffer, Buffer] | null>((resolve, reject) =>
      it.next((err, key, value) => (err ? reject(err) : resolve(key === undefined ? null : [key, value!]))),
    );
    if (!kv) break;
    const name = PREFIXES[String.fromCharCode(kv[0][0])] ?? 'other';
    prefixes[name] ??= { keys: 0, bytes: 0 };
    const p = prefixes[name];
    p.keys++;
    p.bytes += kv[0].length + kv[1].length;
    // TXMeta.toRaw: the tx, then mtime u32, 1, block hash, height, time, position (49 bytes).
    if (kv[0][0] === 0x74) txCopyBytes += kv[1].length - 49;
  }
  await new Promise<void>((resolve, reject) => it.end((err) => (err ? reject(err) : resolve())));
  const c0 = performance.now();
  await new Promise<void>((resolve, reject) =>
    db.db.binding.compactRange(Buffer.alloc(1, 0), Buffer.alloc(1, 0xff), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  const compactSecs = (performance.now() - c0) / 1000;
  return { compactSecs, diskBytes: 0, prefixes, txCopyBytes };
}

/**
 * A driver that indexes nothing must not print a figure: connects `blocks` with bpd (one batch)
 * and with bcoin and checks, for every tx of the chain, that bcoin's tx index and ours give the
 * height and position the blocks themselves give. Throws on the first difference.
 */
export async function checkBcoinAgainstOurs(blocks: PeerBlock[]): Promise<{ txs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-bcoin-check-'));
  const ix = openIndex(dir, 'mainnet', { durability: 'os' });
  let txs = 0;
  try {
    ix.connectBlocks(blocks);
    await runBcoin(blocks, {
      sync: false,
      sizes: false,
      check: async (db) => {
        for (const b of blocks) {
          const parsed = parseBlock(b.raw);
          for (let position = 0; position < parsed.txs.length; position++) {
            const txid = parsed.txs[position].txid();
            const ours = ix.txByTxid(txid);
            const theirs = await db.getMeta(Buffer.from(txid).toString('hex'));
            const at = `tx ${Buffer.from(txid).reverse().toString('hex')} (block ${b.height} position ${position})`;
            if (!ours || ours.height !== b.height || ours.position !== position) {
              throw new Error(
                `bpd's index places ${at} at ${ours ? `${ours.height}/${ours.position}` : 'nowhere'}`,
              );
            }
            // BIP-30's duplicate coinbases (91842/91880) are outside both chains. bcoin connects
            // the genesis block without indexing its tx (ChainDB.connectBlock returns early:
            // its coinbase is unspendable); bpd indexes it.
            if (b.height === 0) {
              if (theirs) throw new Error(`bcoin's tx index holds the genesis tx`);
              continue;
            }
            if (!theirs || theirs.height !== b.height || theirs.index !== position) {
              throw new Error(
                `bcoin's tx index places ${at} at ${theirs ? `${theirs.height}/${theirs.index}` : 'nowhere'}`,
              );
            }
            txs++;
          }
        }
      },
    });
  } finally {
    await ix.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { txs };
}
