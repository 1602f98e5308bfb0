import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Address, NETWORK, OutScript } from '@scure/btc-signer';
import { script as bjsScript } from 'bitcoinjs-lib';
import { scriptToAddress } from '../src/address/index.ts';
import { fromHex, toHex } from '../src/bytes/hex.ts';
import { classify, electrumScriptHash, fromAsm, revealedScript } from '../src/script/index.ts';

const fixture = (name: string) => new URL(`../../../test/fixtures/${name}`, import.meta.url);
const real = JSON.parse(readFileSync(fixture('bitcoin-core/mainnet-scripts.json'), 'utf8')) as {
  scriptPubKeys: Record<string, { block: number; txid: string; vout: number; scriptPubKey: string }[]>;
  inputs: { witness: string[]; scriptSig: string; prevScriptPubKey: string }[];
};

// @scure/btc-signer's names for the same templates: an independent classifier.
const SCURE: Record<string, string> = {
  p2pkh: 'pkh',
  p2sh: 'sh',
  p2wpkh: 'wpkh',
  p2wsh: 'wsh',
  p2tr: 'tr',
  p2pk: 'pk',
};

describe('classify: real mainnet scriptPubKeys', () => {
  for (const [type, items] of Object.entries(real.scriptPubKeys)) {
    if (type === 'op_return_candidates') continue;
    test(`${type}: ${items.length} outputs from blocks ${[...new Set(items.map((x) => x.block))].join(', ')}`, () => {
      assert.ok(items.length >= 5);
      for (const it of items) {
        const s = fromHex(it.scriptPubKey);
        const c = classify(s);
        assert.equal(c.type, type, `${it.txid}:${it.vout}`);
        assert.equal(OutScript.decode(s).type, SCURE[type]);
        // Address agrees with @scure/btc-signer's encoder where the type has one.
        if (type !== 'p2pk') {
          assert.equal(scriptToAddress(s, 'mainnet'), Address(NETWORK).encode(OutScript.decode(s)));
        } else {
          assert.equal(scriptToAddress(s, 'mainnet'), undefined);
        }
        // Views, not copies.
        const field =
          c.type === 'p2tr' ? c.outputKey : c.type === 'p2pk' ? c.pubkey : 'hash' in c ? c.hash : undefined;
        assert.equal(field?.buffer, s.buffer);
      }
    });
  }
  test('OP_RETURN outputs (runes and others): op_return exactly when push-only', () => {
    const items = real.scriptPubKeys.op_return_candidates;
    let opReturn = 0;
    for (const it of items) {
      const s = fromHex(it.scriptPubKey);
      const c = classify(s);
      const chunks = bjsScript.decompile(s.subarray(1));
      const pushOnly = chunks?.every((x) => typeof x !== 'number' || x <= 0x60) === true;
      assert.equal(c.type, pushOnly ? 'op_return' : 'nonstandard', it.txid);
      if (c.type === 'op_return') {
        opReturn++;
        const pushed = (chunks ?? []).filter((x) => typeof x !== 'number' || (x >= 0x4f && x !== 0x50));
        assert.equal(c.data.length, pushed.length);
      }
    }
    assert.ok(opReturn >= 5, `${opReturn} op_return`);
  });
  test('bare multisig: the multisig redeem/witness scripts revealed by real P2SH/P2WSH spends', () => {
    // No bare multisig output occurs in the bundled blocks; the same template appears as the script
    // real inputs reveal, so those are classified as a scriptPubKey would be.
    let n = 0;
    for (const inp of real.inputs) {
      const r = revealedScript(
        {
          prevTxid: new Uint8Array(32),
          vout: 0,
          scriptSig: fromHex(inp.scriptSig),
          sequence: 0,
          witness: inp.witness.map((w) => fromHex(w)),
        },
        fromHex(inp.prevScriptPubKey),
      );
      const s = 'witnessScript' in r ? r.witnessScript : 'redeemScript' in r ? r.redeemScript : undefined;
      if (!s) continue;
      const c = classify(s);
      if (c.type !== 'multisig') continue;
      const o = OutScript.decode(s);
      assert.equal(o.type, 'ms');
      if (o.type === 'ms') {
        assert.equal(o.m, c.m);
        assert.deepEqual(o.pubkeys.map(toHex), c.pubkeys.map(toHex));
      }
      n++;
    }
    assert.ok(n >= 3, `${n} multisig scripts`);
  });
});

describe('classify: templates and edge cases (Core Solver rules)', () => {
  const cases: [string, string][] = [
    ['a94c14c286a1af0947f58d1ad787385b1c2c4a976f9e7187', 'nonstandard'], // P2SH bytes with PUSHDATA1: not P2SH
    ['0015' + '11'.repeat(21), 'nonstandard'], // v0 program of 21 bytes
    ['5210751e76e8199196d454941c45d1b3a323', 'witness_unknown'], // BIP-350: v2, 16 bytes
    ['6002751e', 'witness_unknown'], // v16, 2 bytes
    ['51024e73', 'anchor'],
    ['6a', 'op_return'],
    ['6a61', 'nonstandard'],
    ['6a4c', 'nonstandard'],
    ['4c', 'nonstandard'],
    ['', 'nonstandard'],
    ['21' + '04' + '11'.repeat(32) + 'ac', 'nonstandard'], // 33 bytes with an uncompressed prefix
  ];
  for (const [hex, type] of cases)
    test(`${hex.slice(0, 24) || '(empty)'} -> ${type}`, () =>
      assert.equal(classify(fromHex(hex)).type, type));
  test('multisig bounds: m <= n, 17-20 keys as minimal pushes (Core >= 24)', () => {
    const k = (i: number) => `02${(0xa0 + i).toString(16).repeat(32)}`;
    const keys = (n: number) => Array.from({ length: n }, (_, i) => k(i + 1)).join(' ');
    const ms = (m: number | string, n: number, count = n) =>
      fromAsm(`${m} ${keys(count)} ${n} OP_CHECKMULTISIG`);
    const c = classify(ms(2, 3));
    assert.equal(c.type, 'multisig');
    if (c.type === 'multisig') assert.equal(c.pubkeys.length, 3);
    assert.equal(classify(ms(3, 2)).type, 'nonstandard');
    assert.equal(classify(ms(0, 2)).type, 'nonstandard');
    assert.equal(classify(ms(2, 3, 2)).type, 'nonstandard');
    const big = classify(ms(18, 20));
    assert.equal(big.type, 'multisig');
    if (big.type === 'multisig') assert.equal(big.m, 18);
    assert.equal(classify(ms(2, 21)).type, 'nonstandard');
  });
  test('nonstandard says whether the script parses', () => {
    assert.deepEqual(classify(fromHex('4c')), { type: 'nonstandard', parsable: false });
    assert.deepEqual(classify(fromHex('61')), { type: 'nonstandard', parsable: true });
  });
});

describe('electrumScriptHash', () => {
  test('Electrum protocol docs example (P2PKH of 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa)', () => {
    const h = electrumScriptHash(fromHex('76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac'));
    assert.equal(h.hex, '8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161');
    assert.equal(toHex(h.sha256), '6191c3b590bfcfa0475e877c302da1e323497acf3b42c08d8fa28e364edf018b');
  });
});
