import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { isUnspendable } from '../src/index/batch.ts';
import { BlockLayout } from '../src/index/layout.ts';
import { blockShapeRows, layoutShapeRows } from '../src/index/shapes.ts';
import { mainnet600 } from './index-support.ts';

/**
 * The connect path reads inputs and outputs through BlockLayout (offsets into the block bytes)
 * instead of the parser's TxIn/TxOut objects: every field it gives must equal the parser's
 * (the parser is checked against bitcoinjs-lib and Core's vectors in packages/bitcoin), and
 * the shape rows it yields must equal those of the object-based walk that disconnect uses.
 */
const MODERN = [840002, 840003, 840004, 840005, 840006, 840007];

function checkLayout(block: Block): void {
  const lay = new BlockLayout(block);
  assert.equal(lay.txCount, block.txs.length);
  for (let t = 0; t < block.txs.length; t++) {
    const tx = block.txs[t];
    assert.equal(lay.inputs(t), tx.inputs.length, `tx ${t} inputs`);
    assert.equal(lay.outputs(t), tx.outputs.length, `tx ${t} outputs`);
    assert.equal(lay.isCoinbase(t), tx.isCoinbase, `tx ${t} coinbase`);
    for (let j = 0; j < tx.inputs.length; j++) {
      const g = lay.inFirst[t] + j;
      const want = tx.inputs[j];
      assert.deepEqual(lay.prevTxid(g), want.prevTxid, `tx ${t} input ${j} prevTxid`);
      assert.equal(lay.vout(g), want.vout, `tx ${t} input ${j} vout`);
      const got = lay.input(g);
      assert.deepEqual(got.scriptSig, want.scriptSig, `tx ${t} input ${j} scriptSig`);
      assert.equal(got.sequence, want.sequence, `tx ${t} input ${j} sequence`);
      assert.deepEqual(got.witness, want.witness, `tx ${t} input ${j} witness`);
    }
    for (let i = 0; i < tx.outputs.length; i++) {
      const o = lay.outFirst[t] + i;
      const want = tx.outputs[i];
      assert.equal(lay.value(o), want.value, `tx ${t} output ${i} value`);
      assert.deepEqual(lay.script(o), want.scriptPubKey, `tx ${t} output ${i} script`);
      assert.equal(lay.unspendable(o), isUnspendable(want.scriptPubKey), `tx ${t} output ${i} unspendable`);
    }
  }
}

describe('index: block layout', () => {
  it('gives the parser’s fields for every input and output of 840002-840007', () => {
    for (const h of MODERN) checkLayout(parseBlock(modernBlock(h)));
  });

  it('gives the parser’s fields on mainnet 0-599 (legacy txs, coinbase-only blocks)', () => {
    for (const raw of mainnet600()) checkLayout(parseBlock(raw));
  });

  it('yields the shape rows of the object walk, with and without spent scripts', () => {
    let rows = 0;
    for (const h of MODERN) {
      const block = parseBlock(modernBlock(h));
      const lay = new BlockLayout(block);
      let nIn = 0;
      for (let t = 1; t < block.txs.length; t++) nIn += block.txs[t].inputs.length;
      const none: (Uint8Array | undefined)[] = new Array(nIn);
      // Stand-in spent scripts of several kinds, so the given-script branches run too.
      const p2sh = Uint8Array.from([0xa9, 20, ...new Uint8Array(20), 0x87]);
      const p2wpkh = Uint8Array.from([0x00, 20, ...new Uint8Array(20)]);
      const p2pkh = Uint8Array.from([0x76, 0xa9, 20, ...new Uint8Array(20), 0x88, 0xac]);
      const p2wsh = Uint8Array.from([0x00, 32, ...new Uint8Array(32)]);
      const p2tr = Uint8Array.from([0x51, 32, ...new Uint8Array(32)]);
      const kinds = [p2sh, undefined, p2wpkh, p2pkh, p2wsh, p2tr, undefined];
      const some = Array.from({ length: nIn }, (_, k) => kinds[k % kinds.length]);
      for (const prev of [none, some]) {
        const want = blockShapeRows(block.txs, 0x123456, prev);
        assert.deepEqual(layoutShapeRows(lay, 0x123456, prev), want);
        rows += want.length;
      }
    }
    assert.ok(rows > 100, `only ${rows} shape rows: the comparison checks too little`);
  });
});
