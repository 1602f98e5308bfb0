import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { blockChecksum, inputLo, onchainHi, outputLo, shortIdFromParts } from '@lnpbp/bitcoin/shortid/index';
import { type BodyOf, type Gap, type Notification, Publisher, Subscriber } from '@lnpbp/bus';
import { type BpdMessages, bpdMessages, MAX_BATCH_ITEMS, WATCH_BATCH_BYTES } from '../src/api/messages.ts';
import { Pusher } from '../src/api/push.ts';
import { WatchTable } from '../src/api/watch.ts';
import { type Index, openIndex } from '../src/index/index.ts';
import { Mempool } from '../src/index/mempool.ts';
import { ChainBuilder, type Coin, makeTx, tempDir, testScript, txidOf } from './index-support.ts';

type Body = BodyOf<BpdMessages, 'watchMatches'>;
type N = Notification<BpdMessages>;

/**
 * Records what the pusher publishes, in order. Bodies it encoded itself are decoded with the
 * schema, and must be exactly the schema's encoding of what they decode to.
 */
class Recorder {
  readonly sent: { topic: string; name: string; body: unknown }[] = [];
  publish(topic: string, name: string, body: unknown): void {
    this.sent.push({ topic, name, body });
  }
  publishEncoded(topic: string, name: string, bytes: Uint8Array): void {
    const d = bpdMessages.decode(bpdMessages.typeId(name as 'watchMatches'), bytes);
    assert.deepEqual(
      bpdMessages.encode('watchMatches', d.body as Body),
      bytes,
      'the schema encodes it alike',
    );
    this.sent.push({ topic, name, body: d.body });
  }
  matches(topic?: string): Body[] {
    return this.sent
      .filter((s) => s.name === 'watchMatches' && (topic === undefined || s.topic === topic))
      .map((s) => s.body as Body);
  }
}

const hex = toHex;
const sortBy = <T>(xs: T[], k: (x: T) => string) => [...xs].sort((a, b) => k(a).localeCompare(k(b)));

/**
 * Watch-set push, batched per channel: a synthetic regtest chain indexed into a real LMDB index,
 * watch sets in channels, and what the pusher publishes checked against the txs the test built.
 */
