import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BpClient, DescriptorEvent, Withdrawn } from '@lnpbp/bp-client';
import { HDKey } from '@scure/bip32';
import { type BpdProcess, bpdAtTip, bpdReady, removeDir, startBpd } from './api-support.ts';
import { type BcoinNode, startBcoin } from './harness/bcoin.ts';
import { hdAccount, TESTNET_VERSIONS } from './harness/hd-account.ts';
import { waitFor } from './harness/wait.ts';
import { type BuiltTx, TestWallet } from './harness/wallet.ts';

type Row = (string | number | boolean | null)[];

/**
 * Push over a bpd's life, end to end: two real bcoin regtest nodes, the real bpd binary (a child
 * process) following A over P2P, the typed client. A mempool tx a watch set and a descriptor
 * subscription heard of is double spent by a block B mined; once A takes that block, bpd must
 * take the matches back (the channel's `watchWithdrawn` naming the block, before the block's
 * own match; `descriptorWithdrawn` without height). Then bpd is restarted with a large persisted
 * descriptor watch on disk: it must answer status while that watch is rescanned, and a client's
 * channel must register its sets again from bpd's `hello` alone, with no block or match.
 */
describe('push over bpd restarts and mempool exits (bcoin regtest, bpd, client)', () => {
  let a: BcoinNode;
  let b: BcoinNode;
  let wallet: TestWallet;
  let bpd: BpdProcess;
  let c: BpClient;

  const { descriptor: DESC, addressAt } = hdAccount(Uint8Array.from([5, 5, 5]));

  const send = async (node: BcoinNode, tx: BuiltTx) => {
    await node.rpc('sendrawtransaction', [tx.hex]);
    await waitFor(`${tx.txid} in the node's mempool`, async () => (await node.mempool()).includes(tx.txid));
  };

  before(async () => {
    [a, b] = await Promise.all([startBcoin(), startBcoin()]);
    wallet = new TestWallet(a);
    await wallet.prepare();
    // B shares the chain up to here; it mines the double spend later.
    await b.connectTo(a, 60_000);
    await b.disconnectFrom(a);
    bpd = await startBpd(a.p2pUrl);
    await bpdReady(bpd);
    c = await bpd.client();
    await bpdAtTip(c, await a.bestHash());
  });

  after(async () => {
    c?.close();
    await bpd?.stop();
    if (bpd) removeDir(bpd.datadir);
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test("a block's double spend takes back the mempool matches: watchWithdrawn naming the block, then the block's match; descriptorWithdrawn without height", async () => {
    const log: Row[] = [];
    const ch = await c.watchChannel({
      channel: 'app',
      onSpend: (e) => log.push(['spend', e.subscription, e.spendingTxid, e.height]),
      onWithdrawn: (w) =>
        log.push([
          'withdrawn',
          w.subscription,
          w.txid,
          w.conflictHeight,
          w.conflictBlockHash,
          w.spends.map((s) => `${s.txid}:${s.vout}`).join(' '),
        ]),
    });
    const activity: Row[] = [];
    const ds = await c.subscribeDescriptor(DESC, {
      subscription: 'wallet',
      onActivity: (e: DescriptorEvent) => activity.push(['activity', e.txid, e.kind, e.index, e.height]),
      onWithdrawn: (e: Withdrawn<DescriptorEvent>) =>
        activity.push(['withdrawn', e.txid, e.kind, e.index, e.height, e.inMempool]),
    });
    const pay = await wallet.build(addressAt(1), 40_000n);
    const conflict = await wallet.build(TestWallet.randomAddress(), 40_000n, { utxo: pay.spent });
    const coin = `${pay.spent.txid}:${pay.spent.vout}`;
    await ch.watch({ subscription: 'coin', outpoints: [{ txid: pay.spent.txid, vout: pay.spent.vout }] });

    await send(a, pay);
    await waitFor('the mempool spend and activity', () => log.length === 1 && activity.length === 1);

    await send(b, conflict);
    const [won] = await b.mine(1, TestWallet.randomAddress());
    await a.connectTo(b, 60_000);
    await a.disconnectFrom(b);
    await bpdAtTip(c, won);
    const height = await a.height();
    assert.ok(!(await a.mempool()).includes(pay.txid), 'bcoin dropped the payment');
    await waitFor(
      'the withdrawal and the confirmed double spend',
      () => log.length === 3 && activity.length === 2,
    );
    assert.deepEqual(log, [
      ['spend', 'coin', pay.txid, null],
      ['withdrawn', 'coin', pay.txid, height, won, coin],
      ['spend', 'coin', conflict.txid, height],
    ]);
    assert.deepEqual(activity, [
      ['activity', pay.txid, 'funding', 0, null],
      ['withdrawn', pay.txid, 'funding', 0, null, false],
    ]);
    // Queries agree: the coin is spent by the double spend, nothing of the payment is left.
    const os = await c.outspend(pay.spent.txid, pay.spent.vout);
    assert.deepEqual([os.spent, os.spent && os.txid, os.spent && os.height], [true, conflict.txid, height]);
    assert.equal((await c.descriptorHistory(DESC)).items.length, 0);
    wallet.markSent(conflict);
    await ds.close(true);
    await ch.close(true);
  });

  test('restart: status answers while a large persisted descriptor watch is rescanned; a channel registers its sets again on hello alone', async () => {
    const cc = await bpd.client();
    const resyncs: string[] = [];
    const spends: string[] = [];
    const ch = await cc.watchChannel({
      channel: 'life',
      onSpend: (e) => spends.push(`${e.spendingTxid}@${e.height}`),
      onResync: (g) => resyncs.push(`${g.reason} ${g.topic}`),
    });
    const target = await wallet.build(TestWallet.randomAddress(), 21_000n);
    await ch.watch({
      subscription: 'client-kept',
      outpoints: [{ txid: target.spent.txid, vout: target.spent.vout }],
    });
    await c.watch({ subscription: 'plain', outpoints: [{ txid: '33'.repeat(32), vout: 0 }] });
    c.close();
    assert.equal(await bpd.stop(), 0);

    // A fresh key (nothing of it in any cache): two branches of 5,000 derivations to scan.
    const big = HDKey.fromMasterSeed(randomBytes(32), TESTNET_VERSIONS).derive("m/84'/1'/0'");
    const BIG = `wpkh(${big.publicExtendedKey}/<0;1>/*)`;
    mkdirSync(join(bpd.datadir, 'watch-match'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(bpd.datadir, 'watch-match', 'big.json'),
      JSON.stringify({ id: 'big', kind: 'descriptor', text: BIG, gap: 5_000 }),
    );
    const tip = await a.bestHash();

    bpd = await startBpd(a.p2pUrl, [], bpd.datadir);
    await bpdReady(bpd);
    c = await bpd.client();
    const matchWatches = async () =>
      (await c.busStatus()).detail.find((d) => d.key === 'matchWatches')?.value;
    // Answered while the watch is still being scanned (a scan at start-up that held the event
    // loop would have finished before the RPC server came up: it would say 1).
    assert.equal(await matchWatches(), '0');
    // A set registered by a plain request died with the old process.
    assert.equal(await c.unwatch('plain'), false);

    // Nothing is mined and nothing sent: the channel hears of the new run from `hello`.
    await waitFor('restart seen and the set registered again', () => ch.restarts === 1);
    assert.deepEqual(resyncs, ['restart hello']);
    assert.equal(await a.bestHash(), tip, 'no block meanwhile');
    assert.equal((await c.getinfo()).watchSets, 1);
    await waitFor(
      'the persisted watch live once scanned',
      async () => (await matchWatches()) === '1',
      120_000,
    );

    // The re-registered set matches.
    await send(a, target);
    wallet.markSent(target);
    await waitFor('the spend', () => spends.includes(`${target.txid}@null`));
    await ch.close(true);
    cc.close();
    assert.equal(await c.unwatch('big'), true);
  });
});
