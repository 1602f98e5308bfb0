import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { Block, Transaction } from 'bitcoinjs-lib';
import { modernBlock, readFixture } from '../../../test/support/fixtures.ts';
import { openIndex } from '../src/index/index.ts';
import { Mempool } from '../src/index/mempool.ts';
import { ReadCache, readCache } from '../src/index/readcache.ts';
import { inputAt, outputAt, outputCount, scriptAt, valueAt, voutAt } from '../src/index/txscan.ts';
import { IndexView } from '../src/index/view.ts';
import { btcdReorgChain, tempDir } from './index-support.ts';

/** Every input's outpoint and every output's value and script, as the light walk finds them. */
function checkAgainstBitcoinjs(raw: Uint8Array, every = 1): void {
  const t = Transaction.fromBuffer(Buffer.from(raw));
  assert.equal(outputCount(raw), t.outs.length);
  // Each walk starts from the tx's start: on the huge fixtures check a sample (and the ends).
  const sampled = (i: number, n: number) => i % every === 0 || i >= n - 3;
  for (const [i, inp] of t.ins.entries()) {
    if (!sampled(i, t.ins.length)) continue;
    const off = inputAt(raw, i);
    assert.ok(off >= 0);
    assert.equal(toHex(raw.subarray(off, off + 32)), toHex(inp.hash));
    assert.equal(voutAt(raw, off), inp.index);
  }
  assert.equal(inputAt(raw, t.ins.length), -1);
  for (const [i, out] of t.outs.entries()) {
    if (!sampled(i, t.outs.length)) continue;
    const off = outputAt(raw, i);
    assert.ok(off >= 0);
    assert.equal(valueAt(raw, off), out.value);
    assert.equal(toHex(scriptAt(raw, off)!), toHex(out.script));
  }
  assert.equal(outputAt(raw, t.outs.length), -1);
}

describe('txscan: light walks over stored txs', () => {
  it('find every outpoint, value and script bitcoinjs-lib parses (blocks 840002-840007)', () => {
    for (const h of [840002, 840003, 840004, 840005, 840006, 840007]) {
      for (const tx of Block.fromBuffer(Buffer.from(modernBlock(h))).transactions!)
        checkAgainstBitcoinjs(tx.toBuffer());
    }
  });

  it('handle 0xfd/0xfe counts: 5,569 inputs, 69,420 outputs', () => {
    checkAgainstBitcoinjs(readFixture('chain/megatx-5569-inputs.bin.gz'), 7);
    checkAgainstBitcoinjs(readFixture('chain/tx-69420-outputs.bin.gz'), 97);
  });

  it('answer -1 rather than read past a cut-off tx', () => {
    const raw = Block.fromBuffer(Buffer.from(modernBlock(840004))).transactions![5].toBuffer();
    const t = Transaction.fromBuffer(raw);
    for (const cut of [0, 5, 9, 40, 60, raw.length - 5]) {
      const part = new Uint8Array(raw.subarray(0, cut));
      for (let i = 0; i < t.outs.length; i++) {
        const off = outputAt(part, i);
        if (off >= 0) assert.ok(off + 9 <= part.length);
      }
      for (let i = 0; i < t.ins.length; i++) {
        const off = inputAt(part, i);
        if (off >= 0) assert.ok(off + 36 <= part.length);
      }
    }
  });
});

