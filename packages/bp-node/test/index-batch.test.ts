import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { FlatFile } from '../src/index/flatfile.ts';
import { BlockRejected, type ConnectResult, type Index, openIndex } from '../src/index/index.ts';
import { Syncer } from '../src/sync/syncer.ts';
import {
  ChainBuilder,
  type Coin,
  MemorySource,
  mainnet600,
  makeTx,
  tempDir,
  testScript,
  txidOf,
} from './index-support.ts';

/**
 * Batched connect (several blocks per LMDB transaction, batch.ts) writes exactly what connecting
 * the blocks one by one writes: the canonical dump (every table, every blocks.dat record and
 * undo entry) of an index built in batches equals one built block by block, on real mainnet
 * blocks and on regtest chains whose batches spend outputs created earlier in the same batch.
 */
const MODERN = [840002, 840003, 840004, 840005, 840006, 840007];
const quiet = { info() {}, warn() {}, error() {} };

interface Blk {
  raw: Uint8Array;
  height: number;
}

function withIndex<T>(network: 'mainnet' | 'regtest', f: (ix: Index, dir: string) => T): Promise<T> {
  const t = tempDir('batch');
  const ix = openIndex(t.dir, network);
  const r = f(ix, t.dir);
  return ix.close().then(() => {
    t.cleanup();
    return r;
  });
}

function perBlock(network: 'mainnet' | 'regtest', blocks: Blk[]): Promise<string> {
  return withIndex(network, (ix) => {
    for (const b of blocks) ix.connectBlock(b.raw, b.height);
    return ix.dumpHash();
  });
}

/** Connects `blocks` in batches of `size` (0: one batch); returns the dump hash and the results. */
function batched(
  network: 'mainnet' | 'regtest',
  blocks: Blk[],
  size: number,
  sortRows = true,
): Promise<{ hash: string; results: ConnectResult[] }> {
  return withIndex(network, (ix) => {
    const n = size === 0 ? blocks.length : size;
    const results: ConnectResult[] = [];
    for (let i = 0; i < blocks.length; i += n)
      results.push(...ix.connectBlocks(blocks.slice(i, i + n), { sortRows }));
    return { hash: ix.dumpHash(), results };
  });
}

/** Inputs of each block that spend an output of an earlier block in `blocks` (txid match). */
function crossBlockSpends(blocks: Blk[]): number {
  const txids = new Set<string>();
  let n = 0;
  for (const b of blocks) {
    const blk = parseBlock(b.raw);
    const own = new Set(blk.txs.map((t) => toHex(t.txid())));
    for (const tx of blk.txs.slice(1)) {
      for (const inp of tx.inputs) {
        const k = toHex(inp.prevTxid);
        if (txids.has(k) && !own.has(k)) n++;
      }
    }
    for (const k of own) txids.add(k);
  }
  return n;
}

const pay = (coin: Coin, tag: number, fee = 1000n): Uint8Array =>
  makeTx([coin], [{ value: coin.value - fee, script: testScript(tag) }]);

/** A coin of `tx`'s output 0 (as pay() builds it). */
function coinOf(tx: Uint8Array, from: Coin, tag: number, fee = 1000n): Coin {
  return { txid: txidOf(tx), vout: 0, value: from.value - fee, script: testScript(tag) };
}

/**
 * A regtest chain whose blocks spend, within a few blocks, outputs created a block or two
 * earlier (so a batch spends its own outputs), outputs created long before (stored UTXOs),
 * outputs of their own block, and chains of spends across several blocks.
 */
