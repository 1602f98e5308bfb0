import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { bpdMessages, MAX_BATCH_ITEMS, MAX_SCRIPT } from '@lnpbp/bp-node/api/messages';
import { Subscriber } from '@lnpbp/bus';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { Pusher } from '../../bp-node/src/api/push.ts';
import { WatchTable } from '../../bp-node/src/api/watch.ts';
import { type Index, openIndex } from '../../bp-node/src/index/index.ts';
import { Mempool } from '../../bp-node/src/index/mempool.ts';
import {
  ChainBuilder,
  type Coin,
  makeTx,
  tempDir,
  testScript,
  txidOf,
} from '../../bp-node/test/index-support.ts';
import { pubFrame } from '../../bus/src/wire.ts';
import { bpdDecoders, readWatchMatches, readWatchWithdrawn } from '../src/watch-read.ts';

const TYPE = bpdMessages.typeId('watchMatches');
const schemaDecode = (b: Uint8Array) => bpdMessages.decode(TYPE, b).body;

/** Both readers on the same bytes: both reject, or both give the same body. */
function agree(bytes: Uint8Array): 'ok' | 'rejected' {
  let want: unknown;
  let wantErr: unknown;
  try {
    want = schemaDecode(bytes);
  } catch (e) {
    wantErr = e;
  }
  if (wantErr) {
    assert.ok(wantErr instanceof DecodeError, String(wantErr));
    assert.throws(() => readWatchMatches(bytes), DecodeError);
    return 'rejected';
  }
  assert.deepStrictEqual(readWatchMatches(bytes).toBody(), want);
  return 'ok';
}

/** The raw `watchMatches` (and `watchWithdrawn`) bodies a real Pusher writes, per topic. */
class Bodies {
  readonly sent: { topic: string; name: string; body: Uint8Array }[] = [];
  publish(): void {}
  publishEncoded(topic: string, name: string, body: Uint8Array): void {
    this.sent.push({ topic, name, body });
  }
}

/**
 * The fast `watchMatches` reader against the schema decoder, on bodies bpd's real pusher wrote
 * for a regtest chain in a real LMDB index and for mainnet blocks 840006/840007.
 */
