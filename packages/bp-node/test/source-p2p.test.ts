import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { P2PSource } from '../src/source/p2p/source.ts';
import { type BcoinNode, startBcoin } from './harness/bcoin.ts';
import { collect, waitFor } from './harness/wait.ts';
import { TestWallet } from './harness/wallet.ts';

/** The P2P source against a real bcoin 1.0.2 regtest node (child process). */
describe('P2P source against bcoin', () => {
  let a: BcoinNode;
  let b: BcoinNode;
  let wallet: TestWallet;
  let src: P2PSource;
  const errors: Error[] = [];

  before(async () => {
    [a, b] = await Promise.all([startBcoin(), startBcoin()]);
    wallet = new TestWallet(a);
    await wallet.prepare(); // 432 blocks: segwit active, coinbases mature
    src = new P2PSource({ host: '127.0.0.1', port: a.p2pPort, network: 'regtest' });
    src.on('error', (e: Error) => errors.push(e));
    await src.start();
  });

  after(async () => {
    await src?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('initial header sync matches bcoin getblockhash at every height', async () => {
    const tip = await src.getTip();
    assert.equal(tip.height, await a.height());
    assert.equal(toHexReversed(tip.hash), await a.bestHash());
    for (let h = 0; h <= tip.height; h++) {
      assert.equal(
        toHexReversed((await src.getBlockHash(h)) as Uint8Array),
        await a.blockHash(h),
        `height ${h}`,
      );
    }
    assert.equal(await src.getBlockHash(tip.height + 1), null);
  });

  test('getBlocks yields every block in order, bytes equal to bcoin getblock <hash> 0', async () => {
    const tip = await src.getTip();
    let expect = 0;
    for await (const blk of src.getBlocks(0, tip.height)) {
      assert.equal(blk.height, expect);
      const hash = toHexReversed(blk.hash);
      assert.equal(hash, await a.blockHash(expect));
      if (expect % 50 === 0 || expect === tip.height)
        assert.equal(toHex(blk.raw), toHex(await a.rawBlock(hash)));
      expect++;
    }
    assert.equal(expect, tip.height + 1);
  });

  test('a consumer may stop early', async () => {
    let n = 0;
    for await (const blk of src.getBlocks(10, 400)) {
      assert.equal(blk.height, 10 + n);
      if (++n === 5) break;
    }
    assert.equal(n, 5);
  });

  test('a new block triggers tip', async () => {
    let tips = 0;
    const onTip = () => tips++;
    src.on('tip', onTip);
    const [hash] = await a.mine(1, TestWallet.randomAddress());
    await waitFor('tip event', () => tips > 0);
    const tip = await src.getTip();
    assert.equal(toHexReversed(tip.hash), hash);
    src.off('tip', onTip);
  });

  test('a mempool tx arrives through inv/getdata as tx, and getMempool lists it (BIP35)', async () => {
    const seen = collect<Uint8Array>(src, 'tx');
    const sent = await wallet.send(TestWallet.randomAddress(), 150_000n);
    const got = await waitFor('tx event', () => seen.find((raw) => toHex(raw) === sent.hex));
    assert.equal(toHex(got), sent.hex);
    const pool = await src.getMempool();
    assert.ok(pool.some((raw) => toHex(raw) === sent.hex));
  });

  test('broadcast sends a tx that bcoin accepts into its mempool', async () => {
    const built = await wallet.build(TestWallet.randomAddress(), 70_000n);
    await src.broadcast(built.raw);
    wallet.markSent(built);
    await wallet.waitInMempool(built.txid);
  });

  test('a confirmed tx leaves getMempool', async () => {
    await a.mine(1, TestWallet.randomAddress());
    await waitFor('tip', async () => (await src.getTip()).height === (await a.height()));
    // Blocks reach the source when the indexer fetches them.
    const tip = await src.getTip();
    for await (const _ of src.getBlocks(tip.height, tip.height)) {
    }
    assert.deepEqual(await src.getMempool(), []);
  });

  test('a reorg by a heavier competing branch (two bcoin nodes) is reflected in getBlockHash', async () => {
    await b.connectTo(a);
    await b.disconnectFrom(a);
    const base = await a.height();
    const replaced = await a.mine(2, TestWallet.randomAddress());
    await waitFor(
      'source at the branch to be replaced',
      async () => toHexReversed((await src.getTip()).hash) === replaced[1],
    );
    const winning = await b.mine(3, TestWallet.randomAddress());
    let tips = 0;
    const onTip = () => tips++;
    src.on('tip', onTip);
    await a.connectTo(b);
    await waitFor(
      'reorg seen by the source',
      async () => toHexReversed((await src.getTip()).hash) === winning[2],
    );
    assert.ok(tips > 0);
    for (let i = 0; i < 3; i++) {
      assert.equal(toHexReversed((await src.getBlockHash(base + 1 + i)) as Uint8Array), winning[i]);
    }
    const blocks: string[] = [];
    for await (const blk of src.getBlocks(base + 1, base + 3)) blocks.push(toHexReversed(blk.hash));
    assert.deepEqual(blocks, winning);
    src.off('tip', onTip);
    await a.disconnectFrom(b);
  });

  test('a 6-block reorg by invalidateblock is reflected in getBlockHash', async () => {
    const tipHeight = await a.height();
    const fork = tipHeight - 6;
    await a.rpc('invalidateblock', [await a.blockHash(fork + 1)]);
    const winning = await a.mine(7, TestWallet.randomAddress());
    await waitFor(
      'reorg seen by the source',
      async () => toHexReversed((await src.getTip()).hash) === winning[6],
    );
    for (let h = fork - 2; h <= fork + 7; h++) {
      assert.equal(
        toHexReversed((await src.getBlockHash(h)) as Uint8Array),
        await a.blockHash(h),
        `height ${h}`,
      );
    }
  });

  test('no errors were reported against an honest peer', () => {
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });
});