function regtestChain(): ChainBuilder {
  const c = new ChainBuilder(7);
  const coins: Coin[] = [];
  for (let i = 0; i < 12; i++) coins.push(c.add());
  let tag = 1000;
  // Chains of spends: coin -> t1 (block h) -> t2 (block h+1) -> t3 (block h+3) ...
  let live: Coin[] = [];
  for (let h = 0; h < 30; h++) {
    const txs: Uint8Array[] = [];
    const next: Coin[] = [];
    // One old coinbase output per block (a stored UTXO from the batch's view, or a batched one).
    if (coins.length > 0 && h % 2 === 0) {
      const coin = coins.shift()!;
      const t = pay(coin, ++tag);
      txs.push(t);
      next.push(coinOf(t, coin, tag));
    }
    // Spend what the previous blocks created; every third block keeps them waiting.
    if (h % 3 !== 2) {
      for (const coin of live) {
        const t = pay(coin, ++tag);
        txs.push(t);
        const out = coinOf(t, coin, tag);
        // A spend in the same block, now and then.
        if (h % 4 === 1) {
          const t2 = pay(out, ++tag);
          txs.push(t2);
          next.push(coinOf(t2, out, tag));
        } else next.push(out);
      }
      live = [];
    }
    const cb = c.add(txs);
    // This block's coinbase is spent two blocks on (h % 5 === 0), else waits for the coins list.
    if (h % 5 === 0) next.push(cb);
    else coins.push(cb);
    live.push(...next);
  }
  return c;
}

