import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { RpcSource } from '../src/source/rpc/source.ts';
import type { SourceError } from '../src/source/types.ts';
import { createSource } from '../src/source/url.ts';
import { type BcoinNode, startBcoin } from './harness/bcoin.ts';
import { collect, waitFor } from './harness/wait.ts';
import { TestWallet } from './harness/wallet.ts';

/**
 * The RPC source against bcoin's Core-style JSON-RPC (Bitcoin Core cannot be installed here).
 * Without ZMQ (bcoin has none) it polls getbestblockhash and getrawmempool.
 */
describe('RPC source against bcoin', () => {
  let a: BcoinNode;
  let wallet: TestWallet;
  let src: RpcSource;
  const errors: Error[] = [];

  before(async () => {
    a = await startBcoin();
    wallet = new TestWallet(a);
    await wallet.prepare();
    src = new RpcSource({
      host: '127.0.0.1',
      port: a.rpcPort,
      network: 'regtest',
      credentials: { user: 'bcoin', pass: a.apiKey },
      pollMs: 100,
      mempoolPollMs: 100,
    });
    src.on('error', (e: Error) => errors.push(e));
    await src.start();
  });

  after(async () => {
    await src?.stop();
    await a?.stop();
  });

  test('tip and getBlockHash match bcoin at every height; null above the tip', async () => {
    const tip = await src.getTip();
    assert.equal(tip.height, await a.height());
    assert.equal(toHexReversed(tip.hash), await a.bestHash());
    for (let h = 0; h <= tip.height; h++) {
      assert.equal(toHexReversed((await src.getBlockHash(h)) as Uint8Array), await a.blockHash(h));
    }
    assert.equal(await src.getBlockHash(tip.height + 1), null);
  });

  test('getBlocks yields every block in order (pipelined getblockhash + getblock <hash> 0)', async () => {
    const tip = await src.getTip();
    let expect = 0;
    for await (const blk of src.getBlocks(0, tip.height)) {
      assert.equal(blk.height, expect);
      assert.equal(toHexReversed(blk.hash), await a.blockHash(expect));
      expect++;
    }
    assert.equal(expect, tip.height + 1);
  });

  test('a new block triggers tip (getbestblockhash polling)', async () => {
    let tips = 0;
    const onTip = () => tips++;
    src.on('tip', onTip);
    await a.mine(1, TestWallet.randomAddress());
    await waitFor('tip event', () => tips > 0);
    src.off('tip', onTip);
  });

  test('a mempool tx arrives as tx (getrawmempool polling), getMempool lists it, confirmation removes it', async () => {
    const seen = collect<Uint8Array>(src, 'tx');
    const removed = collect<Uint8Array>(src, 'txRemoved');
    const sent = await wallet.send(TestWallet.randomAddress(), 120_000n);
    await waitFor('tx event', () => seen.some((raw) => toHex(raw) === sent.hex));
    assert.ok((await src.getMempool()).some((raw) => toHex(raw) === sent.hex));
    await a.mine(1, TestWallet.randomAddress());
    await waitFor('txRemoved', () => removed.some((id) => toHexReversed(id) === sent.txid));
    assert.ok(!(await src.getMempool()).some((raw) => toHex(raw) === sent.hex));
  });

  test('broadcast goes through sendrawtransaction', async () => {
    const built = await wallet.build(TestWallet.randomAddress(), 80_000n);
    await src.broadcast(built.raw);
    wallet.markSent(built);
    await wallet.waitInMempool(built.txid);
  });

  test('a 6-block reorg (invalidateblock) is reflected in getBlockHash', async () => {
    const tipHeight = await a.height();
    const fork = tipHeight - 6;
    let tips = 0;
    const onTip = () => tips++;
    src.on('tip', onTip);
    await a.rpc('invalidateblock', [await a.blockHash(fork + 1)]);
    const winning = await a.mine(7, TestWallet.randomAddress());
    await waitFor('tip', () => tips > 0);
    for (let i = 0; i < 7; i++)
      assert.equal(toHexReversed((await src.getBlockHash(fork + 1 + i)) as Uint8Array), winning[i]);
    const got: string[] = [];
    for await (const blk of src.getBlocks(fork + 1, fork + 7)) got.push(toHexReversed(blk.hash));
    assert.deepEqual(got, winning);
    src.off('tip', onTip);
  });

  test('cookie auth from --bitcoin-dir (<dir>/regtest/.cookie), through createSource', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpd-cookie-'));
    try {
      mkdirSync(join(dir, 'regtest'));
      writeFileSync(join(dir, 'regtest', '.cookie'), `__cookie__:${a.apiKey}`);
      const s = createSource(`rpc://127.0.0.1:${a.rpcPort}`, { network: 'regtest', bitcoinDir: dir });
      await s.start();
      assert.equal(toHexReversed((await s.getTip()).hash), await a.bestHash());
      await s.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('wrong password: start fails with an auth error', async () => {
    const s = new RpcSource({
      host: '127.0.0.1',
      port: a.rpcPort,
      network: 'regtest',
      credentials: { user: 'x', pass: 'wrong' },
    });
    await assert.rejects(s.start(), (e: SourceError) => e.code === 'auth');
    await s.stop();
  });

  test('wrong network: start fails naming the chain', async () => {
    const s = new RpcSource({
      host: '127.0.0.1',
      port: a.rpcPort,
      network: 'mainnet',
      credentials: { user: 'bcoin', pass: a.apiKey },
    });
    await assert.rejects(s.start(), /chain "regtest", not mainnet/);
    await s.stop();
  });

  test('no errors were reported against an honest node', () => {
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    );
  });
});
