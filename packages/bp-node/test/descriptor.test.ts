import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { addChecksum } from '@lnpbp/bitcoin/descriptor/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import { HDKey } from '@scure/bip32';
import { p2tr, p2wpkh } from '@scure/btc-signer';
import { type Index, openIndex } from '../src/index/index.ts';
import { Mempool } from '../src/index/mempool.ts';
import {
  hasHistory,
  scanDescriptor,
  scanDescriptorAsync,
  watchOnlyDescriptor,
} from '../src/match/descriptor.ts';
import { DescriptorWatches } from '../src/match/push.ts';
import { ChainBuilder, makeTx, tempDir, txidOf } from './index-support.ts';

const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(7));
const acct = root.derive("m/84'/0'/0'");
const xpub = acct.publicExtendedKey;
const trAcct = root.derive("m/86'/0'/0'");
const trXpub = trAcct.publicExtendedKey;

/** Expected scriptPubKeys computed with @scure/bip32 + @scure/btc-signer alone. */
const wpkhAt = (i: number) => p2wpkh(acct.deriveChild(0).deriveChild(i).publicKey!).script;
const trAt = (branch: number, i: number) =>
  p2tr(trAcct.deriveChild(branch).deriveChild(i).publicKey!.subarray(1)).script;

const WPKH = `wpkh(${xpub}/0/*)`;
const TR = `tr(${trXpub}/<0;1>/*)`;

