import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { type Index, openIndex } from '../src/index/index.ts';
import { Mempool } from '../src/index/mempool.ts';
import { IndexView } from '../src/index/view.ts';
import { Syncer, type SyncLogger } from '../src/sync/syncer.ts';
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

function memLog(): SyncLogger & {
  lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  };
}

function freshDump(network: 'mainnet' | 'regtest', blocks: Uint8Array[]): Promise<string> {
  const t = tempDir('syncref');
  const ix = openIndex(t.dir, network);
  for (const [h, raw] of blocks.entries()) ix.connectBlock(raw, h);
  const hash = ix.dumpHash();
  return ix.close().then(() => {
    t.cleanup();
    return hash;
  });
}

/** Resolves once the index tip is the last block of `c`. */
function synced(s: Syncer, ix: Index, c: ChainBuilder): Promise<void> {
  const want = toHexReversed(c.tipHash);
  return new Promise((resolve) => {
    const check = () => {
      const tip = ix.tip();
      if (tip && toHexReversed(tip.hash) === want) {
        s.off('synced', check);
        s.off('block', check);
        resolve();
      }
    };
    s.on('synced', check);
    s.on('block', check);
    check();
  });
}

const pay = (coin: Coin, tag: number, fee = 1000n) =>
  makeTx([coin], [{ value: coin.value - fee, script: testScript(tag) }]);

describe('sync: catch-up from a source', () => {
  it('indexes mainnet 0-599 with exitAtTip and logs progress; the dump equals a direct index', async () => {
    const blocks = mainnet600();
    const t = tempDir('sync600');
    const ix = openIndex(t.dir, 'mainnet');
    const log = memLog();
    const src = new MemorySource(blocks);
    await new Syncer(ix, src, log, { progressMs: 0, batch: 64 }).run({ exitAtTip: true });
    assert.equal(ix.tip()!.height, 599);
    assert.equal(ix.dumpHash(), await freshDump('mainnet', blocks));
    const progress = log.lines.filter((l) => l.msg === 'progress');
    assert.ok(progress.length > 0);
    for (const k of ['height', 'blocksPerSec', 'mbPerSec', 'etaSec']) assert.ok(k in progress[0].fields!, k);
    assert.ok(log.lines.some((l) => l.msg === 'synced'));
    // Run again: nothing to do, nothing fetched.
    src.served = 0;
    await new Syncer(ix, src, log).run({ exitAtTip: true });
    assert.equal(src.served, 0);
    await ix.close();
    t.cleanup();
  });

  it('backs off on source errors and refuses a corrupt block until the source serves a good one', async () => {
    const blocks = mainnet600().slice(0, 120);
    const t = tempDir('syncbad');
    const ix = openIndex(t.dir, 'mainnet');
    const log = memLog();
    const src = new MemorySource(blocks);
    src.failures = 2;
    const bad = Uint8Array.from(blocks[100]);
    bad[bad.length - 5] ^= 0xff;
    src.corrupt.set(100, bad);
    const s = new Syncer(ix, src, log, { backoffMinMs: 5, backoffMaxMs: 20 });
    const done = s.run({ exitAtTip: true });
    // Let it fail on block 100 a few times, then heal the source.
    await new Promise<void>((resolve) => {
      const iv = setInterval(() => {
        if (log.lines.filter((l) => l.msg === 'sync failed; retrying').length >= 4) {
          clearInterval(iv);
          resolve();
        }
      }, 5);
    });
    assert.equal(ix.tip()!.height, 99, 'nothing past the bad block');
    src.corrupt.clear();
    await done;
    assert.equal(ix.tip()!.height, 119);
    const errs = log.lines.filter((l) => l.level === 'error').map((l) => String(l.fields?.err));
    assert.ok(errs.some((e) => /unavailable/.test(e)));
    assert.ok(errs.some((e) => /height 100 rejected: bad-merkle/.test(e)));
    assert.equal(ix.dumpHash(), await freshDump('mainnet', blocks));
    await ix.close();
    t.cleanup();
  });
});

