import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { addressParams, addressToScript } from '@lnpbp/bitcoin/address/index';
import { formatShortId } from '@lnpbp/bitcoin/shortid/index';
import { type BpClient, BpdError, type SpendEvent, type WatchMatches } from '@lnpbp/bp-client';
import { RpcError } from '@lnpbp/bus';
import { type BpdProcess, bpdAtTip, bpdReady, removeDir, startBpd } from './api-support.ts';
import { type BcoinNode, startBcoin } from './harness/bcoin.ts';
import { waitFor } from './harness/wait.ts';
import { type BuiltTx, TestWallet } from './harness/wallet.ts';

/**
 * bpd's query API and push end to end: a real bcoin regtest node, the real bpd binary following
 * it over P2P, and the typed client over the ipc bus. Truth comes from bcoin (what it mined and
 * relayed) and from the transactions the test built.
 */
describe('bpd API against bcoin regtest', () => {
  let a: BcoinNode;
  let b: BcoinNode;
  let wallet: TestWallet;
  let bpd: BpdProcess;
  let c: BpClient;

  const send = async (built: BuiltTx) => {
    await a.rpc('sendrawtransaction', [built.hex]);
    await wallet.waitInMempool(built.txid);
    wallet.markSent(built);
  };
  const mine = async (n = 1) => {
    const hashes = await wallet.mine(n);
    await bpdAtTip(c, hashes[hashes.length - 1]);
    return hashes;
  };

  before(async () => {
    [a, b] = await Promise.all([startBcoin(), startBcoin()]);
    wallet = new TestWallet(a);
    await wallet.prepare();
    // b shares the chain up to here; later it mines a heavier branch for the reorg test.
    await b.connectTo(a);
    await b.disconnectFrom(a);
    bpd = await startBpd(a.p2pUrl);
    await bpdReady(bpd);
    c = await bpd.client();
    await bpdAtTip(c, await a.bestHash());
  });

  let watchSub: { close(): Promise<void> } | undefined;

  after(async () => {
    await watchSub?.close();
    c?.close();
    await bpd?.stop();
    if (bpd) removeDir(bpd.datadir);
    await Promise.all([a?.stop(), b?.stop()]);
  });

  test('status, header, block and tx by txid and short id agree with bcoin', async () => {
    // Synced once the mempool is loaded, just after the tip.
    const info = await waitFor('synced', async () => {
      const i = await c.getinfo();
      return i.syncing ? null : i;
    });
    assert.equal(info.network, 'regtest');
    assert.equal(info.tip!.height, await a.height());
    assert.equal(info.tip!.hash, await a.bestHash());
    assert.equal(info.syncing, false);
    const h = await c.header(100);
    assert.equal(h.hash, await a.blockHash(100));
    assert.equal((await c.header(h.hash)).height, 100);
    const blk = await c.block(h.hash);
    assert.deepEqual(Buffer.from(blk.raw), Buffer.from(await a.rawBlock(h.hash)));
    const bc = await a.rpc<{ tx: { txid: string }[] }>('getblock', [h.hash, true, true]);
    const coinbase = await c.tx(bc.tx[0].txid);
    assert.equal(coinbase.height, 100);
    assert.equal(coinbase.position, 0);
    assert.equal((await c.tx(coinbase.shortId)).txid, bc.tx[0].txid);
    const r = await c.shortidResolve(coinbase.shortId);
    assert.equal(r.blockHash, h.hash);
    assert.deepEqual(await c.shortidOf({ blockHash: h.hash }), { shortId: h.shortId, confirmed: true });
  });

  test('bad queries get typed error replies, and the server keeps answering', async () => {
    const codeOf = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        assert.ok(e instanceof RpcError, String(e));
        return e.code;
      }
      assert.fail('expected an error reply');
    };
    assert.equal(await codeOf(c.header(10_000_000)), BpdError.notFound);
    assert.equal(await codeOf(c.tx('00'.repeat(32))), BpdError.notFound);
    assert.equal(await codeOf(c.history({ address: 'bc1notanaddress' })), BpdError.badRequest);
    assert.equal(
      await codeOf(c.history({ address: TestWallet.randomAddress() }, { limit: 5000 })),
      BpdError.badRequest,
    );
    assert.equal(
      await codeOf(c.history({ address: TestWallet.randomAddress() }, { cursor: 'ff00' })),
      BpdError.badCursor,
    );
    assert.equal(await codeOf(c.broadcast('0100')), BpdError.rejected);
    assert.equal(await codeOf(c.rpc.request('header', {})), BpdError.badRequest);
    assert.equal(await codeOf(c.watch({ subscription: 'bad/id' })), BpdError.badRequest);
    assert.equal((await c.getinfo()).network, 'regtest');
  });

  let paid: BuiltTx;
  const payee = TestWallet.randomAddress();

  test('a payment: outspend and history from the mempool, then confirmed', async () => {
    paid = await wallet.build(payee, 70_000n);
    await send(paid);
    await waitFor('tx in bpd mempool', async () => (await c.mempoolList()).items.includes(paid.txid));
    const sp = await c.outspend(paid.spent.txid, paid.spent.vout);
    assert.deepEqual(
      { ...sp, shortId: undefined },
      { spent: true, txid: paid.txid, vin: 0, height: null, shortId: undefined },
    );
    const hist = await c.history({ address: payee });
    assert.deepEqual(
      hist.items.map((i) => [i.txid, i.height, i.kind, i.index, i.value]),
      [[paid.txid, null, 'funding', 0, 70_000n]],
    );
    const entry = await c.mempoolEntry(paid.txid);
    assert.equal(entry.fee, 2_000n);
    assert.equal((await c.balance({ address: payee })).unconfirmedIn, 70_000n);

    const [hash] = await mine(1);
    const height = await a.height();
    const confirmed = await c.outspend(paid.spent.txid, paid.spent.vout);
    assert.ok(confirmed.spent);
    assert.equal(confirmed.height, height);
    assert.equal(formatShortId(confirmed.shortId).split(':')[0], String(height));
    const t = await c.tx(paid.txid);
    assert.equal(t.blockHash, hash);
    const u = await c.utxos({ address: payee });
    assert.deepEqual(
      u.items.map((x) => [x.txid, x.vout, x.value, x.height]),
      [[paid.txid, 0, 70_000n, height]],
    );
    // Electrum-style script hash: sha256 of the scriptPubKey, reversed hex.
    const script = addressToScript(payee, addressParams('regtest', { hrp: 'rb' }));
    const scriptHash = createHash('sha256').update(script).digest().reverse().toString('hex');
    const byScriptHash = await c.history({ scriptHash });
    assert.deepEqual(
      byScriptHash.items.map((i) => i.txid),
      [paid.txid],
    );
    assert.deepEqual(await c.mempoolList(), { items: [], next: null });
  });

  test('history pages by cursor in chain order', async () => {
    const addr = TestWallet.randomAddress();
    const txids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = await wallet.build(addr, BigInt(10_000 + i));
      await send(t);
      txids.push(t.txid);
    }
    await mine(1);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p: Awaited<ReturnType<BpClient['history']>> = await c.history(
        { address: addr },
        { cursor, limit: 2 },
      );
      assert.ok(p.items.length <= 2);
      seen.push(...p.items.map((i) => i.txid));
      cursor = p.next;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(new Set(seen), new Set(txids));
    const all: string[] = [];
    for await (const e of c.historyAll({ address: addr }, 2)) all.push(e.txid);
    assert.deepEqual(all, seen);
  });

  let watched: BuiltTx;
  const spends: SpendEvent[] = [];
  const reorgs: { fromHeight: number; toHeight: number }[] = [];

  test('a watched outpoint: its spend arrives from the mempool, then again confirmed', async () => {
    // Not watched: no notification for it.
    await send(await wallet.build(TestWallet.randomAddress(), 1_000n));
    watched = await wallet.build(TestWallet.randomAddress(), 55_000n);
    const ws = await c.watchSubscribe(
      {
        outpoints: [
          { txid: watched.spent.txid, vout: watched.spent.vout },
          { txid: '11'.repeat(32), vout: 7 },
        ],
      },
      { onSpend: (e) => spends.push(e), onReorg: (r) => reorgs.push(r) },
    );
    // It keeps listening through the reorg test; closed in after().
    watchSub = ws;
    assert.equal((await c.getinfo()).watchItems >= 2, true);
    await send(watched);
    await waitFor('mempool spend', () => spends.length >= 1);
    assert.equal(spends.length, 1);
    assert.equal(spends[0].subscription, ws.id);
    assert.equal(spends[0].txid, watched.spent.txid);
    assert.equal(spends[0].spendingTxid, watched.txid);
    assert.equal(spends[0].height, null);
    const [hash] = await mine(1);
    await waitFor('confirmed spend', () => spends.length >= 2);
    assert.equal(spends[1].height, await a.height());
    assert.equal(spends[1].blockHash, hash);
    assert.equal(spends[1].spendingTxid, watched.txid);
    assert.equal(spends.length, 2);
  });

  test('a reorg: `reorg` notification, the spend back in the mempool, answers corrected', async () => {
    const before = await a.height();
    const heightOfSpend = spends[1].height!;
    // b forked below both payments; a heavier branch of b replaces a's blocks.
    const forkHeight = await b.height();
    const winning = await b.mine(before - forkHeight + 2, TestWallet.randomAddress());
    await a.connectTo(b);
    await bpdAtTip(c, winning[winning.length - 1]);
    await waitFor('reorg notification', () => reorgs.length >= 1);
    assert.deepEqual(
      { fromHeight: reorgs[0].fromHeight, toHeight: reorgs[0].toHeight },
      { fromHeight: forkHeight + 1, toHeight: before },
    );
    assert.ok(heightOfSpend > forkHeight);
    // The disconnected spend is back in bpd's mempool: announced again, without a height.
    await waitFor('spend again from the mempool', () => spends.length >= 3);
    assert.equal(spends[2].height, null);
    const sp = await c.outspend(watched.spent.txid, watched.spent.vout);
    assert.ok(sp.spent);
    assert.equal(sp.height, null);
    const hist = await c.history({ address: payee });
    assert.deepEqual(
      hist.items.map((i) => [i.txid, i.height]),
      [[paid.txid, null]],
    );
    const info = await c.getinfo();
    assert.equal(info.tip!.hash, winning[winning.length - 1]);
    // And confirmed once more on the new branch (bcoin may not have put it back in its own mempool).
    if (!(await a.mempool()).includes(watched.txid)) await a.rpc('sendrawtransaction', [watched.hex]);
    await wallet.waitInMempool(watched.txid);
    const [hash] = await mine(1);
    await waitFor('spend confirmed on the new branch', () =>
      spends.some((s, i) => i >= 3 && s.blockHash === hash),
    );
    assert.equal((await c.outspend(watched.spent.txid, watched.spent.vout)).spent, true);
    await a.disconnectFrom(b);
  });

  test('a channel of watch sets: persisted ones survive a bpd restart, the client registers the others again', async () => {
    const keep = await wallet.build(TestWallet.randomAddress(), 33_000n);
    // A client of its own, kept open across the restart (ZeroMQ reconnects it).
    const cc = await bpd.client();
    const got: SpendEvent[] = [];
    const batches: WatchMatches[] = [];
    const resyncs: string[] = [];
    const ch = await cc.watchChannel({
      channel: 'app',
      onSpend: (e) => got.push(e),
      onMatches: (m) => batches.push(m),
      onResync: (g) => resyncs.push(g.reason),
    });
    const outpoints = [{ txid: keep.spent.txid, vout: keep.spent.vout }];
    const persisted = await ch.watch({ subscription: 'keep-me', outpoints, persist: true });
    assert.deepEqual([persisted.channel, persisted.persisted], ['app', true]);
    await ch.watch({ subscription: 'forget-me', outpoints });
    await c.watch({ subscription: 'forget-me-too', outpoints: [{ txid: '22'.repeat(32), vout: 0 }] });
    c.close();
    assert.equal(await bpd.stop(), 0);
    bpd = await startBpd(a.p2pUrl, [], bpd.datadir);
    await bpdReady(bpd);
    c = await bpd.client();
    await bpdAtTip(c, await a.bestHash());
    // Only the persisted set came back: one registered by a plain request died with the process
    // (the channel's own may already be registered again: bpd's `hello` tells it of the restart).
    assert.equal(await c.unwatch('forget-me-too'), false, 'only the persisted set came back');
    // The channel learns of the restart from `hello` (or the next notification), registers its
    // non-persisted set again, then asks the app to resync.
    await mine(1);
    await waitFor('restart seen and sets registered again', () => resyncs.includes('restart'));
    assert.equal((await c.getinfo()).watchSets, 2);
    await send(keep);
    try {
      await waitFor('both sets matched', () => got.length >= 2);
    } catch (e) {
      // What bpd knows then, to tell a missed notification from a tx bpd never saw.
      const seen = {
        got,
        batches: batches.length,
        outspend: await c.outspend(keep.spent.txid, keep.spent.vout),
      };
      console.error('no spend notification:', seen);
      throw e;
    }
    const last = batches[batches.length - 1];
    assert.equal(last.channel, 'app');
    assert.equal(last.height, undefined);
    assert.deepEqual(last.subscriptions.map((s) => s.subscription).sort(), ['forget-me', 'keep-me']);
    assert.deepEqual(
      got.map((e) => [e.subscription, e.channel, e.txid, e.vout, e.spendingTxid, e.height]).sort(),
      [
        ['forget-me', 'app', keep.spent.txid, keep.spent.vout, keep.txid, null],
        ['keep-me', 'app', keep.spent.txid, keep.spent.vout, keep.txid, null],
      ],
    );
    // Confirmed: again, in one batch with the block's height; the channel's numbers have no gap.
    const [hash] = await mine(1);
    await waitFor('confirmed batch', () => got.length >= 4);
    assert.deepEqual(
      got
        .slice(2)
        .map((e) => [e.subscription, e.height, e.blockHash])
        .sort(),
      [
        ['forget-me', await a.height(), hash],
        ['keep-me', await a.height(), hash],
      ],
    );
    assert.equal(batches[batches.length - 1].seq, batches[batches.length - 2].seq + 1n);
    await ch.close(true);
    cc.close();
    assert.equal((await c.getinfo()).watchSets, 0);
  });
});
