import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import type { BpClient, DescriptorEvent, MatchEvent, Withdrawn } from '@lnpbp/bp-client';
import { type BpdProcess, bpdAtTip, bpdReady, removeDir, startBpd } from './api-support.ts';
import { type BcoinNode, startBcoin } from './harness/bcoin.ts';
import { hdAccount } from './harness/hd-account.ts';
import { PkOlder } from './harness/pk-older.ts';
import { waitFor } from './harness/wait.ts';
import { type BuiltTx, TestWallet } from './harness/wallet.ts';

type Event =
  | { t: 'match'; e: MatchEvent }
  | { t: 'matchWithdrawn'; e: Withdrawn<MatchEvent> }
  | { t: 'activity'; e: DescriptorEvent }
  | { t: 'activityWithdrawn'; e: Withdrawn<DescriptorEvent> }
  | { t: 'reorg'; on: 'match' | 'descriptor'; fromHeight: number; toHeight: number };

/**
 * Reorgs withdraw pattern and descriptor matches, end to end: two real bcoin regtest nodes, the
 * real bpd binary following A over P2P, the typed client subscribed to a pattern and a
 * descriptor. On A's branch one block confirms a P2WSH and_v(v:pk(K),older(2)) spend (pattern
 * match), a payment to the descriptor's index 1 and a coinbase paying its index 2. B mines a
 * longer branch holding a double spend of the payment's input; A reorgs onto it. Each confirmed
 * match must be withdrawn (before the `reorg` notification) with whether its tx is back in the
 * mempool: the spend and the payment are, the coinbase never is; the payment is withdrawn again
 * (not in the mempool) once B's conflicting tx confirms; the spend confirms again on the new
 * branch and is published again as a match at its new height.
 */