describe('index: batched connect equals block by block', () => {
  it('mainnet 0-599 (from genesis): batches of 1, 7, 64 and one batch; rows unsorted too', async () => {
    const blocks = mainnet600().map((raw, height) => ({ raw, height }));
    assert.ok(crossBlockSpends(blocks) > 0, 'the chain spends across blocks');
    const want = await perBlock('mainnet', blocks);
    for (const size of [1, 7, 64, 0]) {
      const r = await batched('mainnet', blocks, size);
      assert.equal(r.hash, want, `batches of ${size}`);
      assert.deepEqual(
        r.results.map((x) => x.height),
        blocks.map((b) => b.height),
      );
    }
    assert.equal((await batched('mainnet', blocks, 0, false)).hash, want, 'unsorted');
  });

  it('mainnet 840002-840007 (base 840002): one batch, batches of 2 and 4, unsorted; same results', async () => {
    const blocks = MODERN.map((height) => ({ raw: modernBlock(height), height }));
    const spends = crossBlockSpends(blocks);
    assert.ok(spends > 50, `${spends} inputs spend outputs of an earlier block of the run`);
    const want = await perBlock('mainnet', blocks);
    const one = await withIndex('mainnet', (ix) => {
      const rs = blocks.map((b) => ix.connectBlock(b.raw, b.height));
      return rs.map((r) => ({
        h: r.height,
        i: r.inputs,
        o: r.outputs,
        v: [...r.prevValues],
        s: r.prevScripts.map((x) => (x ? toHex(x) : '')),
      }));
    });
    for (const [size, sorted] of [
      [0, true],
      [2, true],
      [4, true],
      [0, false],
    ] as const) {
      const r = await batched('mainnet', blocks, size, sorted);
      assert.equal(r.hash, want, `batches of ${size}, sorted ${sorted}`);
      // Every block's ConnectResult (push matching reads prevScripts/prevValues) is the same too.
      assert.deepEqual(
        r.results.map((x) => ({
          h: x.height,
          i: x.inputs,
          o: x.outputs,
          v: [...x.prevValues],
          s: x.prevScripts.map((y) => (y ? toHex(y) : '')),
        })),
        one,
      );
    }
  });

  it('regtest: a batch spends its own outputs (one block on, several on, in the same block)', async () => {
    const c = regtestChain();
    const blocks = c.blocks.map((raw, height) => ({ raw, height }));
    assert.ok(crossBlockSpends(blocks) >= 30);
    const want = await perBlock('regtest', blocks);
    for (const size of [2, 3, 5, 0])
      assert.equal((await batched('regtest', blocks, size)).hash, want, `size ${size}`);
  });

  it('a block rejected mid-batch: the blocks before it are committed, as block by block', async () => {
    const c = regtestChain();
    const blocks = c.blocks.map((raw, height) => ({ raw, height }));
    // Block 20 spends an output that block 19 spent already (a double spend across blocks of one batch).
    const b19 = parseBlock(blocks[19].raw);
    const spent = b19.txs[1].inputs[0];
    const bad = new ChainBuilder(9);
    bad.blocks.push(...c.blocks.slice(0, 20));
    bad.hashes.push(...c.hashes.slice(0, 20));
    bad.add([
      makeTx([{ txid: spent.prevTxid, vout: spent.vout }], [{ value: 1000n, script: testScript(9) }]),
    ]);
    const chain = bad.blocks.map((raw, height) => ({ raw, height }));
    const perBlockErr = await withIndex('regtest', (ix) => {
      for (const b of chain.slice(0, 20)) ix.connectBlock(b.raw, b.height);
      try {
        ix.connectBlock(chain[20].raw, 20);
      } catch (e) {
        return { code: (e as BlockRejected).code, hash: ix.dumpHash() };
      }
      return null;
    });
    assert.equal(perBlockErr?.code, 'missing-input');
    const got = await withIndex('regtest', (ix, dir) => {
      ix.connectBlocks(chain.slice(0, 14));
      const fileEnd = statSync(join(dir, 'index', 'blocks.dat')).size;
      let code = '';
      try {
        ix.connectBlocks(chain.slice(14)); // 14..19 good, 20 bad
      } catch (e) {
        assert.ok(e instanceof BlockRejected);
        code = e.code;
      }
      assert.ok(statSync(join(dir, 'index', 'blocks.dat')).size > fileEnd);
      return { code, tip: ix.tip()?.height, hash: ix.dumpHash() };
    });
    assert.deepEqual(got, { code: 'missing-input', tip: 19, hash: perBlockErr?.hash });
  });

  it('an open batch holds the index: nothing is written before commit, abort leaves no trace', async () => {
    const blocks = mainnet600()
      .slice(0, 30)
      .map((raw, height) => ({ raw, height }));
    await withIndex('mainnet', (ix, dir) => {
      ix.connectBlocks(blocks.slice(0, 10));
      const before = ix.dumpHash();
      const size = statSync(join(dir, 'index', 'blocks.dat')).size;
      const b = ix.batch();
      for (const x of blocks.slice(10, 20)) b.add(x.raw, x.height);
      assert.equal(b.blocks, 10);
      // Readers see the committed index only; other writes wait for the batch.
      assert.equal(ix.tip()!.height, 9);
      assert.equal(ix.dumpHash(), before);
      assert.throws(() => ix.connectBlock(blocks[10].raw, 10), /batch is open/);
      assert.throws(() => ix.disconnectTip(), /batch is open/);
      assert.throws(() => ix.compact(), /batch is open/);
      b.abort();
      assert.equal(statSync(join(dir, 'index', 'blocks.dat')).size, size);
      assert.equal(ix.dumpHash(), before);
      assert.throws(() => b.add(blocks[10].raw, 10), /aborted/);
      const rs = ix.connectBlocks(blocks.slice(10, 30));
      assert.equal(rs.length, 20);
      assert.equal(ix.tip()!.height, 29);
    });
  });
});

