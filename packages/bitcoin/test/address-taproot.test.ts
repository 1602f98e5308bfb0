import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  controlBlockMerkleRoot,
  scriptToAddress,
  type TapTree,
  tapBranchHash,
  tapLeafHash,
  tapMerkleRoot,
  taprootOutputKey,
  taprootTweak,
  tapTree,
  verifyTaprootCommitment,
  witnessProgramScript,
} from '../src/address/index.ts';
import { fromHex, toHex } from '../src/bytes/hex.ts';
import { ValueError } from '../src/errors.ts';
import { classify, inferSpend, parseControlBlock, revealedScript } from '../src/script/index.ts';
import type { TxIn } from '../src/tx/types.ts';

const vectors = JSON.parse(
  readFileSync(
    new URL('../../../test/fixtures/bips/bip341-wallet-test-vectors.json', import.meta.url),
    'utf8',
  ),
);

type JsonTree = { id: number; script: string; leafVersion: number } | JsonTree[];
function toTree(t: JsonTree): TapTree {
  if (Array.isArray(t)) return [toTree(t[0]), toTree(t[1])];
  return { script: fromHex(t.script), leafVersion: t.leafVersion };
}

interface Case {
  given: { internalPubkey: string; scriptTree: JsonTree | null };
  intermediary: { leafHashes?: string[]; merkleRoot: string | null; tweak: string; tweakedPubkey: string };
  expected: { scriptPubKey: string; bip350Address: string; scriptPathControlBlocks?: string[] };
}

describe('BIP-341 wallet vectors: scriptPubKey section', () => {
  const cases = vectors.scriptPubKey as Case[];
  cases.forEach((c, i) => {
    test(`case ${i}: ${c.given.scriptTree ? 'script tree' : 'key path only'}`, () => {
      const P = fromHex(c.given.internalPubkey);
      let root: Uint8Array | undefined;
      if (c.given.scriptTree) {
        const tree = tapTree(toTree(c.given.scriptTree));
        root = tree.merkleRoot;
        assert.deepEqual(
          tree.leaves.map((l) => toHex(l.leafHash)),
          c.intermediary.leafHashes,
        );
        assert.equal(toHex(root), c.intermediary.merkleRoot);
        assert.equal(toHex(tapMerkleRoot(toTree(c.given.scriptTree))), c.intermediary.merkleRoot);
        const q = taprootOutputKey(P, root);
        // Control blocks: leaf version | parity, internal key, path.
        tree.leaves.forEach((leaf, j) => {
          const cb = Uint8Array.from([
            leaf.leafVersion | q.parity,
            ...P,
            ...leaf.path.flatMap((h) => [...h]),
          ]);
          assert.equal(toHex(cb), c.expected.scriptPathControlBlocks?.[j], `control block ${j}`);
          const parsed = parseControlBlock(cb);
          assert.equal(toHex(controlBlockMerkleRoot(leaf.leafHash, parsed.path)), c.intermediary.merkleRoot);
          assert.equal(verifyTaprootCommitment(q.outputKey, leaf.script, parsed), true);
          assert.equal(verifyTaprootCommitment(q.outputKey, Uint8Array.of(0x51), parsed), false);
          // The spend of this leaf reveals exactly it, with or without the prevout.
          const input: TxIn = {
            prevTxid: new Uint8Array(32).fill(1),
            vout: 0,
            scriptSig: new Uint8Array(0),
            sequence: 0xffffffff,
            witness: [new Uint8Array(64), leaf.script, cb],
          };
          for (const r of [revealedScript(input, fromHex(c.expected.scriptPubKey)), inferSpend(input)]) {
            assert.equal(r.spend, 'p2tr-script');
            if (r.spend !== 'p2tr-script') return;
            assert.equal(toHex(r.leaf.script), toHex(leaf.script));
            assert.equal(r.leaf.leafVersion, leaf.leafVersion);
          }
        });
      }
      assert.equal(toHex(taprootTweak(P, root)), c.intermediary.tweak);
      const q = taprootOutputKey(P, root);
      assert.equal(toHex(q.outputKey), c.intermediary.tweakedPubkey);
      const spk = witnessProgramScript(1, q.outputKey);
      assert.equal(toHex(spk), c.expected.scriptPubKey);
      assert.equal(classify(spk).type, 'p2tr');
      assert.equal(scriptToAddress(spk, 'mainnet'), c.expected.bip350Address);
    });
  });
  test('tap branch hashes are order-independent; bad keys refused', () => {
    const a = tapLeafHash(Uint8Array.of(0x51));
    const b = tapLeafHash(Uint8Array.of(0x52));
    assert.equal(toHex(tapBranchHash(a, b)), toHex(tapBranchHash(b, a)));
    // x = 5 is not on secp256k1 (5^3 + 7 = 132 is a non-residue mod p).
    const bad = new Uint8Array(32);
    bad[31] = 5;
    assert.throws(() => taprootOutputKey(bad), ValueError);
    assert.throws(() => taprootOutputKey(new Uint8Array(31)), ValueError);
  });
});