describe('reorgs withdraw pattern and descriptor matches (bcoin regtest, bpd, client)', () => {
  let a: BcoinNode;
  let b: BcoinNode;
  let wallet: TestWallet;
  let bpd: BpdProcess;
  let c: BpClient;
  const subs: { close(drop?: boolean): Promise<void> }[] = [];
  const log: Event[] = [];

  const lock = new PkOlder(2);
  const PATTERN = 'and_v(v:pk(@A),older(@n))';

  const { descriptor: DESC, addressAt } = hdAccount(Uint8Array.from([7, 7, 7]));

  const send = async (node: BcoinNode, tx: { hex: string; txid: string }) => {
    await node.rpc('sendrawtransaction', [tx.hex]);
    await waitFor(`${tx.txid} in the node's mempool`, async () => (await node.mempool()).includes(tx.txid));
  };
  const inBpdMempool = (txid: string) =>
    waitFor(`${txid} in bpd's mempool`, async () => (await c.mempoolList()).items.includes(txid));

  /** Events about one tx, in arrival order, as short tuples. */
  const story = (txid: string) =>
    log.flatMap((x): (string | number | boolean | null)[][] => {
      if (x.t === 'reorg') return [];
      if (x.e.txid !== txid) return [];
      if (x.t === 'match' || x.t === 'activity') return [[x.t, x.e.height]];
      return [[x.t, x.e.height, x.e.inMempool]];
    });

  before(async () => {
    [a, b] = await Promise.all([startBcoin(), startBcoin()]);
    wallet = new TestWallet(a);
    await wallet.prepare();
    bpd = await startBpd(a.p2pUrl);
    await bpdReady(bpd);
    c = await bpd.client();
    await bpdAtTip(c, await a.bestHash());
    subs.push(
      await c.subscribeMatch(PATTERN, {
        subscription: 'older',
        onMatch: (e) => log.push({ t: 'match', e }),
        onWithdrawn: (e) => log.push({ t: 'matchWithdrawn', e }),
        onReorg: (r) => log.push({ t: 'reorg', on: 'match', ...r }),
      }),
      await c.subscribeDescriptor(DESC, {
        subscription: 'wallet',
        onActivity: (e) => log.push({ t: 'activity', e }),
        onWithdrawn: (e) => log.push({ t: 'activityWithdrawn', e }),
        onReorg: (r) => log.push({ t: 'reorg', on: 'descriptor', ...r }),
      }),
    );
  });

  after(async () => {
    for (const s of subs) await s.close();
    c?.close();
    await bpd?.stop();
    if (bpd) removeDir(bpd.datadir);
    await Promise.all([a?.stop(), b?.stop()]);
  });

  let spend: { txid: string; hex: string };
  let pay: BuiltTx;
  let conflict: BuiltTx;
  let coinbaseTxid: string;
  let lostHeight: number;
  let lostHash: string;

  test('the branch to be replaced confirms a pattern match, a payment and a coinbase to the descriptor', async () => {
    // Shared history: the timelocked output, old enough for older(2) one block later.
    const funding = await wallet.build(lock.address, 100_000n);
    await send(a, funding);
    wallet.markSent(funding);
    await bpdAtTip(c, (await wallet.mine(2))[1]);
    await b.connectTo(a, 60_000);
    await b.disconnectFrom(a);

    spend = lock.spend(funding);
    await send(a, spend);
    pay = await wallet.build(addressAt(1), 40_000n);
    conflict = await wallet.build(TestWallet.randomAddress(), 40_000n, { utxo: pay.spent });
    await send(a, pay);
    wallet.markSent(pay);
    await inBpdMempool(spend.txid);
    await inBpdMempool(pay.txid);

    // One block on A, its coinbase paying the descriptor's index 2.
    [lostHash] = await a.mine(1, addressAt(2));
    lostHeight = await a.height();
    await bpdAtTip(c, lostHash);
    const block = await a.rpc<{ tx: { txid: string }[] }>('getblock', [lostHash, true, true]);
    coinbaseTxid = block.tx[0].txid;
    assert.ok(block.tx.some((t) => t.txid === spend.txid) && block.tx.some((t) => t.txid === pay.txid));
    await waitFor('confirmed events', () =>
      log.some((x) => x.t === 'activity' && x.e.txid === coinbaseTxid && x.e.height === lostHeight),
    );
    assert.deepEqual(story(spend.txid), [
      ['match', null],
      ['match', lostHeight],
    ]);
    assert.deepEqual(story(pay.txid), [
      ['activity', null],
      ['activity', lostHeight],
    ]);
    assert.deepEqual(story(coinbaseTxid), [['activity', lostHeight]]);
  });

  test('B mines a longer branch with a double spend of the payment; A reorgs; matches are withdrawn', async () => {
    await send(b, conflict);
    const won = await b.mine(2, TestWallet.randomAddress());
    await a.connectTo(b, 60_000);
    await a.disconnectFrom(b);
    await bpdAtTip(c, won[1]);
    await waitFor('the reorg notifications', () => log.filter((x) => x.t === 'reorg').length === 2);
    await waitFor('the payment withdrawn for good', () =>
      story(pay.txid).some((s) => s[0] === 'activityWithdrawn' && s[2] === false),
    );

    // The spend: confirmed, back in the mempool (announced again), withdrawn with inMempool.
    assert.deepEqual(story(spend.txid), [
      ['match', null],
      ['match', lostHeight],
      ['match', null],
      ['matchWithdrawn', lostHeight, true],
    ]);
    const w = log.find((x) => x.t === 'matchWithdrawn')!;
    assert.ok(w.t === 'matchWithdrawn');
    assert.equal(w.e.blockHash, lostHash);
    assert.equal(w.e.vin, 0);
    assert.deepEqual(w.e.bindings, { A: toHex(lock.key), n: 2 });
    // The payment: withdrawn while back in the mempool, then again once B's double spend confirmed.
    assert.deepEqual(story(pay.txid), [
      ['activity', null],
      ['activity', lostHeight],
      ['activity', null],
      ['activityWithdrawn', lostHeight, true],
      ['activityWithdrawn', lostHeight, false],
    ]);
    // The coinbase never returns to a mempool.
    assert.deepEqual(story(coinbaseTxid), [
      ['activity', lostHeight],
      ['activityWithdrawn', lostHeight, false],
    ]);
    const cw = log.find((x) => x.t === 'activityWithdrawn' && x.e.txid === coinbaseTxid)!;
    assert.ok(cw.t === 'activityWithdrawn');
    assert.deepEqual([cw.e.kind, cw.e.derivationIndex, cw.e.blockHash], ['funding', 2, lostHash]);

    // Withdrawals of the disconnected block come before the reorg notification (each
    // subscription has its own socket: order holds within one).
    const reorgOn = (on: string) => log.findIndex((x) => x.t === 'reorg' && x.on === on);
    for (const on of ['match', 'descriptor']) {
      const r = log[reorgOn(on)];
      assert.ok(r?.t === 'reorg', `reorg seen by the ${on} subscription`);
      assert.deepEqual([r.fromHeight, r.toHeight], [lostHeight, lostHeight]);
    }
    assert.ok(log.findIndex((x) => x.t === 'matchWithdrawn') < reorgOn('match'));
    assert.ok(
      log.findIndex((x) => x.t === 'activityWithdrawn' && x.e.txid === coinbaseTxid) < reorgOn('descriptor'),
    );

    // Queries agree: nothing of the lost block is confirmed any more.
    const m = await c.match(PATTERN);
    assert.deepEqual(
      m.items.filter((i) => i.txid === spend.txid).map((i) => i.height),
      [null],
    );
    const h = await c.descriptorHistory(DESC);
    assert.ok(!h.items.some((i) => i.txid === coinbaseTxid || (i.txid === pay.txid && i.height !== null)));
  });

  test('the spend confirms again on the new branch and is published again as a match', async () => {
    if (!(await a.mempool()).includes(spend.txid)) await send(a, spend);
    const [hash] = await a.mine(1, TestWallet.randomAddress());
    const height = await a.height();
    await bpdAtTip(c, hash);
    await waitFor('the match again', () => story(spend.txid).length === 5);
    assert.deepEqual(story(spend.txid).slice(4), [['match', height]]);
    const again = log.filter((x) => x.t === 'match' && x.e.txid === spend.txid).pop()!;
    assert.ok(again.t === 'match');
    assert.equal(again.e.blockHash, hash);
    const m = await c.match(PATTERN);
    assert.deepEqual(
      m.items.filter((i) => i.txid === spend.txid).map((i) => i.height),
      [height],
    );
    // Nothing more about the payment or the coinbase.
    assert.equal(story(pay.txid).length, 5);
    assert.equal(story(coinbaseTxid).length, 2);
  });
});