describe("index: blocks.dat synced beside a batch's writes (FlatFile.syncAhead)", () => {
  it('a failed fdatasync is reported by the waiter', () => {
    const t = tempDir('syncahead');
    try {
      const f = new FlatFile(join(t.dir, 'blocks.dat'));
      f.append([new Uint8Array(100)]);
      f.syncAhead()();
      f.close();
      // A closed file cannot be synced: the only way to make fdatasync fail here.
      const wait = f.syncAhead();
      assert.throws(wait, /fdatasync of .*blocks\.dat failed/);
    } finally {
      t.cleanup();
    }
  });

  it('a batch whose sync fails commits nothing and cuts blocks.dat back', async () => {
    const blocks = MODERN.map((height) => ({ raw: modernBlock(height), height }));
    await withIndex('mainnet', (ix, dir) => {
      ix.connectBlocks(blocks.slice(0, 2));
      const before = ix.dumpHash();
      const size = statSync(join(dir, 'index', 'blocks.dat')).size;
      const file = ix.store.file;
      const real = file.syncAhead.bind(file);
      let asked = 0;
      // The fault itself (a disk refusing the sync) cannot be caused from a test.
      file.syncAhead = () => {
        asked++;
        real()();
        return () => {
          throw new Error('fdatasync of blocks.dat failed (test)');
        };
      };
      assert.throws(() => ix.connectBlocks(blocks.slice(2, 4)), /fdatasync of blocks.dat failed \(test\)/);
      assert.equal(asked, 1, 'a batch of modern blocks syncs ahead');
      assert.equal(ix.tip()!.height, 840003);
      assert.equal(ix.dumpHash(), before);
      assert.equal(statSync(join(dir, 'index', 'blocks.dat')).size, size);
      file.syncAhead = real;
      ix.connectBlocks(blocks.slice(2));
      assert.equal(ix.tip()!.height, 840007);
    });
  });
});

describe('sync: batched catch-up', () => {
  it('commits batches at their bounds and at the tip; a reorg across a batch boundary ends equal to a fresh index', async () => {
    const a = new ChainBuilder(3);
    const coins: Coin[] = [];
    for (let i = 0; i < 40; i++) coins.push(a.add(i > 2 ? [pay(coins[i - 2], 3000 + i)] : []));
    // The losing branch's batch 8..11 is cut at 9: the fork lies inside a committed batch.
    const forkAt = 9;
    const b = a.fork(forkAt, 4);
    for (let i = 0; i < 35; i++) b.add(i === 1 ? [pay(coins[8], 4000)] : []);
    const t = tempDir('batchsync');
    const ix = openIndex(t.dir, 'regtest');
    const commits: number[] = [];
    const batch = ix.batch.bind(ix);
    ix.batch = (opts) => {
      const bt = batch(opts);
      const c = bt.commit.bind(bt);
      bt.commit = () => {
        const rs = c();
        if (rs.length) commits.push(rs[rs.length - 1].height);
        return rs;
      };
      return bt;
    };
    const src = new MemorySource(a.blocks);
    const s = new Syncer(ix, src, quiet, { batchCatchUp: 2, batchBlocks: 4 });
    const seen: number[] = [];
    s.on('block', (r: ConnectResult) => {
      seen.push(r.height);
      // A 'block' event comes after its batch committed: the index answers for it.
      assert.ok(ix.tip()!.height >= r.height);
      assert.ok(ix.header(r.height) !== null);
    });
    await s.run({ exitAtTip: true });
    assert.deepEqual(commits, [3, 7, 11, 15, 19, 23, 27, 31, 35, 39]);
    assert.deepEqual(
      seen,
      a.blocks.map((_, h) => h),
    );
    src.setChain(b.blocks, false);
    seen.length = 0;
    commits.length = 0;
    await s.run({ exitAtTip: true });
    assert.equal(ix.tip()!.height, b.height);
    assert.deepEqual(commits, [13, 17, 21, 25, 29, 33, 37, 41, 44]);
    assert.deepEqual(
      seen,
      b.blocks.slice(forkAt + 1).map((_, i) => forkAt + 1 + i),
    );
    assert.equal(
      ix.dumpHash(),
      await perBlock(
        'regtest',
        b.blocks.map((raw, height) => ({ raw, height })),
      ),
    );
    // One new block at the tip: its own transaction, not a batch.
    b.add();
    commits.length = 0;
    src.setChain(b.blocks, false);
    await s.run({ exitAtTip: true });
    assert.deepEqual(commits, []);
    assert.equal(ix.tip()!.height, b.height);
    await ix.close();
    t.cleanup();
  });
});