describe('sync: reorgs follow the source', () => {
  for (const depth of [1, 6, 25]) {
    it(`a ${depth}-block reorg leaves the index equal to a fresh index of the new chain`, async () => {
      const a = new ChainBuilder(1);
      const coins: Coin[] = [];
      for (let i = 0; i < 40; i++) coins.push(a.add());
      // Spends on the losing branch, including one that stays valid on the new chain.
      const forkAt = 40 - depth;
      const keep = pay(coins[2], 500);
      const b = a.fork(forkAt, 2);
      a.add([keep, pay(coins[3], 501)]);
      for (let i = 0; i < depth; i++) b.add(i === 0 ? [pay(coins[3], 600)] : []);
      b.add();
      const t = tempDir(`reorg${depth}`);
      const ix = openIndex(t.dir, 'regtest');
      const mp = new Mempool(ix);
      const src = new MemorySource(a.blocks);
      const s = new Syncer(ix, src, memLog(), { mempool: mp });
      const reorgs: unknown[] = [];
      s.on('reorg', (r) => reorgs.push(r));
      const running = s.run();
      await synced(s, ix, a);
      src.setChain(b.blocks);
      await synced(s, ix, b);
      assert.equal(ix.dumpHash(), await freshDump('regtest', b.blocks));
      assert.deepEqual(reorgs, [{ fromHeight: forkAt + 1, toHeight: 40, forkHash: a.hashes[forkAt] }]);
      // The tx of the losing branch that the new chain does not conflict with is back in the mempool;
      // the one the new chain double-spends is gone.
      assert.ok(mp.has(txidOf(keep)));
      assert.deepEqual(
        [...mp.list()].map((e) => toHexReversed(e.txid)),
        [toHexReversed(txidOf(keep))],
      );
      const view = new IndexView(ix, mp);
      const sp = view.outspend(coins[2].txid, 0);
      assert.ok(sp.spent && sp.height === null && toHexReversed(sp.txid) === toHexReversed(txidOf(keep)));
      await s.stop();
      await running;
      await ix.close();
      t.cleanup();
    });
  }
});

describe('sync: mempool', () => {
  it('adds, confirms, drops conflicts with descendants, evicts, and answers through the view', async () => {
    const c = new ChainBuilder(3);
    const coins: Coin[] = [];
    for (let i = 0; i < 5; i++) coins.push(c.add());
    const t = tempDir('mempool');
    const ix = openIndex(t.dir, 'regtest');
    const mp = new Mempool(ix);
    const view = new IndexView(ix, mp);
    const preloaded = pay(coins[0], 700);
    const src = new MemorySource(c.blocks);
    src.mempool.push(preloaded);
    const s = new Syncer(ix, src, memLog(), { mempool: mp });
    const synced1 = new Promise((r) => s.once('synced', r));
    const running = s.run();
    await synced1;
    assert.ok(mp.has(txidOf(preloaded)), 'loaded from getMempool at the tip');
    // A tx, its child, and a tx the next block will double-spend.
    const tx1 = pay(coins[1], 701);
    const tx1coin = { txid: txidOf(tx1), vout: 0, value: coins[1].value - 1000n, script: testScript(701) };
    const child = pay(tx1coin, 702);
    const loser = pay(coins[2], 703, 500n);
    for (const raw of [tx1, child, loser]) await src.broadcast(raw);
    assert.equal(mp.size, 4);
    const e = mp.get(txidOf(child))!;
    assert.equal(e.fee, 1000n);
    assert.equal(e.shortId >> 63n, 1n, 'off-chain id');
    let sp = view.outspend(tx1coin.txid, 0);
    assert.ok(sp.spent && sp.height === null && sp.vin === 0);
    // History of the script tx1 pays: confirmed nothing, mempool funding then spending.
    const sh = new Uint8Array(await crypto.subtle.digest('SHA-256', testScript(701)));
    const h = view.history(sh, { limit: 1 });
    assert.equal(h.items.length, 1);
    assert.equal(h.items[0].kind, 'funding');
    const h2 = view.history(sh, { cursor: h.next, limit: 10 });
    assert.deepEqual(
      h2.items.map((i) => i.kind),
      ['spending'],
    );
    assert.equal(view.balance(sh).unconfirmedIn, tx1coin.value);
    // Next block confirms tx1 and double-spends `loser`'s input.
    const winner = pay(coins[2], 704, 2000n);
    c.add([tx1, winner]);
    src.setChain(c.blocks);
    await synced(s, ix, c);
    assert.ok(!mp.has(txidOf(tx1)), 'confirmed');
    assert.ok(mp.has(txidOf(child)), 'the child of a confirmed tx stays');
    assert.ok(!mp.has(txidOf(loser)), 'conflict');
    sp = view.outspend(tx1coin.txid, 0);
    assert.ok(sp.spent && sp.height === null, 'spent in the mempool by the child');
    sp = view.outspend(coins[2].txid, 0);
    assert.ok(sp.spent && sp.height === c.height, 'confirmed spend');
    const hist = view.history(sh, { limit: 10 });
    assert.deepEqual(
      hist.items.map((i) => [i.kind, i.height]),
      [
        ['funding', c.height],
        ['spending', null],
      ],
    );
    // Eviction by the source drops the tx.
    src.emit('txRemoved', txidOf(child));
    assert.ok(!mp.has(txidOf(child)));
    // A replacement (same input, accepted by the source) pushes out the original.
    const rbf = pay(coins[0], 705, 5000n);
    await src.broadcast(rbf);
    assert.ok(!mp.has(txidOf(preloaded)));
    assert.ok(mp.has(txidOf(rbf)));
    await s.stop();
    await running;
    await ix.close();
    t.cleanup();
  });
});