describe('watch-read: watchMatches read without the schema decoder', () => {
  const tmp = tempDir('watch-read');
  let ix: Index;
  const c = new ChainBuilder(11);
  const coins: Coin[] = [];
  const bodies: { what: string; body: Uint8Array }[] = [];
  const withdrawn: { what: string; body: Uint8Array }[] = [];

  before(() => {
    ix = openIndex(tmp.dir, 'regtest', { durability: 'os' });
    for (let i = 0; i < 8; i++) coins.push(c.add());
    for (let h = 0; h <= c.height; h++) ix.connectBlock(c.blocks[h], h);

    // Spends and script funding/spending, from the mempool and then confirmed.
    const pay = testScript(700);
    const watches = new WatchTable(null);
    watches.add('a1', [{ txid: coins[0].txid, vout: 0 }], [], false, 'A');
    watches.add('a2', [{ txid: coins[1].txid, vout: 0 }], [coins[1].script], false, 'A');
    watches.add('a3', [], [coins[2].script, pay], false, 'A');
    watches.add('b1', [{ txid: coins[0].txid, vout: 0 }], [], false, 'B');
    const rec = new Bodies();
    const mempool = new Mempool(ix);
    const pusher = new Pusher(ix, mempool, watches, rec);
    pusher.attach({ on: () => undefined });
    const t1 = makeTx(
      [
        { txid: coins[0].txid, vout: 0 },
        { txid: coins[1].txid, vout: 0 },
      ],
      [
        { value: 70n * 100_000_000n, script: pay },
        { value: 29n * 100_000_000n, script: testScript(701) },
      ],
    );
    const t2 = makeTx(
      [
        { txid: coins[2].txid, vout: 0 },
        { txid: txidOf(t1), vout: 0 },
      ],
      [{ value: 119n * 100_000_000n, script: testScript(702) }],
    );
    assert.equal(mempool.add(t1), 'added');
    for (const s of rec.sent) bodies.push({ what: `mempool ${s.topic}`, body: s.body });
    rec.sent.length = 0;
    c.add([t1, t2]);
    pusher.blockConnected(ix.connectBlock(c.blocks[c.height], c.height));
    for (const s of rec.sent) bodies.push({ what: `block ${s.topic}`, body: s.body });

    // Split by entries: one channel with more than MAX_BATCH_ITEMS matches.
    const many = new WatchTable(null);
    for (let i = 0; i < MAX_BATCH_ITEMS + 700; i++)
      many.add(`s${i}`, [{ txid: coins[3].txid, vout: 0 }], [], false, 'big');
    const rec2 = new Bodies();
    const p2 = new Pusher(ix, new Mempool(ix), many, rec2);
    c.add([makeTx([{ txid: coins[3].txid, vout: 0 }], [{ value: 1n, script: testScript(703) }])]);
    p2.blockConnected(ix.connectBlock(c.blocks[c.height], c.height));
    for (const [i, s] of rec2.sent.entries()) bodies.push({ what: `split part ${i}`, body: s.body });

    // Split by bytes: long scripts (9,000 bytes, 3-byte length prefixes).
    const long = new WatchTable(null);
    const big = new Uint8Array(9_000).fill(0x51);
    for (let i = 0; i < 300; i++) long.add(`long-${i}`, [], [big], false, 'bytes');
    const rec3 = new Bodies();
    const p3 = new Pusher(ix, new Mempool(ix), long, rec3);
    c.add([makeTx([{ txid: coins[5].txid, vout: 0 }], [{ value: 1n, script: big }])]);
    p3.blockConnected(ix.connectBlock(c.blocks[c.height], c.height));
    for (const [i, s] of rec3.sent.entries()) bodies.push({ what: `long-script part ${i}`, body: s.body });

    // Withdrawals: a tx the source drops (spend and script entries), and one a block double spends.
    const w4 = new WatchTable(null);
    w4.add('w1', [{ txid: coins[6].txid, vout: 0 }], [testScript(704)], false, 'W');
    w4.add('w2', [{ txid: coins[7].txid, vout: 0 }], [], false, 'W');
    const rec4 = new Bodies();
    const mp4 = new Mempool(ix);
    const p4 = new Pusher(ix, mp4, w4, rec4, undefined, { helloIntervalMs: 0 });
    p4.attach({ on: () => undefined });
    const dropped = makeTx([{ txid: coins[6].txid, vout: 0 }], [{ value: 5n, script: testScript(704) }]);
    const mine = makeTx([{ txid: coins[7].txid, vout: 0 }], [{ value: 5n, script: testScript(705) }]);
    const theirs = makeTx([{ txid: coins[7].txid, vout: 0 }], [{ value: 4n, script: testScript(706) }]);
    mp4.add(dropped);
    mp4.add(mine);
    mp4.remove(txidOf(dropped), 'evicted');
    c.add([theirs]);
    // As the Syncer does: the mempool hears of the block, then push.
    const r4 = ix.connectBlock(c.blocks[c.height], c.height);
    mp4.blockConnected(r4.block);
    p4.blockConnected(r4);
    for (const s of rec4.sent)
      if (s.name === 'watchWithdrawn')
        withdrawn.push({ what: `withdrawn ${withdrawn.length}`, body: s.body });
  });

  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  it('gives what the schema decoder gives, for every body the pusher wrote', () => {
    const what = bodies.map((b) => b.what);
    assert.ok(what.includes('mempool watch/A') && what.includes('block watch/B'), what.join(', '));
    assert.ok(what.filter((w) => w.startsWith('split')).length === 2);
    assert.ok(what.filter((w) => w.startsWith('long-script')).length >= 3);
    let scripts = 0;
    let spends = 0;
    for (const { what: w, body } of bodies) {
      assert.equal(agree(body), 'ok', w);
      const v = readWatchMatches(body);
      spends += v.spendCount;
      scripts += v.scriptCount;
      // The lazy accessors give the same entries as the built body.
      const built = schemaDecode(body) as ReturnType<typeof v.toBody>;
      for (let s = 0; s < v.setCount; s++) {
        const sp = { first: v.firstSpend(s), end: v.firstSpend(s + 1) };
        const sc = { first: v.firstScript(s), end: v.firstScript(s + 1) };
        assert.equal(v.ids[s], built.subscriptions[s].subscription);
        assert.deepStrictEqual(
          Array.from({ length: sp.end - sp.first }, (_, i) => v.spend(sp.first + i)),
          built.subscriptions[s].spends,
        );
        assert.deepStrictEqual(
          Array.from({ length: sc.end - sc.first }, (_, i) => v.script(sc.first + i)),
          built.subscriptions[s].scripts,
        );
      }
    }
    // Mempool: 2 + 1 spends, 1 funding; block: 3 + 1 spends (A, B) and funding + 2 spending.
    assert.ok(spends > MAX_BATCH_ITEMS && scripts >= 300 + 4, `${spends} spends, ${scripts} scripts`);
  });

  it('mainnet 840006/840007: thousands of sets per message, block height and hash', async () => {
    const t2 = tempDir('watch-read-main');
    const mix = openIndex(t2.dir, 'mainnet', { durability: 'os' });
    try {
      for (let h = 840002; h <= 840005; h++) mix.connectBlock(modernBlock(h), h);
      const raws = [840006, 840007].map((h) => modernBlock(h));
      const watches = new WatchTable(null);
      const blocks = raws.map((r) => parseBlock(r));
      const spent = blocks.map((b) =>
        b.txs.slice(1).flatMap((tx) => tx.inputs.map((i) => ({ txid: i.prevTxid, vout: i.vout }))),
      );
      const outs = blocks.map((b) => b.txs.flatMap((tx) => tx.outputs.map((o) => o.scriptPubKey)));
      for (let s = 0; s < 2_000; s++)
        watches.add(
          `p${s % 2}.${s}`,
          spent.map((sp) => sp[s % sp.length]),
          s % 10 === 0 ? outs.map((o) => o[s % o.length]) : [],
          false,
          `p${s % 2}`,
        );
      const rec = new Bodies();
      const pusher = new Pusher(mix, new Mempool(mix), watches, rec);
      for (const [i, raw] of raws.entries()) pusher.blockConnected(mix.connectBlock(raw, 840006 + i));
      // Popular output scripts make some channels' blocks come in several parts.
      assert.ok(rec.sent.length >= 4);
      const ids = new Map<string, Set<string>>();
      let scripts = 0;
      for (const { topic, body } of rec.sent) {
        assert.equal(agree(body), 'ok', topic);
        const v = readWatchMatches(body);
        assert.ok(v.height === 840006 || v.height === 840007);
        assert.equal(topic, `watch/${v.channel}`);
        const key = `${v.channel}@${v.height}`;
        const seen = ids.get(key) ?? new Set();
        for (const id of v.ids) seen.add(id);
        ids.set(key, seen);
        scripts += v.scriptCount;
      }
      assert.deepEqual([...ids.entries()].map(([k, v]) => [k, v.size]).sort(), [
        ['p0@840006', 1_000],
        ['p0@840007', 1_000],
        ['p1@840006', 1_000],
        ['p1@840007', 1_000],
      ]);
      assert.ok(scripts > 0);
    } finally {
      await mix.close();
      t2.cleanup();
    }
  });

  it('rejects what the schema decoder rejects: every truncation, trailing bytes, byte flips', () => {
    const small = bodies.find((b) => b.what === 'block watch/A')!.body;
    for (let n = 0; n < small.length; n++)
      assert.equal(agree(small.subarray(0, n)), 'rejected', `prefix ${n}`);
    assert.equal(agree(Uint8Array.from([...small, 0])), 'rejected');
    // Deterministic byte flips over the structure (lengths, tags, ids): the two readers agree on each.
    let rejected = 0;
    let seed = 1;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let k = 0; k < 3_000; k++) {
      const b = small.slice();
      b[rand() % b.length] = rand() & 0xff;
      if (agree(b) === 'rejected') rejected++;
    }
    assert.ok(rejected > 100, `${rejected} of 3000 flips rejected`);
  });

  it('bounds every count and length before sizing anything by it', () => {
    const w = (bytes: number[]) => Uint8Array.from(bytes);
    const head = [1, 0x41, 0, 0, 0]; // channel "A", no height, no hash, more = false
    const cases: [string, Uint8Array, string][] = [
      ['empty', w([]), 'truncated'],
      ['sets above MAX_BATCH_ITEMS', w([...head, 0xfe, 0xff, 0xff, 0xff, 0x0f]), 'oversized'],
      ['sets beyond the bytes', w([...head, 0xfd, 0x10, 0x27]), 'truncated'],
      ['8-byte count', w([...head, 0xff, 0, 0, 0, 0, 1, 0, 0, 0]), 'oversized'],
      ['non-canonical count', w([...head, 0xfd, 1, 0]), 'non-canonical'],
      ['id over 64 bytes', w([65, ...new Array(65).fill(0x41), 0, 0, 0, 0]), 'oversized'],
      ['bad optional tag', w([1, 0x41, 2, 0, 0, 0]), 'invalid-value'],
      ['bad bool', w([1, 0x41, 0, 0, 2, 0]), 'invalid-value'],
      ['invalid UTF-8 id', w([1, 0xff, 0, 0, 0, 0]), 'invalid-value'],
      [
        'script above MAX_SCRIPT',
        w([
          ...head,
          1,
          1,
          0x61,
          0,
          1,
          0xfd,
          (MAX_SCRIPT + 1) & 0xff,
          (MAX_SCRIPT + 1) >> 8,
          ...new Array(60).fill(0),
        ]),
        'oversized',
      ],
      ['spends beyond the bytes', w([...head, 1, 1, 0x61, 2, ...new Array(100).fill(0), 0]), 'truncated'],
    ];
    for (const [name, bytes, code] of cases) {
      assert.throws(
        () => readWatchMatches(bytes),
        (e: unknown) => e instanceof DecodeError && e.code === code,
        name,
      );
      assert.equal(agree(bytes), 'rejected', name);
    }
  });

  it('watchWithdrawn (the same layout): its reader gives what the schema decoder gives, with or without the conflicting block', () => {
    const T = bpdMessages.typeId('watchWithdrawn');
    assert.equal(withdrawn.length, 2);
    const heights: (number | undefined)[] = [];
    for (const { what, body } of withdrawn) {
      const want = bpdMessages.decode(T, body).body;
      const v = readWatchWithdrawn(body);
      assert.deepStrictEqual(v.toBody(), want, what);
      heights.push(v.height);
      // Its bad bytes are rejected as the schema rejects them.
      assert.throws(() => readWatchWithdrawn(body.subarray(0, body.length - 1)), DecodeError);
      assert.throws(() => bpdMessages.decode(T, body.subarray(0, body.length - 1)), DecodeError);
    }
    assert.deepStrictEqual(heights, [undefined, c.height]);
    const [first] = withdrawn.map((w) => readWatchWithdrawn(w.body).toBody());
    assert.deepStrictEqual(
      first.subscriptions.map((x) => [x.subscription, x.spends.length, x.scripts.length]),
      [['w1', 1, 1]],
    );
  });

  it('through Subscriber.accept (Buffer frames, as received): bodies via the reader, bad ones dropped and counted', () => {
    const malformed: Error[] = [];
    const sub = new Subscriber({
      schema: bpdMessages,
      decoders: bpdDecoders,
      endpoint: `ipc://${tmp.dir}/none.sock`,
      onMalformed: (e) => malformed.push(e),
    });
    try {
      const frame = (seq: bigint, type: number, body: Uint8Array) => [
        Buffer.from('watch/A'),
        pubFrame(seq, 7, type, body),
      ];
      const body = bodies.find((b) => b.what === 'block watch/A')!.body;
      const n = sub.accept(frame(1n, TYPE, body));
      assert.ok(n && n.name === 'watchMatches');
      assert.deepStrictEqual(n.body.toBody(), schemaDecode(body));
      // Other notifications still go through the schema.
      const pong = sub.accept(
        frame(2n, bpdMessages.typeId('pong'), bpdMessages.encode('pong', { token: 5n })),
      );
      assert.ok(pong && pong.name === 'pong');
      const wd = withdrawn[0].body;
      const w = sub.accept(frame(3n, bpdMessages.typeId('watchWithdrawn'), wd));
      assert.ok(w && w.name === 'watchWithdrawn');
      assert.deepStrictEqual(
        w.body.toBody(),
        bpdMessages.decode(bpdMessages.typeId('watchWithdrawn'), wd).body,
      );
      assert.equal(pong.body.token, 5n);
      assert.equal(sub.accept(frame(4n, TYPE, body.subarray(0, body.length - 1))), undefined);
      assert.equal(
        sub.accept(frame(5n, TYPE, Uint8Array.from([1, 0x41, 0, 0, 0, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]))),
        undefined,
      );
      assert.equal(sub.stats.malformed, 2);
      assert.equal(sub.stats.received, 3);
      assert.ok(malformed.every((e) => e instanceof DecodeError));
      // Sequence tracking still sees the dropped ones' successors.
      assert.ok(sub.accept(frame(7n, TYPE, body)));
      assert.equal(sub.stats.gaps, 1);
    } finally {
      sub.close();
    }
  });
});