describe('read cache: answers follow a reorg', () => {
  it('txs, outspends and histories of the btcd chain before and after reorging onto 3A-5A', async () => {
    const { main, side } = btcdReorgChain();
    const d = tempDir('readcache');
    const ix = openIndex(d.dir, 'mainnet');
    const view = new IndexView(ix, new Mempool(ix));
    for (const [i, raw] of main.entries()) ix.connectBlock(raw, i);
    const txsOf = (blocks: Uint8Array[]) =>
      blocks.flatMap((b) => Block.fromBuffer(Buffer.from(b)).transactions!.map((t) => t));
    const check = (present: Transaction[], gone: Transaction[]) => {
      // Repeat so every block's txid section gets loaded whole, not only read one txid at a time.
      for (let round = 0; round < 6; round++) {
        for (const t of present) {
          const txid = new Uint8Array(t.getHash());
          const got = view.tx(txid);
          assert.ok(got?.confirmed, 'present tx found');
          assert.equal(toHex(got.raw), toHex(t.toBuffer()));
          for (const [vout, o] of t.outs.entries()) {
            const h = view.history(sha256(o.script), { limit: 100 });
            const fund = h.items.find(
              (x) => x.kind === 'funding' && x.index === vout && toHex(x.txid) === toHex(t.getHash()),
            );
            assert.ok(fund, 'funding item in the script history');
            assert.equal(fund.value, BigInt(o.value));
          }
        }
        for (const t of gone) {
          assert.equal(view.tx(new Uint8Array(t.getHash())), null, 'disconnected tx not answered');
          assert.equal(view.outspend(new Uint8Array(t.getHash()), 0).spent, false);
        }
      }
    };
    check(txsOf(main), []);
    ix.disconnectTip();
    ix.disconnectTip();
    const gone = txsOf(main.slice(3));
    check(txsOf(main.slice(0, 3)), gone);
    for (const [i, raw] of side.entries()) ix.connectBlock(raw, 3 + i);
    const sideTxs = txsOf(side);
    const sideIds = new Set(sideTxs.map((t) => t.getId()));
    check(
      [...txsOf(main.slice(0, 3)), ...sideTxs],
      gone.filter((t) => !sideIds.has(t.getId())),
    );
    assert.ok(readCache(ix.store).size.hits > 0);
    await ix.close();
    d.cleanup();
  });
});

/** An index of two real blocks, for the read cache's tests. */
function twoBlocks(name: string) {
  const d = tempDir(name);
  const ix = openIndex(d.dir, 'mainnet');
  const blocks = [840004, 840005].map((h) => ({ h, raw: modernBlock(h) }));
  for (const { h, raw } of blocks) ix.connectBlock(raw, h);
  return { d, ix, blocks };
}

describe('read cache: busy blocks', () => {
  it('reads a block whole after 16 single tx reads; every tx of two real blocks reads back right', async () => {
    const { d, ix, blocks } = twoBlocks('readcache-whole');
    const rc = new ReadCache(ix.store);
    for (let round = 0; round < 2; round++) {
      for (const { h, raw } of blocks) {
        const txs = Block.fromBuffer(Buffer.from(raw)).transactions!;
        // from the end backwards, so the views' bounds (the next tx's offset) are all exercised
        for (let i = txs.length - 1; i >= 0; i--) assert.equal(toHex(rc.tx(h, i)!), toHex(txs[i].toBuffer()));
      }
    }
    // 16 single reads per block (the 16th loads the block), the rest from the block's bytes
    assert.equal(rc.size.misses, 2 * 16);
    assert.ok(rc.size.bytes >= blocks[0].raw.length + blocks[1].raw.length - 2 * 80);
    await ix.close();
    d.cleanup();
  });
});

describe('read cache: bounded by bytes', () => {
  it('keeps under its budget while every tx of two real blocks reads back right', async () => {
    const { d, ix, blocks } = twoBlocks('readcache-budget');
    const budget = 200_000;
    const rc = new ReadCache(ix.store, budget);
    for (let round = 0; round < 2; round++) {
      for (const { h, raw } of blocks) {
        for (const [i, t] of Block.fromBuffer(Buffer.from(raw)).transactions!.entries()) {
          const got = rc.tx(h, i);
          assert.equal(toHex(got!), toHex(t.toBuffer()));
          assert.equal(toHex(rc.txid(h, i)!), toHex(t.getHash()));
          assert.ok(rc.size.bytes <= budget, `cache at ${rc.size.bytes} bytes`);
        }
      }
    }
    assert.ok(rc.size.misses > 0 && rc.size.hits > 0);
    await ix.close();
    d.cleanup();
  });
});
