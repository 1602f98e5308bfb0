import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Block as BjsBlock, Transaction as BjsTx } from 'bitcoinjs-lib';
import { MODERN_BLOCKS, modernBlock, readFixture } from '../../../test/support/fixtures.ts';
import { readBlkRecords } from '../src/block/blkfile.ts';
import { checkProofOfWork } from '../src/block/header.ts';
import {
  blockWeight,
  checkMerkleRoot,
  checkWitnessCommitment,
  hashBlockTxs,
  parseBlock,
} from '../src/block/parse.ts';
import { equalBytes, fromHex, toHex, toHexReversed } from '../src/bytes/hex.ts';
import { DecodeError } from '../src/errors.ts';
import { parseTx } from '../src/tx/parse.ts';
import { serializeBlock, serializeTx } from '../src/tx/serialize.ts';

function mainnetBlocks0to599(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of ['chain/blk00000.dat', 'chain/blk00001.dat']) {
    for (const rec of readBlkRecords(readFixture(f), 'mainnet')) out.push(rec.raw);
  }
  return out;
}

describe('mainnet blocks 0-599 from blk files', () => {
  const raws = mainnetBlocks0to599();
  it('holds 600 linked blocks starting at genesis', () => {
    assert.equal(raws.length, 600);
    const genesis = parseBlock(raws[0]);
    assert.equal(
      toHexReversed(genesis.header.hash()),
      '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    );
    for (let i = 1; i < raws.length; i++) {
      const prev = parseBlock(raws[i - 1]).header.hash();
      assert.ok(equalBytes(parseBlock(raws[i]).header.prevHash, prev), `block ${i} links to ${i - 1}`);
    }
  });
  it('verifies merkle root and proof of work, re-serializes byte-identically, agrees with bitcoinjs-lib', () => {
    let txs = 0;
    for (const [h, raw] of raws.entries()) {
      const b = parseBlock(raw);
      assert.ok(checkMerkleRoot(b), `merkle ${h}`);
      assert.ok(checkProofOfWork(b.header), `pow ${h}`);
      assert.equal(checkWitnessCommitment(b), 'absent-ok');
      assert.ok(equalBytes(serializeBlock(b), raw), `round trip ${h}`);
      const ref = BjsBlock.fromBuffer(Buffer.from(raw));
      assert.equal(b.txs.length, ref.transactions!.length);
      for (const [i, tx] of b.txs.entries())
        assert.equal(toHexReversed(tx.txid()), ref.transactions![i].getId());
      txs += b.txs.length;
    }
    // 600 blocks of the first days of Bitcoin: almost all hold a coinbase only.
    assert.ok(txs >= 600);
  });
  it('block 170 holds the first payment, spending block 9 coinbase output 0', () => {
    const b170 = parseBlock(raws[170]);
    const b9 = parseBlock(raws[9]);
    assert.equal(b170.txs.length, 2);
    const spend = b170.txs[1];
    assert.equal(
      toHexReversed(spend.txid()),
      'f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16',
    );
    assert.ok(equalBytes(spend.inputs[0].prevTxid, b9.txs[0].txid()));
    assert.equal(spend.inputs[0].vout, 0);
    assert.equal(spend.outputs[0].value, 1_000_000_000n);
  });
});

describe('modern mainnet blocks', () => {
  for (const height of MODERN_BLOCKS) {
    it(`block ${height}: merkle, witness commitment, pow, weight, round trip, ids match bitcoinjs-lib`, () => {
      const raw = modernBlock(height);
      const b = parseBlock(raw);
      hashBlockTxs(b);
      assert.ok(checkMerkleRoot(b));
      assert.equal(checkWitnessCommitment(b), 'valid');
      assert.ok(checkProofOfWork(b.header));
      assert.ok(equalBytes(serializeBlock(b), raw));
      const ref = BjsBlock.fromBuffer(Buffer.from(raw));
      assert.equal(toHexReversed(b.header.hash()), ref.getId());
      assert.equal(b.txs.length, ref.transactions!.length);
      assert.equal(blockWeight(b), ref.weight());
      assert.ok(blockWeight(b) <= 4_000_000);
      for (const [i, tx] of b.txs.entries()) {
        const r = ref.transactions![i];
        assert.equal(toHexReversed(tx.txid()), r.getId());
        // bitcoinjs-lib reports the coinbase's wtxid as zero (its role in the witness merkle tree).
        if (i > 0)
          assert.equal(toHexReversed(tx.wtxid()), Buffer.from(r.getHash(true)).reverse().toString('hex'));
        assert.equal(tx.weight, r.weight());
        assert.equal(tx.vsize, r.virtualSize());
        assert.equal(tx.outputs.length, r.outs.length);
      }
    });
  }
  it('a flipped byte in a tx breaks the merkle root check; in a witness, the witness commitment', () => {
    const raw = modernBlock(840002).slice();
    const b = parseBlock(raw);
    const last = b.txs[b.txs.length - 1];
    const lockOffset = last.raw.byteOffset - b.raw.byteOffset + last.raw.length - 4;
    const flipped = raw.slice();
    flipped[lockOffset] ^= 1;
    assert.equal(checkMerkleRoot(parseBlock(flipped)), false);
    const segwit = b.txs.find((t) => t.hasWitness && t !== b.txs[0])!;
    const witnessOffset = segwit.raw.byteOffset - b.raw.byteOffset + segwit.witnessOffset + 2;
    const flippedWitness = raw.slice();
    flippedWitness[witnessOffset] ^= 1;
    const fb = parseBlock(flippedWitness);
    assert.equal(checkMerkleRoot(fb), true);
    assert.equal(checkWitnessCommitment(fb), 'invalid');
  });
});

describe('huge transactions', () => {
  const cases: [string, string, number, number][] = [
    [
      'chain/tx-69420-outputs.bin.gz',
      'a536e7f60a493a258d9adc77d913f7798baf60c808c16898b04579d8c0652681',
      1,
      69420,
    ],
    ['chain/megatx-5569-inputs.bin.gz', '', 5569, -1],
    ['chain/huge-witness-500k-items.bin.gz', '', -1, -1],
  ];
  for (const [file, txid, nIn, nOut] of cases) {
    it(`${file} parses and re-serializes`, () => {
      const raw = readFixture(file);
      const tx = parseTx(raw);
      assert.ok(equalBytes(serializeTx(tx, { witness: tx.hasWitness }), raw));
      const ref = BjsTx.fromBuffer(Buffer.from(raw));
      assert.equal(toHexReversed(tx.txid()), ref.getId());
      if (txid) assert.equal(toHexReversed(tx.txid()), txid);
      if (nIn >= 0) assert.equal(tx.inputs.length, nIn);
      if (nOut >= 0) assert.equal(tx.outputs.length, nOut);
    });
  }
  it('the huge witness tx carries 500,003 witness items', () => {
    const tx = parseTx(readFixture('chain/huge-witness-500k-items.bin.gz'));
    const items = tx.inputs.reduce((n, i) => n + i.witness.length, 0);
    assert.equal(items, 500_003);
  });
});

type TxVector = [unknown[], string, string];

function loadTxVectors(name: string): TxVector[] {
  const json = JSON.parse(new TextDecoder().decode(readFixture(`tx/${name}`))) as unknown[];
  return json.filter((row): row is TxVector => Array.isArray(row) && Array.isArray(row[0]));
}

describe('Bitcoin Core tx vectors', () => {
  for (const name of ['tx_valid.json', 'tx_invalid.json']) {
    it(`${name}: every transaction parses, round-trips and matches bitcoinjs-lib's txid`, () => {
      const rows = loadTxVectors(name);
      assert.ok(rows.length >= 90, `${rows.length} vectors`);
      let checked = 0;
      for (const [, hex] of rows) {
        const raw = fromHex(hex);
        const tx = parseTx(raw);
        assert.equal(toHex(serializeTx(tx, { witness: tx.hasWitness })), hex);
        let refId: string | null = null;
        try {
          refId = BjsTx.fromBuffer(Buffer.from(raw)).getId();
        } catch {
          // bitcoinjs-lib refuses a few shapes Core accepts (e.g. no inputs); ours is checked by round trip.
        }
        if (refId !== null) {
          assert.equal(toHexReversed(tx.txid()), refId);
          checked++;
        }
      }
      assert.ok(checked >= rows.length - 5, `${checked} of ${rows.length} compared with bitcoinjs-lib`);
    });
  }
});

describe('malformed input', () => {
  const good = modernBlock(840002);
  it('truncation anywhere is a typed error naming an offset', () => {
    for (const cut of [0, 1, 79, 80, 81, 200, 5000, good.length - 1]) {
      assert.throws(
        () => parseBlock(good.subarray(0, cut)),
        (e: unknown) => e instanceof DecodeError && e.offset <= cut && /truncated/.test(e.message),
      );
    }
  });
  it('trailing bytes are refused', () => {
    const withExtra = new Uint8Array(good.length + 1);
    withExtra.set(good);
    assert.throws(
      () => parseBlock(withExtra),
      (e: unknown) => e instanceof DecodeError && e.code === 'trailing-bytes',
    );
  });
  it('a hostile count is refused before allocation', () => {
    // version, then an input count of 0xffffffff with nothing after it.
    const tx = fromHex('01000000fe0000ffff');
    assert.throws(
      () => parseTx(tx),
      (e: unknown) => e instanceof DecodeError && e.what === 'tx.inputs',
    );
  });
  it('non-canonical CompactSize is refused', () => {
    assert.throws(
      () => parseTx(fromHex('01000000fd0100')),
      (e: unknown) => e instanceof DecodeError && e.code === 'non-canonical',
    );
  });
  it('a witness flag other than 1 is refused', () => {
    assert.throws(
      () => parseTx(fromHex('010000000002')),
      (e: unknown) => e instanceof DecodeError && e.what === 'tx.flag',
    );
  });
});