describe('push: watch matches batched per channel', () => {
  const tmp = tempDir('push');
  let ix: Index;
  const c = new ChainBuilder(7);
  const coins: Coin[] = [];

  before(() => {
    ix = openIndex(tmp.dir, 'regtest', { durability: 'os' });
    for (let i = 0; i < 6; i++) coins.push(c.add());
    for (let h = 0; h <= c.height; h++) ix.connectBlock(c.blocks[h], h);
  });

  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  it('one message per channel per block and per mempool tx; entries tagged with their set; spends again when confirmed; scripts from the undo data', () => {
    const pay = testScript(900);
    const watches = new WatchTable(null);
    // Channel "A": three sets; channel "B": one set sharing an outpoint with A's "a1".
    watches.add('a1', [{ txid: coins[0].txid, vout: 0 }], [], false, 'A');
    watches.add(
      'a2',
      [
        { txid: coins[1].txid, vout: 0 },
        { txid: new Uint8Array(32).fill(9), vout: 1 },
      ],
      [],
      false,
      'A',
    );
    watches.add('a3', [], [coins[2].script, pay], false, 'A');
    watches.add('b1', [{ txid: coins[0].txid, vout: 0 }], [], false, 'B');
    watches.add('unmatched', [{ txid: coins[5].txid, vout: 0 }], [], false, 'A');
    const rec = new Recorder();
    const mempool = new Mempool(ix);
    const pusher = new Pusher(ix, mempool, watches, rec);
    pusher.attach({ on: () => undefined });

    // t1 spends coins 0 and 1 and pays `pay`; t2 spends coin 2 (a3's script) and t1's payment.
    const t1 = makeTx(
      [
        { txid: coins[0].txid, vout: 0 },
        { txid: coins[1].txid, vout: 0 },
      ],
      [
        { value: 70n * 100_000_000n, script: pay },
        { value: 29n * 100_000_000n, script: testScript(901) },
      ],
    );
    const t1id = txidOf(t1);
    const t2 = makeTx(
      [
        { txid: coins[2].txid, vout: 0 },
        { txid: t1id, vout: 0 },
      ],
      [{ value: 119n * 100_000_000n, script: testScript(902) }],
    );
    const t2id = txidOf(t2);

    // From the mempool: t1 alone (one message per channel, no height).
    assert.equal(mempool.add(t1), 'added');
    const memA = rec.matches('watch/A');
    const memB = rec.matches('watch/B');
    assert.equal(memA.length, 1);
    assert.equal(memB.length, 1);
    assert.equal(memA[0].height, undefined);
    assert.equal(memA[0].channel, 'A');
    assert.equal(memA[0].more, false);
    assert.deepEqual(
      sortBy(memA[0].subscriptions, (s) => s.subscription).map((s) => [
        s.subscription,
        s.spends.map((m) => [hex(m.txid), m.vout, hex(m.spendingTxid), m.vin]),
        s.scripts.map((m) => [hex(m.script), hex(m.txid), m.kind, m.index, m.value]),
      ]),
      [
        ['a1', [[hex(coins[0].txid), 0, hex(t1id), 0]], []],
        ['a2', [[hex(coins[1].txid), 0, hex(t1id), 1]], []],
        ['a3', [], [[hex(pay), hex(t1id), 0, 0, 70n * 100_000_000n]]],
      ],
    );
    assert.deepEqual(
      memB[0].subscriptions.map((s) => [s.subscription, s.spends.map((m) => m.vin)]),
      [['b1', [0]]],
    );

    // Confirmed: t1 and t2 in one block -> again one message per channel, with every match.
    rec.sent.length = 0;
    c.add([t1, t2]);
    const height = c.height;
    const r = ix.connectBlock(c.blocks[height], height);
    pusher.blockConnected(r);
    const hi = onchainHi(height, blockChecksum(r.hash));
    const blkA = rec.matches('watch/A');
    assert.equal(blkA.length, 1);
    assert.equal(rec.matches('watch/B').length, 1);
    assert.equal(rec.matches().length, 2, 'no message for a channel without matches');
    assert.equal(blkA[0].height, height);
    assert.deepEqual(blkA[0].blockHash, r.hash);
    const byId = new Map(blkA[0].subscriptions.map((s) => [s.subscription, s]));
    assert.deepEqual([...byId.keys()].sort(), ['a1', 'a2', 'a3']);
    assert.deepEqual(byId.get('a1')!.spends, [
      {
        txid: coins[0].txid,
        vout: 0,
        spendingTxid: t1id,
        vin: 0,
        shortId: shortIdFromParts(hi, inputLo(1, 0)),
      },
    ]);
    assert.equal(byId.get('a2')!.spends[0].shortId, shortIdFromParts(hi, inputLo(1, 1)));
    // a3: t1 funds `pay` (vout 0), t2 spends coin 2 (a3's script, value from the undo data) and
    // the `pay` output of the same block.
    assert.deepEqual(
      byId.get('a3')!.scripts.map((m) => [hex(m.script), hex(m.txid), m.kind, m.index, m.value, m.shortId]),
      [
        [hex(pay), hex(t1id), 0, 0, 70n * 100_000_000n, shortIdFromParts(hi, outputLo(1, 0))],
        [hex(coins[2].script), hex(t2id), 1, 0, coins[2].value, shortIdFromParts(hi, inputLo(2, 0))],
        [hex(pay), hex(t2id), 1, 1, 70n * 100_000_000n, shortIdFromParts(hi, inputLo(2, 1))],
      ],
    );
    assert.equal(pusher.counts.spend, 3 + 3);
    assert.equal(pusher.counts.script, 1 + 3);
  });

  it('cuts a channel with more than MAX_BATCH_ITEMS matches into parts, `more` on all but the last', () => {
    const watches = new WatchTable(null);
    const n = MAX_BATCH_ITEMS + 1_500;
    for (let i = 0; i < n; i++) watches.add(`s${i}`, [{ txid: coins[3].txid, vout: 0 }], [], false, 'big');
    const rec = new Recorder();
    const pusher = new Pusher(ix, new Mempool(ix), watches, rec);
    const spend = makeTx([{ txid: coins[3].txid, vout: 0 }], [{ value: 1n, script: testScript(903) }]);
    c.add([spend]);
    pusher.blockConnected(ix.connectBlock(c.blocks[c.height], c.height));
    const parts = rec.matches('watch/big');
    assert.deepEqual(
      parts.map((p) => [p.subscriptions.length, p.more]),
      [
        [MAX_BATCH_ITEMS, true],
        [1_500, false],
      ],
    );
    const ids = new Set(parts.flatMap((p) => p.subscriptions.map((s) => s.subscription)));
    assert.equal(ids.size, n, 'every set once');
    // Each part fits the schema and the byte budget.
    for (const p of parts) {
      const bytes = bpdMessages.encode('watchMatches', p);
      assert.ok(bytes.length <= WATCH_BATCH_BYTES);
      assert.deepEqual(bpdMessages.decode(bpdMessages.typeId('watchMatches'), bytes).body.more, p.more);
    }
  });

  it('cuts parts by bytes too: long scripts', () => {
    const watches = new WatchTable(null);
    // 300 sets watching a 9,000-byte script that one block pays 1 output: 2.7 MB of entries.
    const big = new Uint8Array(9_000).fill(0x51);
    for (let i = 0; i < 300; i++) watches.add(`long-${i}`, [], [big], false, 'bytes');
    const rec = new Recorder();
    const pusher = new Pusher(ix, new Mempool(ix), watches, rec);
    const pay = makeTx([{ txid: coins[5].txid, vout: 0 }], [{ value: 1n, script: big }]);
    c.add([pay]);
    pusher.blockConnected(ix.connectBlock(c.blocks[c.height], c.height));
    const parts = rec.matches('watch/bytes');
    assert.ok(parts.length >= 3);
    assert.deepEqual(
      parts.map((p) => p.more),
      parts.map((_, i) => i < parts.length - 1),
    );
    let entries = 0;
    for (const p of parts) {
      assert.ok(bpdMessages.encode('watchMatches', p).length <= WATCH_BATCH_BYTES);
      for (const s of p.subscriptions) entries += s.scripts.length;
    }
    assert.equal(entries, 300);
  });

  it('persisted sets keep their channel across a restart (a new table loading the directory)', () => {
    const dir = tempDir('push-watch');
    try {
      const t = new WatchTable(dir.dir);
      t.add('keep', [{ txid: coins[4].txid, vout: 0 }], [], true, 'app');
      t.add('drop', [{ txid: coins[4].txid, vout: 0 }], [], false, 'app');
      // Moving a persisted set to another channel is persisted too.
      t.add('moved', [{ txid: coins[4].txid, vout: 0 }], [], true, 'old');
      t.add('moved', [], [], false, 'app2');
      const u = new WatchTable(dir.dir);
      assert.deepEqual(u.load(), { sets: 2, skipped: [] });
      assert.equal(u.sets.get('keep')!.channel, 'app');
      assert.equal(u.sets.get('moved')!.channel, 'app2');
      assert.equal(u.sets.has('drop'), false);
      const rec = new Recorder();
      const pusher = new Pusher(ix, new Mempool(ix), u, rec);
      const spend = makeTx([{ txid: coins[4].txid, vout: 0 }], [{ value: 1n, script: testScript(904) }]);
      c.add([spend]);
      pusher.blockConnected(ix.connectBlock(c.blocks[c.height], c.height));
      assert.deepEqual(
        rec.matches().map((m) => [m.channel, m.subscriptions.map((s) => s.subscription)]),
        [
          ['app', ['keep']],
          ['app2', ['moved']],
        ],
      );
      // Removing one set leaves the other watching the shared outpoint; removing both, none.
      assert.equal(u.remove('keep'), true);
      assert.deepEqual(
        u.watchersOfOutpoint(coins[4].txid, 0)?.map((x) => x.id),
        ['moved'],
      );
      assert.equal(u.remove('moved'), true);
      assert.equal(u.watchersOfOutpoint(coins[4].txid, 0), undefined);
      assert.equal(u.hasOutpoints, false);
      assert.equal(u.itemCount, 0);
    } finally {
      dir.cleanup();
    }
  });

  it('over real sockets: the channel topic numbers batches, and a subscriber that fell behind sees the gap', async () => {
    const dir = tempDir('push-sock');
    const ep = `ipc://${dir.dir}/p.sock`;
    const pub = await Publisher.start({ schema: bpdMessages, endpoints: [ep], highWaterMark: 5 });
    const gaps: Gap[] = [];
    const sub = new Subscriber({
      schema: bpdMessages,
      endpoint: ep,
      topics: ['watch/A'],
      onGap: (g) => gaps.push(g),
    });
    try {
      // One watched mempool tx, announced again and again: each time one `watchMatches` on watch/A.
      const coin = c.add();
      ix.connectBlock(c.blocks[c.height], c.height);
      const watches = new WatchTable(null);
      watches.add('x', [{ txid: coin.txid, vout: 0 }], [], false, 'A');
      const mempool = new Mempool(ix);
      const pusher = new Pusher(ix, mempool, watches, pub);
      const raw = makeTx([{ txid: coin.txid, vout: 0 }], [{ value: 1n, script: testScript(905) }]);
      assert.equal(mempool.add(raw), 'added');
      const entry = mempool.get(txidOf(raw))!;
      const it = sub[Symbol.asyncIterator]();
      // Warm up: until the subscription is live.
      let next = it.next();
      for (;;) {
        pusher.mempoolAdded(entry);
        const r = await Promise.race([next, new Promise((res) => setTimeout(res, 20))]);
        if (r) break;
      }
      next = it.next();
      const firstSeq = pub.sequence('watch/A') + 1n;
      // A burst while the subscriber does not read: ZeroMQ drops past the high-water marks.
      for (let i = 0; i < 5_000; i++) pusher.mempoolAdded(entry);
      await pub.flush();
      // Then one more at a time until the last one published arrives (the burst's own last one
      // may have been dropped).
      let last = pub.sequence('watch/A');
      let received = 0n;
      for (;;) {
        const r = await Promise.race([
          next,
          new Promise<undefined>((res) => setTimeout(() => res(undefined), 20)),
        ]);
        if (!r) {
          pusher.mempoolAdded(entry);
          last = pub.sequence('watch/A');
          continue;
        }
        const n = r.value as N;
        next = it.next();
        assert.equal(n.name, 'watchMatches');
        if (n.seq >= firstSeq) received++;
        if (n.seq === last) break;
      }
      assert.ok(gaps.length > 0, 'the burst dropped something and it was reported');
      let missed = 0n;
      for (const g of gaps) {
        assert.equal(g.topic, 'watch/A');
        assert.equal(g.reason, 'gap');
        assert.equal(g.missed, g.received - g.expected);
        if (g.received > firstSeq) missed += g.received - (g.expected > firstSeq ? g.expected : firstSeq);
      }
      // Every batch published in the burst was received or reported missed.
      assert.equal(received + missed, last - firstSeq + 1n);
    } finally {
      sub.close();
      pub.close();
      dir.cleanup();
    }
  });
});
