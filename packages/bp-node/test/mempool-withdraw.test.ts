import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { compilePattern } from '@lnpbp/bitcoin/pattern/index';
import { offchainInputId, offchainOutputId } from '@lnpbp/bitcoin/shortid/index';
import type { BodyOf } from '@lnpbp/bus';
import { MatchPusher, MatchWatchTable } from '../src/api/match.ts';
import { type BpdMessages, bpdMessages } from '../src/api/messages.ts';
import { Pusher } from '../src/api/push.ts';
import { WatchTable } from '../src/api/watch.ts';
import { type Index, openIndex } from '../src/index/index.ts';
import { Mempool } from '../src/index/mempool.ts';
import { watchOnlyDescriptor } from '../src/match/descriptor.ts';
import { ChainBuilder, type Coin, makeTx, tempDir, testScript, txidOf } from './index-support.ts';

type Matches = BodyOf<BpdMessages, 'watchMatches'>;

/** What the pushers publish, in order; self-encoded bodies decoded and re-encoded alike. */
class Recorder {
  readonly sent: { topic: string; name: string; body: Record<string, unknown> }[] = [];
  publish(topic: string, name: string, body: unknown): void {
    if (name === 'hello') return;
    this.sent.push({ topic, name, body: body as Record<string, unknown> });
  }
  publishEncoded(topic: string, name: 'watchMatches' | 'watchWithdrawn', bytes: Uint8Array): void {
    const d = bpdMessages.decode(bpdMessages.typeId(name), bytes);
    assert.equal(d.name, name);
    assert.deepEqual(bpdMessages.encode(name, d.body as Matches), bytes, 'the schema encodes it alike');
    this.sent.push({ topic, name, body: d.body as Record<string, unknown> });
  }
  take(): { topic: string; name: string; body: Record<string, unknown> }[] {
    return this.sent.splice(0);
  }
}

const hex = toHex;
/** A watch body's entries as short tuples, by set. */
const entries = (b: Record<string, unknown>) =>
  (b as unknown as Matches).subscriptions.map((s) => [
    s.subscription,
    s.spends.map((m) => [hex(m.txid), m.vout, hex(m.spendingTxid), m.vin, m.shortId]),
    s.scripts.map((m) => [hex(m.script), hex(m.txid), m.kind, m.index, m.value, m.shortId]),
  ]);

/**
 * Mempool exits announced: a real LMDB index over a synthetic regtest chain, the real Mempool,
 * and both pushers (watch sets; patterns and descriptors) attached to it as bpd attaches them.
 * Every way a tx leaves without confirming (the source drops it, a replacement, a block's double
 * spend, with its descendants) must take back exactly what its arrival published; a
 * confirmation takes nothing back.
 */
