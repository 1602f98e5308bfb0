import assert from 'node:assert/strict';
import { appendFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHex, fromHexReversed, toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { decodeShortId } from '@lnpbp/bitcoin/shortid/index';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { BlockRejected, type Index, openIndex } from '../src/index/index.ts';
import {
  btcdReorgChain,
  ChainBuilder,
  type Coin,
  mainnet600,
  makeTx,
  Reference,
  tempDir,
  testScript,
  txidOf,
} from './index-support.ts';

function buildIndex(dir: string, blocks: Uint8Array[], base = 0): Index {
  const ix = openIndex(dir, 'mainnet');
  for (const [i, raw] of blocks.entries()) ix.connectBlock(raw, base + i);
  return ix;
}

function allHistory(ix: Index, scriptHash: Uint8Array, limit: number) {
  const items = [];
  let cursor: Uint8Array | null = null;
  for (;;) {
    const page = ix.history(scriptHash, { cursor, limit });
    assert.ok(page.items.length <= limit);
    items.push(...page.items);
    if (page.next === null) break;
    assert.equal(page.items.length, limit, 'a page before the end is full');
    cursor = page.next;
  }
  return items;
}

describe('index: mainnet blocks 0-599 against bitcoinjs-lib', () => {
  const blocks = mainnet600();
  const ref = new Reference(blocks);
  const tmp = tempDir('ix600');
  let ix: Index;
  before(() => {
    ix = buildIndex(tmp.dir, blocks);
  });
  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  it('has the tip, headers by height and by hash', () => {
    const tip = ix.tip()!;
    assert.equal(tip.height, 599);
    assert.equal(ix.base(), 0);
    const g = ix.header(0)!;
    assert.equal(toHexReversed(g.hash), '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    assert.equal(g.shortId, 0x98n << 32n, 'genesis id: height 0, checksum 0x98 (docs/lnpbp-5.md)');
    for (const h of [0, 1, 170, 599]) {
      const byHeight = ix.header(h)!;
      assert.deepEqual(ix.header(byHeight.hash)!.height, h);
      assert.deepEqual(ix.blockRaw(h), blocks[h]);
      assert.deepEqual(ix.blockRaw(byHeight.hash), blocks[h]);
    }
    assert.equal(ix.header(600), null);
    assert.equal(ix.header(new Uint8Array(32)), null);
  });

  it('returns every tx raw by txid and by short id', () => {
    for (const [txid, t] of ref.txs) {
      const a = ix.txByTxid(fromHexReversed(txid))!;
      assert.equal(toHex(a.raw), t.hex);
      assert.equal(a.height, t.height);
      assert.equal(a.position, t.position);
      const b = ix.txByShortId(a.shortId)!;
      assert.equal(toHexReversed(b.txid), txid);
      const item = decodeShortId(a.shortId);
      assert.ok(item.kind === 'tx' || item.kind === 'block');
      assert.equal(item.height, t.height);
    }
    // An unknown txid sharing nothing, and a short id of the wrong checksum.
    assert.equal(ix.txByTxid(new Uint8Array(32).fill(7)), null);
    const g = ix.header(0)!.shortId;
    assert.equal(ix.txByShortId(g ^ 0x01n), null);
  });

  it('answers every outspend as bitcoinjs-lib computes it', () => {
    let spent = 0;
    for (const op of ref.outputs.keys()) {
      const [txid, vout] = op.split(':');
      const got = ix.outspend(fromHexReversed(txid), Number(vout));
      const want = ref.spends.get(op);
      if (want === undefined) {
        assert.equal(got, null, `${op} unspent`);
        continue;
      }
      spent++;
      assert.ok(got, `${op} spent`);
      assert.equal(toHexReversed(got.txid), want.txid);
      assert.equal(got.vin, want.vin);
      assert.equal(got.height, want.height);
    }
    assert.ok(spent >= 20, `${spent} spends in blocks 0-599`);
    // outspends(txid): one entry per output.
    for (const [txid] of ref.txs) {
      const list = ix.outspends(fromHexReversed(txid))!;
      list.forEach((s, vout) => {
        const want = ref.spends.get(`${txid}:${vout}`);
        assert.equal(s === null ? null : toHexReversed(s.txid), want?.txid ?? null);
      });
    }
  });

  it('pages every script history in chain order, values included', () => {
    let entries = 0;
    for (const [sh, want] of ref.history) {
      const got = allHistory(ix, fromHex(sh), 2);
      assert.deepEqual(
        got.map((e) => [e.kind, toHexReversed(e.txid), e.index, e.height, e.value]),
        want.map((e) => [e.kind, e.txid, e.index, e.height, e.value]),
        `history of ${sh}`,
      );
      entries += got.length;
    }
    assert.equal(entries, ix.stats().tables.history.entries);
  });

  it('holds the UTXO set: count, total, per script utxos and balance', () => {
    let total = 0n;
    for (const u of ref.utxos.values()) total += u.value;
    const st = ix.stats();
    assert.equal(st.tables.utxos.entries, ref.utxos.size);
    let sum = 0n;
    for (const [sh] of ref.history) {
      const bal = ix.balance(fromHex(sh));
      sum += bal.confirmed;
      const page = ix.utxos(fromHex(sh), { limit: 1000 });
      assert.equal(page.items.length, bal.utxoCount);
      for (const u of page.items) {
        const want = ref.utxos.get(`${toHexReversed(u.txid)}:${u.vout}`)!;
        assert.equal(u.value, want.value);
        assert.equal(toHex(u.script), want.script);
      }
    }
    assert.equal(sum, total);
    // Value only moves between outputs: what is unspent is every block's 50 BTC subsidy
    // (the genesis output included: Core never adds it to its UTXO set, the index does).
    assert.equal(total, 600n * 50n * 100_000_000n);
  });
});

describe('index: disconnect and reconnect', () => {
  const blocks = mainnet600();

  it('disconnecting 100 of 600 blocks equals a fresh index of 500; reconnecting restores the dump', async () => {
    const a = tempDir('ixdis');
    const b = tempDir('ix500');
    const ix = buildIndex(a.dir, blocks);
    const full = ix.dumpHash();
    const fileFull = ix.stats().blockFileBytes;
    for (let i = 0; i < 100; i++) {
      const d = ix.disconnectTip();
      assert.equal(d.height, 599 - i);
      assert.deepEqual(d.block.raw, blocks[599 - i]);
    }
    const fresh = buildIndex(b.dir, blocks.slice(0, 500));
    assert.equal(ix.dumpHash(), fresh.dumpHash());
    assert.equal(ix.tip()!.height, 499);
    assert.equal(statSync(join(a.dir, 'index', 'blocks.dat')).size, fresh.stats().blockFileBytes);
    for (let h = 500; h < 600; h++) ix.connectBlock(blocks[h], h);
    assert.equal(ix.dumpHash(), full);
    assert.equal(ix.stats().blockFileBytes, fileFull);
    await fresh.close();
    await ix.close();
    a.cleanup();
    b.cleanup();
  });

  it('disconnects down to empty and reindexes from there', async () => {
    const a = tempDir('ixempty');
    const ix = buildIndex(a.dir, blocks.slice(0, 200));
    const h200 = ix.dumpHash();
    while (ix.tip() !== null) ix.disconnectTip();
    assert.equal(ix.base(), null);
    const lines: string[] = [];
    ix.dump((l) => lines.push(l));
    assert.deepEqual(lines, ['meta fileEnd 0', 'meta network mainnet', 'meta version 4']);
    for (let h = 0; h < 200; h++) ix.connectBlock(blocks[h], h);
    assert.equal(ix.dumpHash(), h200);
    await ix.close();
    a.cleanup();
  });
});

describe('index: reorg onto btcd side chain 3A-5A', () => {
  const { main, side } = btcdReorgChain();

  it('after the reorg the dump equals a fresh index of the new chain', async () => {
    const a = tempDir('ixreorg');
    const b = tempDir('ixnew');
    const ix = buildIndex(a.dir, main);
    assert.equal(ix.tip()!.height, 4);
    // The spend in block 3 of the main chain goes away with it.
    const spentIn3 = ix.txByTxid(ix.txByShortId(ix.header(3)!.shortId + (1n << 16n))!.txid)!;
    assert.equal(spentIn3.height, 3);
    ix.disconnectTip();
    ix.disconnectTip();
    assert.equal(ix.txByTxid(spentIn3.txid), null);
    for (const [i, raw] of side.entries()) ix.connectBlock(raw, 3 + i);
    const fresh = buildIndex(b.dir, [...main.slice(0, 3), ...side]);
    const l1: string[] = [];
    const l2: string[] = [];
    ix.dump((l) => l1.push(l));
    fresh.dump((l) => l2.push(l));
    assert.deepEqual(l1, l2);
    assert.equal(ix.dumpHash(), fresh.dumpHash());
    assert.equal(ix.tip()!.height, 5);
    await ix.close();
    await fresh.close();
    a.cleanup();
    b.cleanup();
  });

  it('refuses a side-chain block on the wrong tip, writing nothing', async () => {
    const a = tempDir('ixside');
    const ix = buildIndex(a.dir, main);
    const before = ix.dumpHash();
    assert.throws(
      () => ix.connectBlock(side[0], 5),
      (e) => e instanceof BlockRejected && e.code === 'bad-prev',
    );
    assert.throws(
      () => ix.connectBlock(side[0], 3),
      (e) => e instanceof BlockRejected && e.code === 'bad-height',
    );
    assert.equal(ix.dumpHash(), before);
    await ix.close();
    a.cleanup();
  });
});

describe('index: bad blocks are never written', () => {
  const blocks = mainnet600();

  function expectRejected(ix: Index, raw: Uint8Array, height: number, code: string, dir: string) {
    const before = ix.dumpHash();
    const size = statSync(join(dir, 'index', 'blocks.dat')).size;
    assert.throws(
      () => ix.connectBlock(raw, height),
      (e) => e instanceof BlockRejected && e.code === code,
    );
    assert.equal(ix.dumpHash(), before);
    assert.equal(statSync(join(dir, 'index', 'blocks.dat')).size, size);
  }

  it('flipped bytes, wrong prev hash, bad proof of work, truncation, double spend', async () => {
    const a = tempDir('ixbad');
    const ix = buildIndex(a.dir, blocks.slice(0, 171));
    const b171 = blocks[171];
    // A byte inside the coinbase tx: the merkle root no longer matches.
    const flipped = Uint8Array.from(b171);
    flipped[flipped.length - 10] ^= 1;
    expectRejected(ix, flipped, 171, 'bad-merkle', a.dir);
    // The nonce: the header no longer meets its target.
    const nonce = Uint8Array.from(b171);
    nonce[76] ^= 1;
    expectRejected(ix, nonce, 171, 'bad-pow', a.dir);
    // A block that does not build on the tip.
    expectRejected(ix, blocks[172], 171, 'bad-prev', a.dir);
    expectRejected(ix, b171.subarray(0, b171.length - 1), 171, 'decode', a.dir);
    expectRejected(ix, b171, 172, 'bad-height', a.dir);
    ix.connectBlock(b171, 171);
    assert.equal(ix.tip()!.height, 171);
    await ix.close();
    a.cleanup();
  });

  it('refuses double spends, spends of spent or unknown outputs, duplicate txs', async () => {
    const a = tempDir('ixds');
    const ix = openIndex(a.dir, 'regtest');
    const c = new ChainBuilder();
    const coin0 = c.add();
    const coin1 = c.add();
    ix.connectBlock(c.blocks[0], 0);
    ix.connectBlock(c.blocks[1], 1);
    const pay = (coin: Coin, tag: number, lock = 0) =>
      makeTx([coin], [{ value: coin.value - 1000n, script: testScript(tag) }], lock);
    const tries: [string, Uint8Array[]][] = [
      ['double-spend', [pay(coin0, 100), pay(coin0, 101)]],
      ['double-spend', [makeTx([coin0, coin0], [{ value: 1n, script: testScript(102) }])]],
      ['missing-input', [pay({ ...coin0, vout: 1 }, 103)]],
      ['missing-input', [pay({ ...coin0, txid: new Uint8Array(32).fill(9) }, 104)]],
      ['duplicate-tx', [pay(coin0, 105), pay(coin0, 105)]],
    ];
    const before = ix.dumpHash();
    for (const [code, txs] of tries) {
      const b = c.fork(1, 7);
      b.add(txs);
      assert.throws(
        () => ix.connectBlock(b.blocks[2], 2),
        (e) => e instanceof BlockRejected && e.code === code,
        code,
      );
      assert.equal(ix.dumpHash(), before);
    }
    // A chain of spends inside one block, then a spend of an output spent a block earlier.
    const t1 = pay(coin0, 200);
    const t2 = pay({ txid: txidOf(t1), vout: 0, value: coin0.value - 1000n, script: testScript(200) }, 201);
    c.add([t1, t2, pay(coin1, 202)]);
    ix.connectBlock(c.blocks[2], 2);
    assert.equal(toHexReversed(ix.outspend(txidOf(t1), 0)!.txid), toHexReversed(txidOf(t2)));
    assert.equal(ix.utxo(txidOf(t1), 0), null);
    assert.equal(ix.utxo(txidOf(t2), 0)!.value, coin0.value - 2000n);
    const again = c.fork(2, 8);
    again.add([pay(coin0, 203)]);
    assert.throws(
      () => ix.connectBlock(again.blocks[3], 3),
      (e) => e instanceof BlockRejected && e.code === 'missing-input',
    );
    const fresh = tempDir('ixds2');
    const ref = openIndex(fresh.dir, 'regtest');
    ref.connectBlock(c.blocks[0], 0);
    ref.connectBlock(c.blocks[1], 1);
    ix.disconnectTip();
    assert.equal(ix.dumpHash(), ref.dumpHash());
    await ix.close();
    await ref.close();
    a.cleanup();
    fresh.cleanup();
  });
});

describe('index: crash between the block file write and the commit', () => {
  it('cuts uncommitted bytes off the block file when opened', async () => {
    const blocks = mainnet600().slice(0, 50);
    const a = tempDir('ixcrash');
    let ix = buildIndex(a.dir, blocks);
    const before = ix.dumpHash();
    const file = join(a.dir, 'index', 'blocks.dat');
    const size = statSync(file).size;
    await ix.close();
    appendFileSync(file, new Uint8Array(1234).fill(0xab));
    ix = openIndex(a.dir, 'mainnet');
    assert.equal(statSync(file).size, size);
    assert.equal(ix.dumpHash(), before);
    ix.connectBlock(mainnet600()[50], 50);
    assert.equal(ix.tip()!.height, 50);
    await ix.close();
    a.cleanup();
  });

  it('refuses a datadir of another network', async () => {
    const a = tempDir('ixnet');
    const ix = openIndex(a.dir, 'mainnet');
    await ix.close();
    assert.throws(() => openIndex(a.dir, 'regtest'), /indexes mainnet, not regtest/);
    a.cleanup();
  });
});

describe('index: modern mainnet blocks 840002-840007 (an index started above genesis)', () => {
  const blocks = [840002, 840003, 840004, 840005, 840006, 840007].map((h) => modernBlock(h));
  const ref = new Reference(blocks, 840002);
  const tmp = tempDir('ixmodern');
  let ix: Index;
  before(() => {
    ix = buildIndex(tmp.dir, blocks, 840002);
  });
  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  it('records every spend: indexed outputs by id, earlier ones by outpoint', () => {
    let inside = 0;
    let outside = 0;
    for (const [op, want] of ref.spends) {
      const [txid, vout] = op.split(':');
      const got = ix.outspend(fromHexReversed(txid), Number(vout));
      assert.ok(got, `spend of ${op}`);
      assert.equal(toHexReversed(got.txid), want.txid);
      assert.equal(got.vin, want.vin);
      assert.equal(got.height, want.height);
      if (ref.outputs.has(op)) inside++;
      else outside++;
    }
    const st = ix.stats();
    assert.equal(st.tables.extspends.entries, outside);
    assert.equal(st.tables.spends.entries, inside);
    assert.ok(inside > 100 && outside > 10_000, `${inside} spends inside, ${outside} outside`);
  });

  it('matches bitcoinjs-lib on the UTXO set and sampled histories', () => {
    assert.equal(ix.stats().tables.utxos.entries, ref.utxos.size);
    let n = 0;
    for (const [sh, want] of ref.history) {
      if (n++ % 97 !== 0) continue;
      const got = allHistory(ix, fromHex(sh), 50);
      assert.deepEqual(
        got.map((e) => [e.kind, toHexReversed(e.txid), e.index, e.height, e.value]),
        want.map((e) => [e.kind, e.txid, e.index, e.height, e.value]),
      );
    }
  });

  it('reorgs its last three blocks back to the same dump', () => {
    const before = ix.dumpHash();
    for (let i = 0; i < 3; i++) ix.disconnectTip();
    for (let h = 840005; h <= 840007; h++) ix.connectBlock(blocks[h - 840002], h);
    assert.equal(ix.dumpHash(), before);
  });
});

describe('index: read-only opening', () => {
  it('answers and dumps without writing; refuses writes and an empty dir', async () => {
    const a = tempDir('ixro');
    const blocks = mainnet600().slice(0, 20);
    const w = buildIndex(a.dir, blocks);
    const hash = w.dumpHash();
    await w.close();
    const file = join(a.dir, 'index', 'blocks.dat');
    appendFileSync(file, new Uint8Array(10));
    const size = statSync(file).size;
    const r = openIndex(a.dir, 'mainnet', { readOnly: true });
    assert.equal(r.dumpHash(), hash);
    assert.equal(statSync(file).size, size, 'a reader never truncates');
    assert.throws(() => r.connectBlock(mainnet600()[20], 20), /read-only/);
    await r.close();
    const e = tempDir('ixro-empty');
    assert.throws(() => openIndex(e.dir, 'mainnet', { readOnly: true }));
    a.cleanup();
    e.cleanup();
  });
});
