import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { verifyTaprootCommitment } from '../src/address/index.ts';
import { equalBytes, fromHex, toHex } from '../src/bytes/hex.ts';
import { classify, inferSpend, type Revealed, revealedScript } from '../src/script/index.ts';
import type { TxIn } from '../src/tx/types.ts';

interface RealInput {
  block: number;
  txid: string;
  vin: number;
  prevTxid: string;
  vout: number;
  scriptSig: string;
  sequence: number;
  witness: string[];
  prevScriptPubKey: string;
}
const real = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/bitcoin-core/mainnet-scripts.json', import.meta.url), 'utf8'),
) as { inputs: RealInput[] };

const toIn = (r: RealInput): TxIn => ({
  prevTxid: fromHex(r.prevTxid),
  vout: r.vout,
  scriptSig: fromHex(r.scriptSig),
  sequence: r.sequence,
  witness: r.witness.map((w) => fromHex(w)),
});

const hash160 = (b: Uint8Array) => ripemd160(sha256(b));

/** The revealed script must hash to what the prevout commits to: independent of how it was found. */
function checkCommitment(r: Revealed, spk: Uint8Array): void {
  const c = classify(spk);
  switch (r.spend) {
    case 'p2sh':
    case 'p2sh-p2wpkh':
      assert.equal(c.type, 'p2sh');
      if (c.type === 'p2sh') assert.ok(equalBytes(hash160(r.redeemScript), c.hash));
      break;
    case 'p2sh-p2wsh':
      assert.equal(c.type, 'p2sh');
      if (c.type === 'p2sh') assert.ok(equalBytes(hash160(r.redeemScript), c.hash));
      assert.equal(toHex(r.redeemScript), `0020${toHex(sha256(r.witnessScript))}`);
      break;
    case 'p2wsh':
      assert.equal(c.type, 'p2wsh');
      if (c.type === 'p2wsh') assert.ok(equalBytes(sha256(r.witnessScript), c.hash));
      break;
    case 'p2tr-script':
      assert.equal(c.type, 'p2tr');
      if (c.type === 'p2tr')
        assert.equal(verifyTaprootCommitment(c.outputKey, r.leaf.script, r.leaf.controlBlock), true);
      break;
    case 'p2tr-key':
      assert.equal(c.type, 'p2tr');
      break;
    default:
      assert.equal(r.spend, c.type);
  }
}

describe('revealedScript on real mainnet inputs (prevout from the same blocks)', () => {
  const bySpend = new Map<string, number>();
  for (const r of real.inputs) {
    test(`${r.txid.slice(0, 16)}:${r.vin} (block ${r.block})`, () => {
      const input = toIn(r);
      const spk = fromHex(r.prevScriptPubKey);
      const got = revealedScript(input, spk);
      assert.equal(got.inferred, false);
      checkCommitment(got, spk);
      bySpend.set(got.spend, (bySpend.get(got.spend) ?? 0) + 1);
      // Without the prevout, the shape alone leads to the same answer for these inputs.
      const inf = inferSpend(input);
      assert.equal(inf.spend, got.spend);
      assert.equal(inf.inferred, true);
      checkCommitment(inf, spk);
    });
  }
  test('every spend kind that occurs is covered', () => {
    console.log(`revealed kinds: ${JSON.stringify(Object.fromEntries(bySpend))}`);
    for (const k of [
      'p2pkh',
      'p2wpkh',
      'p2sh',
      'p2sh-p2wpkh',
      'p2sh-p2wsh',
      'p2wsh',
      'p2tr-key',
      'p2tr-script',
    ]) {
      assert.ok((bySpend.get(k) ?? 0) > 0, k);
    }
  });
});

describe('revealedScript: annex, coinbase, malformed', () => {
  const P2TR = fromHex(`5120${'11'.repeat(32)}`);
  const cb = fromHex(`c1${'22'.repeat(32)}${'33'.repeat(32)}`);
  const leaf = fromHex('51');
  const mk = (witness: Uint8Array[], scriptSig: Uint8Array = new Uint8Array(0)): TxIn => ({
    prevTxid: new Uint8Array(32).fill(7),
    vout: 1,
    scriptSig,
    sequence: 0,
    witness,
  });
  test('annex on a script-path spend', () => {
    const annex = fromHex('50aabb');
    for (const r of [revealedScript(mk([leaf, cb, annex]), P2TR), inferSpend(mk([leaf, cb, annex]))]) {
      assert.equal(r.spend, 'p2tr-script');
      if (r.spend !== 'p2tr-script') return;
      assert.equal(toHex(r.annex ?? new Uint8Array()), '50aabb');
      assert.equal(toHex(r.leaf.script), '51');
      assert.equal(r.leaf.controlBlock.leafVersion, 0xc0);
      assert.equal(r.leaf.controlBlock.outputKeyParity, 1);
      assert.equal(r.leaf.controlBlock.path.length, 1);
    }
  });
  test('annex on a key-path spend; a lone 0x50 item is not an annex', () => {
    const r = revealedScript(mk([new Uint8Array(64), fromHex('50')]), P2TR);
    assert.equal(r.spend, 'p2tr-key');
    assert.ok(r.spend === 'p2tr-key' && r.annex);
    const single = revealedScript(mk([fromHex('50')]), P2TR);
    assert.deepEqual(single, { spend: 'p2tr-key', inferred: false });
  });
  test('bad control block size is malformed', () => {
    const r = revealedScript(mk([leaf, cb.subarray(0, 40)]), P2TR);
    assert.equal(r.spend, 'malformed');
  });
  test('coinbase input', () => {
    const r = revealedScript({
      prevTxid: new Uint8Array(32),
      vout: 0xffffffff,
      scriptSig: fromHex('03a0bb0d'),
      sequence: 0,
      witness: [new Uint8Array(32)],
    });
    assert.equal(r.spend, 'coinbase');
  });
  test('P2SH with a non-push scriptSig is malformed; P2WSH without witness too', () => {
    const p2sh = fromHex(`a914${'00'.repeat(20)}87`);
    assert.equal(revealedScript(mk([], fromHex('0161')), p2sh).spend, 'p2sh');
    assert.equal(revealedScript(mk([], fromHex('61')), p2sh).spend, 'malformed');
    assert.equal(revealedScript(mk([]), fromHex(`0020${'00'.repeat(32)}`)).spend, 'malformed');
  });
  test('inference with nothing to go on', () => {
    const r = inferSpend(mk([]));
    assert.equal(r.spend, 'unknown');
  });
});