describe('push: mempool txs that leave without confirming are withdrawn', () => {
  const tmp = tempDir('withdraw');
  let ix: Index;
  const c = new ChainBuilder(11);
  const coins: Coin[] = [];
  const watched = testScript(905);
  const PATTERN = '1 <num@t> OP_DROP';

  before(() => {
    ix = openIndex(tmp.dir, 'regtest', { durability: 'os' });
    for (let i = 0; i < 6; i++) coins.push(c.add());
    for (let h = 0; h <= c.height; h++) ix.connectBlock(c.blocks[h], h);
  });

  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  const setup = () => {
    const watches = new WatchTable(null);
    for (const [i, coin] of coins.entries())
      watches.add(`op${i}`, [{ txid: coin.txid, vout: coin.vout }], [], false, 'ch');
    watches.add('pay', [], [watched], false, 'ch');
    const table = new MatchWatchTable(null);
    table.addPattern('pat', compilePattern(PATTERN), PATTERN, false);
    const desc = `raw(${hex(watched)})`;
    table.addDescriptor('desc', watchOnlyDescriptor(desc), desc, 1, false, [-1]);
    const rec = new Recorder();
    const mempool = new Mempool(ix);
    const mp = new MatchPusher(ix, mempool, table, rec);
    const pusher = new Pusher(ix, mempool, watches, rec, mp, { helloIntervalMs: 0 });
    pusher.attach({ on: () => undefined });
    return { rec, mempool, pusher };
  };

  it("the source drops a tx (evicted): its matches and its descendants' are withdrawn, as they came", () => {
    const { rec, mempool, pusher } = setup();
    // t1 spends coin 0 and pays the watched script; t2 spends coin 1 and t1's payment.
    const t1 = makeTx([{ txid: coins[0].txid, vout: 0 }], [{ value: 1_000n, script: watched }]);
    const t1id = txidOf(t1);
    const t2 = makeTx(
      [
        { txid: coins[1].txid, vout: 0 },
        { txid: t1id, vout: 0 },
      ],
      [{ value: 900n, script: testScript(906) }],
    );
    const t2id = txidOf(t2);
    assert.equal(mempool.add(t1), 'added');
    assert.equal(mempool.add(t2), 'added');
    const arrived = rec.take();
    const arrivals = arrived.filter((s) => s.name === 'watchMatches');
    assert.equal(arrivals.length, 2);
    assert.deepEqual(entries(arrivals[0].body), [
      ['op0', [[hex(coins[0].txid), 0, hex(t1id), 0, offchainInputId(t1id, 0)]], []],
      ['pay', [], [[hex(watched), hex(t1id), 0, 0, 1_000n, offchainOutputId(t1id, 0)]]],
    ]);
    // The pattern saw both outputs (every testScript has its shape); the descriptor t1's output
    // and t2's spend of it.
    assert.deepEqual(
      arrived.filter((s) => s.name === 'patternMatch' || s.name === 'descriptorActivity').map((s) => s.topic),
      ['match/pat', 'descriptor/desc', 'match/pat', 'descriptor/desc'],
    );

    assert.equal(mempool.remove(t1id, 'evicted'), 2);
    const gone = rec.take();
    const w = gone.filter((s) => s.name === 'watchWithdrawn');
    assert.deepEqual(
      w.map((s) => [s.topic, s.body.height, s.body.blockHash]),
      [
        ['watch/ch', undefined, undefined],
        ['watch/ch', undefined, undefined],
      ],
    );
    // Exactly what arrived, tx by tx (t2's spend of the payment kept its value though t1 left first).
    assert.deepEqual(
      w.map((s) => entries(s.body)),
      arrivals.map((s) => entries(s.body)),
    );
    const pw = gone.filter((s) => s.name === 'patternWithdrawn');
    assert.deepEqual(
      pw.map((s) => [s.topic, hex(s.body.txid as Uint8Array), s.body.vout, s.body.height, s.body.inMempool]),
      [
        ['match/pat', hex(t1id), 0, undefined, false],
        ['match/pat', hex(t2id), 0, undefined, false],
      ],
    );
    const dw = gone.filter((s) => s.name === 'descriptorWithdrawn');
    assert.deepEqual(
      dw.map((s) => [hex(s.body.txid as Uint8Array), s.body.kind, s.body.index, s.body.value, s.body.height]),
      [
        [hex(t1id), 0, 0, 1_000n, undefined],
        [hex(t2id), 1, 1, 1_000n, undefined],
      ],
    );
    assert.equal(pusher.counts.watchWithdrawn, 2);
    assert.equal(mempool.size, 0);
  });

  it('a replacement: the replaced tx is withdrawn before the new one is published', () => {
    const { rec, mempool } = setup();
    const a = makeTx([{ txid: coins[2].txid, vout: 0 }], [{ value: 1_000n, script: testScript(907) }]);
    const b = makeTx([{ txid: coins[2].txid, vout: 0 }], [{ value: 990n, script: testScript(908) }]);
    mempool.add(a);
    rec.take();
    assert.equal(mempool.add(b), 'added');
    const seen = rec.take().filter((s) => s.topic === 'watch/ch');
    assert.deepEqual(
      seen.map((s) => [s.name, hex((s.body as unknown as Matches).subscriptions[0].spends[0].spendingTxid)]),
      [
        ['watchWithdrawn', hex(txidOf(a))],
        ['watchMatches', hex(txidOf(b))],
      ],
    );
  });

  it("a block's double spend: withdrawn naming the block, before the block's own match; confirmed txs are not withdrawn", () => {
    const { rec, mempool, pusher } = setup();
    const mine = makeTx([{ txid: coins[3].txid, vout: 0 }], [{ value: 1_000n, script: testScript(909) }]);
    const theirs = makeTx([{ txid: coins[3].txid, vout: 0 }], [{ value: 800n, script: testScript(910) }]);
    const kept = makeTx([{ txid: coins[4].txid, vout: 0 }], [{ value: 1_000n, script: testScript(911) }]);
    mempool.add(mine);
    mempool.add(kept);
    rec.take();
    // What the Syncer does with a block: index it, update the mempool, then report it.
    c.add([theirs, kept]);
    const r = ix.connectBlock(c.blocks[c.height], c.height);
    mempool.blockConnected(r.block);
    pusher.blockConnected(r);
    const seen = rec.take().filter((s) => s.topic === 'watch/ch');
    assert.deepEqual(
      seen.map((s) => [
        s.name,
        s.body.height,
        s.body.blockHash && hex(s.body.blockHash as Uint8Array),
        entries(s.body).map((e) => e[0]),
      ]),
      [
        ['watchWithdrawn', r.height, hex(r.hash), ['op3']],
        ['watchMatches', r.height, hex(r.hash), ['op3', 'op4']],
      ],
    );
    assert.equal(
      hex((seen[0].body as unknown as Matches).subscriptions[0].spends[0].spendingTxid),
      hex(txidOf(mine)),
    );
    assert.equal(mempool.size, 0);
  });

  it('a batch of blocks committed at once: the withdrawal names the block holding the double spend, not the tip', () => {
    const { rec, mempool, pusher } = setup();
    const mine = makeTx([{ txid: coins[5].txid, vout: 0 }], [{ value: 1_000n, script: testScript(912) }]);
    const theirs = makeTx([{ txid: coins[5].txid, vout: 0 }], [{ value: 700n, script: testScript(913) }]);
    mempool.add(mine);
    rec.take();
    // As the Syncer's batched catch-up: both blocks indexed, then each reported in order.
    c.add([theirs]);
    const first = ix.connectBlock(c.blocks[c.height], c.height);
    c.add([]);
    const second = ix.connectBlock(c.blocks[c.height], c.height);
    for (const r of [first, second]) {
      mempool.blockConnected(r.block);
      pusher.blockConnected(r);
    }
    const w = rec.take().filter((s) => s.name === 'watchWithdrawn');
    assert.deepEqual(
      w.map((s) => [s.body.height, hex(s.body.blockHash as Uint8Array)]),
      [[first.height, hex(first.hash)]],
    );
    assert.notEqual(first.height, ix.tip()!.height);
  });
});
