import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHex, toHexReversed } from '../src/bytes/hex.ts';
import { ValueError } from '../src/errors.ts';
import {
  blockChecksum,
  decodeShortId,
  decodeShortIdParts,
  describeShortId,
  encodeShortId,
  encodeShortIdParts,
  formatScid,
  formatShortId,
  isExtendedShortId,
  offchainInputId,
  offchainItemMatchesTxid,
  offchainOutputId,
  offchainTxId,
  parseScid,
  parseShortId,
  readShortIdItem,
  type ShortIdItem,
  scidFromU64,
  scidToShortId,
  scidToU64,
  shortIdFromBytes,
  shortIdHex,
  shortIdKind,
  shortIdToBytes,
  shortIdToScid,
} from '../src/shortid/index.ts';

interface Vector {
  name: string;
  source: string;
  id: string;
  hex: string;
  text: string;
  item: ShortIdItem;
  context?: { blockHash?: string; txid?: string };
}
const fixture = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/shortid/vectors.json', import.meta.url), 'utf8'),
) as {
  headers: Record<string, string>;
  vectors: Vector[];
  invalidIds: { id: string; why: string }[];
  scids: { text: string; u64: string; blockHash?: string; shortId?: string }[];
};

describe('LNPBP-5 published vectors', () => {
  it('has the cases docs/lnpbp-5.md promises', () => {
    const names = fixture.vectors.map((v) => v.name).join('\n');
    for (const want of [
      'genesis block',
      'block 170 tx 1 input 0',
      'block 840002 tx 1 output 3',
      'output 69419 (extended)',
    ]) {
      assert.ok(names.includes(want), want);
    }
    assert.ok(fixture.vectors.length >= 50);
  });

  it('block hashes are the double-SHA256 of the real headers, and checksums their XOR', () => {
    const byHeight = new Map<number, string>();
    for (const [h, hex] of Object.entries(fixture.headers)) {
      byHeight.set(Number(h), toHexReversed(sha256(sha256(fromHex(hex)))));
    }
    assert.equal(byHeight.get(0), '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    let checked = 0;
    for (const v of fixture.vectors) {
      if (v.source === 'boundary' || !('height' in v.item) || !v.context?.blockHash) continue;
      if (v.source !== 'synthetic placement')
        assert.equal(byHeight.get(v.item.height), v.context.blockHash, v.name);
      assert.equal(blockChecksum(v.context.blockHash), v.item.checksum, v.name);
      assert.equal(blockChecksum(fromHex(v.context.blockHash).reverse()), v.item.checksum, v.name);
      checked++;
    }
    assert.ok(checked > 20);
  });

  for (const v of fixture.vectors) {
    it(v.name, () => {
      const id = BigInt(v.id);
      assert.equal(encodeShortId(v.item), id, 'encode');
      assert.deepEqual(decodeShortId(id), v.item, 'decode');
      assert.equal(shortIdKind(id), v.item.kind);
      assert.equal(shortIdHex(id), v.hex);
      assert.equal(formatShortId(id), v.text);
      assert.deepEqual(describeShortId(id), {
        ...v.item,
        id: v.id,
        hex: v.hex,
        text: v.text,
        extended: isExtendedShortId(id),
      });
      assert.equal(isExtendedShortId(id), v.name.includes('extended'));
      assert.equal(parseShortId(v.text), id);
      assert.equal(parseShortId(v.hex), id);
      assert.equal(parseShortId(v.id), id);
      const bytes = shortIdToBytes(id);
      assert.equal(BigInt(`0x${Buffer.from(bytes).toString('hex')}`), id, 'big-endian bytes');
      assert.equal(shortIdFromBytes(bytes), id);
      assert.deepEqual(readShortIdItem(bytes, 0), v.item);
      const [hi, lo] = encodeShortIdParts(v.item);
      assert.deepEqual(decodeShortIdParts(hi, lo), v.item);
      const txid = v.context?.txid;
      if (txid && v.source !== 'synthetic placement' && v.item.kind.startsWith('offchain')) {
        const item = v.item as Extract<ShortIdItem, { txidPrefix: number }>;
        assert.ok(offchainItemMatchesTxid(item, txid));
        if (item.kind === 'offchain-tx') assert.equal(offchainTxId(txid), id);
        if (item.kind === 'offchain-input') assert.equal(offchainInputId(txid, item.index), id);
        if (item.kind === 'offchain-output') {
          assert.equal(offchainOutputId(txid, item.index), id);
          assert.equal(offchainOutputId(fromHex(txid).reverse(), item.index), id, 'internal byte order');
          assert.equal(parseShortId(`off:${txid}:o${item.index}`), id);
        }
      }
    });
  }

  it('the coinbase tx shares its block id; decode names it a block', () => {
    const g = fixture.vectors.find((v) => v.name === 'genesis block')!;
    const item = g.item as Extract<ShortIdItem, { kind: 'block' }>;
    assert.equal(
      encodeShortId({ kind: 'tx', height: 0, checksum: item.checksum, position: 0 }),
      BigInt(g.id),
    );
    assert.equal(parseShortId('0:98:0'), BigInt(g.id));
  });

  it('block 170 tx 1 input 0 and block 9 coinbase output 0 are different ids of one spend', () => {
    const spend = fixture.vectors.find((v) => v.name === 'block 170 tx 1 input 0')!;
    const spent = fixture.vectors.find((v) => v.name === 'block 9 tx 0 output 0')!;
    assert.equal(shortIdKind(BigInt(spend.id)), 'input');
    assert.equal(shortIdKind(BigInt(spent.id)), 'output');
  });
});

describe('BOLT-7 short_channel_id', () => {
  for (const s of fixture.scids) {
    it(s.text, () => {
      const scid = parseScid(s.text);
      assert.equal(formatScid(scid), s.text);
      assert.equal(scidToU64(scid), BigInt(s.u64));
      assert.deepEqual(scidFromU64(BigInt(s.u64)), scid);
      if (s.blockHash && s.shortId) {
        assert.equal(scidToShortId(scid, s.blockHash), BigInt(s.shortId));
        assert.deepEqual(shortIdToScid(BigInt(s.shortId)), scid);
      }
    });
  }
  it('BOLT-7 layout: 3 bytes height, 3 bytes tx, 2 bytes output', () => {
    assert.equal(
      scidToU64({ height: 0xabcdef, txIndex: 0x123456, outputIndex: 0x789a }),
      0xabcdef123456789an,
    );
    assert.deepEqual(scidFromU64(0xffffffffffffffffn), {
      height: 0xffffff,
      txIndex: 0xffffff,
      outputIndex: 0xffff,
    });
  });
  it('rejects malformed and out-of-range scids', () => {
    for (const bad of [
      '',
      '1x2',
      '1x2x3x4',
      'ax1x1',
      '1:2:3',
      '16777216x0x0',
      '0x16777216x0',
      '0x0x65536',
      '-1x0x0',
    ]) {
      assert.throws(() => parseScid(bad), ValueError, bad);
    }
    assert.throws(() => scidFromU64(1n << 64n), ValueError);
    assert.throws(
      () => scidToShortId({ height: 1 << 23, txIndex: 0, outputIndex: 0 }, '00'.repeat(32)),
      ValueError,
    );
    assert.throws(
      () => scidToShortId({ height: 1, txIndex: 32768, outputIndex: 0 }, '00'.repeat(32)),
      ValueError,
    );
    assert.throws(() => scidToShortId({ height: 1, txIndex: 1, outputIndex: 0 }, '00'), ValueError);
  });
  it('scids convert to extended output ids and back while the output fits 16 bits', () => {
    const scid = { height: 700000, txIndex: 5, outputIndex: 65535 };
    const id = scidToShortId(scid, 'ff'.repeat(32));
    assert.ok(isExtendedShortId(id));
    assert.deepEqual(shortIdToScid(id), scid);
    const far = encodeShortId({ kind: 'output', height: 1, checksum: 0, position: 1, index: 65536 });
    assert.throws(() => shortIdToScid(far), ValueError);
    assert.throws(() => shortIdToScid(parseShortId('1:00:1:i0')), ValueError);
  });
});