describe('descriptor queries over a regtest index with known derived outputs', () => {
  const tmp = tempDir('desc');
  let ix: Index;
  const c = new ChainBuilder(5);
  // wpkh indexes 0, 1, 5 and 30 receive coinbases; tr branch 1 index 3 and branch 0 index 0.
  const paid = [
    { spk: wpkhAt(0), di: 0 },
    { spk: wpkhAt(1), di: 1 },
    { spk: wpkhAt(5), di: 5 },
    { spk: wpkhAt(30), di: 30 },
    { spk: trAt(1, 3), di: 3 },
    { spk: trAt(0, 0), di: 0 },
  ];
  before(() => {
    ix = openIndex(tmp.dir, 'regtest');
    const coins = paid.map((p) => c.add([], p.spk));
    for (let h = 0; h <= c.height; h++) ix.connectBlock(c.blocks[h], h);
    // Spend wpkh/1 back to wpkh/2 (spending + funding items for one tx).
    const spend = makeTx([coins[1]], [{ value: coins[1].value - 1000n, script: wpkhAt(2) }]);
    c.add([spend]);
    ix.connectBlock(c.blocks[c.height], c.height);
  });
  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  it('wpkh history with gap 20 stops before index 30; gap 25 reaches it', () => {
    const h20 = ix.descriptorHistory(WPKH, { limit: 100, gap: 20 });
    assert.deepEqual(
      h20.items.map((i) => [i.kind, i.derivationIndex]),
      [
        ['funding', 0],
        ['funding', 1],
        ['funding', 5],
        ['spending', 1],
        ['funding', 2],
      ],
    );
    for (const i of h20.items) assert.equal(toHex(i.script), toHex(wpkhAt(i.derivationIndex!)));
    const h25 = ix.descriptorHistory(WPKH, { limit: 100, gap: 25 });
    assert.deepEqual(
      h25.items.map((i) => i.derivationIndex),
      [0, 1, 5, 30, 1, 2],
    );
    // Pages of 2 give the same items.
    const paged = [];
    let cursor: Uint8Array | null = null;
    for (;;) {
      const p = ix.descriptorHistory(WPKH, { limit: 2, gap: 25, cursor });
      paged.push(...p.items);
      if (!p.next) break;
      cursor = p.next;
    }
    assert.deepEqual(
      paged.map((i) => i.shortId),
      h25.items.map((i) => i.shortId),
    );
  });

  it('wpkh utxos and balance (the spent output is gone)', () => {
    const u = ix.descriptorUtxos(WPKH, { limit: 100, gap: 25 });
    assert.deepEqual(
      u.items.map((i) => i.derivationIndex),
      [0, 5, 30, 2],
    );
    const b = ix.descriptorBalance(WPKH, { gap: 25 });
    assert.equal(b.utxoCount, 4);
    assert.equal(b.confirmed, 4n * 50n * 100_000_000n - 1000n);
    assert.deepEqual(b.branches, [{ lastUsed: 30, nextIndex: 31 }]);
    assert.equal(b.derivedScripts, 31 + 25);
  });

  it('the sliced scan finds what the synchronous one finds, pausing between indexes', async () => {
    for (const [text, gap] of [
      [WPKH, 25],
      [TR, 5],
    ] as const) {
      const d = watchOnlyDescriptor(text);
      const used = (h: Uint8Array) => hasHistory(ix.store, h);
      let turns = 0;
      const counter = setInterval(() => turns++, 0);
      const sliced = await scanDescriptorAsync(d, gap, used, { sliceMs: 0 });
      clearInterval(counter);
      const whole = scanDescriptor(d, gap, used);
      assert.deepEqual(sliced, whole);
      assert.deepEqual(
        whole.branches.map((b) => b.lastUsed),
        text === WPKH ? [30] : [0, 3],
      );
      // Other work ran while it scanned (timers only run between event loop turns).
      assert.ok(turns > 0);
    }
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      scanDescriptorAsync(watchOnlyDescriptor(WPKH), 50, () => false, { sliceMs: 0, signal: ac.signal }),
      /abort/i,
    );
  });

  it('tr multipath: both branches, with branch and derivation index', () => {
    const h = ix.descriptorHistory(TR, { limit: 100, gap: 5 });
    assert.deepEqual(
      h.items.map((i) => [i.branch, i.derivationIndex]),
      [
        [1, 3],
        [0, 0],
      ],
    );
    assert.equal(toHex(h.items[0].script), toHex(trAt(1, 3)));
    // gap 3 on branch 1 (indexes 0-2 unused) does not reach index 3.
    assert.equal(ix.descriptorHistory(TR, { limit: 100, gap: 3 }).items.length, 1);
  });

  it('non-ranged descriptors: derivationIndex null', () => {
    const pk = acct.deriveChild(0).deriveChild(5).publicKey!;
    const h = ix.descriptorHistory(addChecksum(`wpkh(${toHex(pk)})`), { limit: 10 });
    assert.deepEqual(
      h.items.map((i) => i.derivationIndex),
      [null],
    );
  });

  it('refuses private keys, bad checksums, malformed text and absurd gaps with positions', () => {
    const xprv = acct.privateExtendedKey;
    assert.throws(() => ix.descriptorHistory(`wpkh(${xprv}/0/*)`, { limit: 10 }), /private/i);
    assert.throws(() => ix.descriptorHistory(`wpkh(${xpub}/0h/*)`, { limit: 10 }), /harden/i);
    const good = addChecksum(WPKH);
    const bad = `${good.slice(0, -1)}${good.endsWith('q') ? 'p' : 'q'}`;
    assert.throws(
      () => ix.descriptorHistory(bad, { limit: 10 }),
      /checksum.*position|position.*checksum|position/,
    );
    assert.throws(() => ix.descriptorHistory('wpkh(', { limit: 10 }), /position/);
    assert.throws(() => ix.descriptorHistory(`wsh(${xpub}/0/*)`, { limit: 10 }), /position/);
    assert.throws(() => ix.descriptorHistory(WPKH, { limit: 10, gap: 1_000_000 }), /gap/);
    assert.throws(() => ix.descriptorHistory(WPKH, { limit: 10, gap: 0 }), /gap/);
    assert.throws(() => ix.descriptorBalance(WPKH, { gap: 1.5 }), /gap/);
  });

  it('a descriptor watch moves its window forward as addresses get used (mempool and block)', () => {
    const w = new DescriptorWatches();
    w.add('w', WPKH, { gap: 5, index: ix });
    // From the index: gap 5 finds 0, 1, 2, 5 (30 is beyond 5 + 5).
    assert.deepEqual(w.window('w'), { lastUsed: [5], derived: [11] });
    const mp = new Mempool(ix);
    // Pay wpkh/10 (inside the window) from the mempool: the window moves to 15 + 1.
    const utxo = ix.descriptorUtxos(WPKH, { limit: 10, gap: 25 }).items[0];
    const tx1 = makeTx(
      [{ txid: utxo.txid, vout: utxo.vout }],
      [{ value: utxo.value - 500n, script: wpkhAt(10) }],
    );
    assert.equal(mp.add(tx1), 'added');
    const hits = w.matchMempoolTx(ix, mp, parseTx(tx1));
    assert.deepEqual(
      hits.map((h) => [h.kind, h.derivationIndex, h.height]),
      [
        ['spending', 0, null],
        ['funding', 10, null],
      ],
    );
    assert.deepEqual(w.window('w'), { lastUsed: [10], derived: [16] });
    // Confirmed with a payment to wpkh/15, the new window's edge: found, window to 21.
    const tx2 = makeTx([{ txid: txidOf(tx1), vout: 0 }], [{ value: utxo.value - 1000n, script: wpkhAt(15) }]);
    c.add([tx1, tx2]);
    const r = ix.connectBlock(c.blocks[c.height], c.height);
    const bh = w.matchBlock(ix, r.block, r.height);
    assert.deepEqual(
      bh.map((h) => [h.kind, h.derivationIndex, h.height]),
      [
        ['spending', 0, c.height],
        ['funding', 10, c.height],
        ['spending', 10, c.height],
        ['funding', 15, c.height],
      ],
    );
    assert.deepEqual(w.window('w'), { lastUsed: [15], derived: [21] });
    assert.throws(() => w.add('x', `wpkh(${acct.privateExtendedKey}/0/*)`), /private/i);
  });
});
