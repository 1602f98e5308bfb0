import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, ValueError } from '../src/errors.ts';
import {
  blockChecksum,
  decodeShortId,
  EXT_MAX_INDEX,
  EXT_MAX_POSITION,
  encodeShortId,
  inputLo,
  isExtendedShortId,
  MAX_HEIGHT,
  MAX_ORDINARY_INDEX,
  MAX_POSITION,
  offchainInputId,
  offchainOutputId,
  onchainHi,
  outputLo,
  parseShortId,
  readShortIdHi,
  readShortIdItem,
  readShortIdLo,
  type ShortIdItem,
  shortIdFromParts,
  shortIdKind,
  shortIdToBytes,
  txidPrefix,
  txLo,
  writeShortId,
  writeShortIdBig,
} from '../src/shortid/index.ts';

/** Deterministic xorshift32, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
const r = rng(0x5eed1d);
const below = (n: number) => r() % n;
const u64 = () => (BigInt(r()) << 32n) | BigInt(r());

function randomItem(): ShortIdItem {
  const height = below(MAX_HEIGHT + 1);
  const checksum = below(256);
  const k = below(9);
  const prefix = below(2 ** 15) * 2 ** 32 + r();
  switch (k) {
    case 0:
      return { kind: 'block', height, checksum };
    case 1:
      return { kind: 'tx', height, checksum, position: 1 + below(MAX_POSITION) };
    case 2:
      return {
        kind: 'input',
        height,
        checksum,
        position: below(MAX_POSITION + 1),
        index: below(MAX_ORDINARY_INDEX + 1),
      };
    case 3:
      return {
        kind: 'output',
        height,
        checksum,
        position: below(MAX_POSITION + 1),
        index: below(MAX_ORDINARY_INDEX + 1),
      };
    case 4: {
      const index = MAX_ORDINARY_INDEX + 1 + below(EXT_MAX_INDEX - MAX_ORDINARY_INDEX);
      return { kind: 'output', height, checksum, position: below(EXT_MAX_POSITION + 1), index };
    }
    case 5:
      return { kind: 'offchain-tx', txidPrefix: prefix };
    case 6:
      return { kind: 'offchain-input', txidPrefix: prefix, index: below(MAX_ORDINARY_INDEX + 1) };
    case 7:
      return { kind: 'offchain-output', txidPrefix: prefix, index: below(MAX_ORDINARY_INDEX + 1) };
    default: {
      const index = MAX_ORDINARY_INDEX + 1 + below(EXT_MAX_INDEX - MAX_ORDINARY_INDEX);
      return { kind: 'offchain-output', txidPrefix: prefix - (prefix % 2 ** 17), index };
    }
  }
}

// The spec's "Distinguishing different types of identifier" table, read literally (bit 0 = MSB).
const bit = (id: bigint, i: number) => Number((id >> BigInt(63 - i)) & 1n);
const zero = (id: bigint, from: number, to: number) => {
  for (let i = from; i <= to; i++) if (bit(id, i)) return false;
  return true;
};
function specKind(id: bigint): string | null {
  const off = bit(id, 0) === 1;
  if (!off && zero(id, 32, 63)) return 'block';
  if (zero(id, 48, 63)) return off ? 'offchain-tx' : 'tx';
  if (bit(id, 48) === 0 && !zero(id, 49, 63)) return off ? 'offchain-input' : 'input';
  if (bit(id, 48) === 1 && !zero(id, 49, 63)) return off ? 'offchain-output' : 'output';
  return null;
}

describe('LNPBP-5 kinds per the spec table', () => {
  it('agrees with the table on every id outside the extension space', () => {
    let n = 0;
    for (let i = 0; i < 20000; i++) {
      let id = u64();
      if (i % 4 === 0) id &= ~(0xffffn << 32n) | (1n << 63n); // many block/tx/low ids
      if (i % 3 === 0) id &= ~0x7fffn; // index field 0
      const onExt = bit(id, 0) === 0 && bit(id, 32) === 1;
      const offExt = bit(id, 0) === 1 && bit(id, 48) === 1 && zero(id, 49, 63);
      if (onExt || offExt) continue;
      const want = specKind(id);
      if (want === null) assert.throws(() => shortIdKind(id), ValueError);
      else assert.equal(shortIdKind(id), want, `0x${id.toString(16)}`);
      n++;
    }
    assert.ok(n > 10000);
  });

  it('the extensions only use patterns the table leaves unused or no real tx can reach', () => {
    for (let i = 0; i < 2000; i++) {
      const it = randomItem();
      if (!((it.kind === 'output' || it.kind === 'offchain-output') && it.index > MAX_ORDINARY_INDEX))
        continue;
      const id = encodeShortId(it);
      assert.ok(isExtendedShortId(id));
      if (it.kind === 'output') {
        // position field >= 32,768: a block has at most 16,666 txs
        assert.equal(bit(id, 32), 1);
      } else {
        // out flag with index field 0: no kind in the table
        assert.equal(specKind(id), null);
      }
    }
  });
});

describe('LNPBP-5 bijection', () => {
  it('decode(encode(item)) = item for random items of every kind, and ids never collide', () => {
    const seen = new Map<bigint, string>();
    for (let i = 0; i < 30000; i++) {
      const item = randomItem();
      const id = encodeShortId(item);
      assert.deepEqual(decodeShortId(id), item);
      const key = JSON.stringify(item);
      const prev = seen.get(id);
      if (prev !== undefined) assert.equal(prev, key, `collision at 0x${id.toString(16)}`);
      seen.set(id, key);
    }
  });

  it('encode(decode(id)) = id for random u64 (every value but the unassigned pattern names one item)', () => {
    let invalid = 0;
    for (let i = 0; i < 30000; i++) {
      let id = u64();
      if (i % 7 === 0) id &= ~0xffffn; // block / tx patterns
      if (i % 11 === 0) id = (id & ~((1n << 63n) | (1n << 31n) | 0xffffn)) | 0x8000n; // unassigned
      let item: ShortIdItem;
      try {
        item = decodeShortId(id);
      } catch (e) {
        assert.ok(e instanceof ValueError);
        assert.ok(bit(id, 0) === 0 && bit(id, 32) === 0 && bit(id, 48) === 1 && zero(id, 49, 63));
        invalid++;
        continue;
      }
      assert.equal(encodeShortId(item), id);
      assert.equal(parseShortId(`0x${id.toString(16)}`), id);
    }
    assert.ok(invalid > 0);
  });

  it('every output and input of a tx gets its own id, across the ordinary/extended border', () => {
    const hi = onchainHi(840002, 0xf6);
    for (const position of [0, 1, 11749, EXT_MAX_POSITION]) {
      const los = new Set<number>();
      los.add(txLo(position));
      for (let i = 0; i <= MAX_ORDINARY_INDEX; i++) los.add(inputLo(position, i));
      for (let o = 0; o <= EXT_MAX_INDEX; o++) los.add(outputLo(position, o));
      assert.equal(los.size, 1 + (MAX_ORDINARY_INDEX + 1) + (EXT_MAX_INDEX + 1));
      for (const lo of [...los].filter((_, j) => j % 997 === 0)) {
        const item = decodeShortId(shortIdFromParts(hi, lo));
        assert.ok(item.kind === 'block' || ('position' in item && item.position === position));
      }
    }
    // Extended outputs of different txs stay apart, and apart from every ordinary item.
    const a = encodeShortId({ kind: 'output', height: 1, checksum: 1, position: 2, index: 40000 });
    const b = encodeShortId({ kind: 'output', height: 1, checksum: 1, position: 3, index: 40000 });
    assert.notEqual(a, b);
    assert.equal(bit(a, 32), 1);
  });

  it('ordinary ids are exactly the spec bit layout', () => {
    for (let i = 0; i < 3000; i++) {
      const it = randomItem();
      const id = encodeShortId(it);
      if (isExtendedShortId(id)) continue;
      const b = id.toString(2).padStart(64, '0');
      if ('height' in it) {
        assert.equal(b[0], '0');
        assert.equal(Number.parseInt(b.slice(1, 24), 2), it.height);
        assert.equal(Number.parseInt(b.slice(24, 32), 2), it.checksum);
        assert.equal(Number.parseInt(b.slice(32, 48), 2), 'position' in it ? it.position : 0);
      } else {
        assert.equal(b[0], '1');
        assert.equal(Number.parseInt(b.slice(1, 48), 2), it.txidPrefix);
      }
      const idx = 'index' in it ? it.index + 1 : 0;
      assert.equal(b[48], it.kind === 'output' || it.kind === 'offchain-output' ? '1' : '0');
      assert.equal(Number.parseInt(b.slice(49), 2), idx);
    }
  });
});

describe('LNPBP-5 key order (LMDB compares bytes)', () => {
  it('big-endian byte order equals numeric order', () => {
    for (let i = 0; i < 5000; i++) {
      const a = u64();
      const b = u64();
      const cmp = Buffer.compare(Buffer.from(shortIdToBytes(a)), Buffer.from(shortIdToBytes(b)));
      assert.equal(cmp, a < b ? -1 : a > b ? 1 : 0);
    }
  });

  it('a block and everything in it form one contiguous key range, in chain order for ordinary items', () => {
    const block = (h: number) => encodeShortId({ kind: 'block', height: h, checksum: 0xff });
    const items: ShortIdItem[] = [{ kind: 'block', height: 100, checksum: 0xff }];
    for (const position of [1, 2, 500]) {
      items.push({ kind: 'tx', height: 100, checksum: 0xff, position });
      for (const index of [0, 1, 7])
        items.push({ kind: 'input', height: 100, checksum: 0xff, position, index });
      for (const index of [0, 1, 32766])
        items.push({ kind: 'output', height: 100, checksum: 0xff, position, index });
    }
    const ids = items.map(encodeShortId);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${i}`);
    const ext = encodeShortId({ kind: 'output', height: 100, checksum: 0xff, position: 1, index: 69419 });
    assert.ok(ext > ids[ids.length - 1] && ext < block(101));
    assert.ok(
      block(99) < ids[0] &&
        encodeShortId({ kind: 'output', height: 99, checksum: 0, position: 16383, index: EXT_MAX_INDEX }) <
          ids[0],
    );
  });
});

describe('LNPBP-5 hot path', () => {
  it('writes the same bytes as the bigint codec and reads them back', () => {
    const buf = new Uint8Array(8 * 4 + 3);
    for (let i = 0; i < 2000; i++) {
      const position = below(EXT_MAX_POSITION + 1);
      const index = below(EXT_MAX_INDEX + 1);
      const hi = onchainHi(below(MAX_HEIGHT + 1), below(256));
      const lo = outputLo(position, index);
      const at = 3 + 8 * below(4);
      writeShortId(buf, at, hi, lo);
      assert.equal(readShortIdHi(buf, at), hi);
      assert.equal(readShortIdLo(buf, at), lo);
      const id = shortIdFromParts(hi, lo);
      assert.deepEqual(buf.subarray(at, at + 8), shortIdToBytes(id));
      const item = readShortIdItem(buf, at);
      assert.ok(item.kind === 'output' && item.index === index && item.position === position);
      writeShortIdBig(buf, at, id);
      assert.deepEqual(buf.subarray(at, at + 8), shortIdToBytes(id));
    }
  });

  it('errors are typed', () => {
    assert.throws(
      () => readShortIdItem(new Uint8Array(10), 3),
      (e: unknown) => e instanceof DecodeError && e.code === 'truncated' && e.offset === 3,
    );
    const bad = new Uint8Array(9);
    writeShortId(bad, 1, onchainHi(5, 5), 0x00018000);
    assert.throws(
      () => readShortIdItem(bad, 1),
      (e: unknown) => e instanceof DecodeError && e.code === 'invalid-value' && e.offset === 1,
    );
    assert.throws(() => writeShortIdBig(new Uint8Array(8), 1, 1n), ValueError);
  });
});

describe('LNPBP-5 boundaries and invalid input', () => {
  const ok = { height: 1, checksum: 1, position: 1 };
  const rejects: [string, () => unknown][] = [
    ['height 2^23', () => onchainHi(MAX_HEIGHT + 1, 0)],
    ['height -1', () => onchainHi(-1, 0)],
    ['height 1.5', () => onchainHi(1.5, 0)],
    ['height NaN', () => onchainHi(Number.NaN, 0)],
    ['checksum 256', () => onchainHi(0, 256)],
    [
      'position 32768',
      () => encodeShortId({ kind: 'tx', height: 1, checksum: 1, position: MAX_POSITION + 1 }),
    ],
    ['input 32767', () => encodeShortId({ kind: 'input', ...ok, index: MAX_ORDINARY_INDEX + 1 })],
    ['input -1', () => encodeShortId({ kind: 'input', ...ok, index: -1 })],
    ['output 163839', () => encodeShortId({ kind: 'output', ...ok, index: EXT_MAX_INDEX + 1 })],
    ['extended output at position 16384', () => outputLo(EXT_MAX_POSITION + 1, 40000)],
    ['txidPrefix 2^47', () => encodeShortId({ kind: 'offchain-tx', txidPrefix: 2 ** 47 })],
    ['txidPrefix -1', () => encodeShortId({ kind: 'offchain-tx', txidPrefix: -1 })],
    ['off-chain input 32767', () => encodeShortId({ kind: 'offchain-input', txidPrefix: 5, index: 32767 })],
    [
      'extended off-chain output with 47 txid bits',
      () => encodeShortId({ kind: 'offchain-output', txidPrefix: 5, index: 32767 }),
    ],
    ['unknown kind', () => encodeShortId({ kind: 'utxo' } as unknown as ShortIdItem)],
    ['u64 too large', () => decodeShortId(1n << 64n)],
    ['negative id', () => decodeShortId(-1n)],
    ['unassigned pattern', () => decodeShortId(0x8000n)],
    ['checksum of 31 bytes', () => blockChecksum(new Uint8Array(31))],
    ['checksum of short hex', () => blockChecksum('00ff')],
    ['txid not hex', () => txidPrefix('zz'.repeat(32))],
    ['off-chain input -1', () => offchainInputId('00'.repeat(32), -1)],
    ['off-chain output -1', () => offchainOutputId('00'.repeat(32), -1)],
    ['extended off-chain output beyond range', () => offchainOutputId('00'.repeat(32), EXT_MAX_INDEX + 1)],
  ];
  for (const [name, f] of rejects) it(`rejects ${name} with ValueError`, () => assert.throws(f, ValueError));

  const badText = [
    '',
    'abc',
    '0x',
    '0x12345678901234567',
    '18446744073709551616',
    '-1',
    '1:2',
    '1:0g',
    '8388608:00',
    '1:00:32768',
    '1:00:1:x3',
    '1:00:1:i32767',
    '1:00:16384:o40000',
    '1:00:1:o163839',
    'off:123',
    'off:a536e7f60a49',
    'off:a536e7f5:o40000',
    'off:a536e7f4:o5',
    'off:a536e7f4',
    'off:a536e7f4:i40000',
    'off:a536e7f60a48:o40000',
    '32768',
    '0x8000',
    '1 : 00',
  ];
  for (const s of badText)
    it(`rejects text ${JSON.stringify(s)}`, () => assert.throws(() => parseShortId(s), ValueError));

  it('accepts surrounding space, upper-case hex and leading zeros', () => {
    assert.equal(parseShortId(' 0:98 '), parseShortId('0:98'));
    assert.equal(parseShortId('0X0000009800000000'), parseShortId('0:98'));
    assert.equal(parseShortId('000652835028992'), parseShortId('0:98'));
    assert.equal(
      parseShortId('off:A536E7F60A48:O0'.replace(':O', ':o')),
      parseShortId('off:a536e7f60a48:o0'),
    );
  });

  it('takes txid bits in display order', () => {
    const txid = 'a536e7f60a493a258d9adc77d913f7798baf60c808c16898b04579d8c0652681';
    assert.equal(txidPrefix(txid), Math.floor(0xa536e7f60a49 / 2));
    assert.equal(blockChecksum('ff'.repeat(32)), 0);
    assert.equal(blockChecksum(`${'00'.repeat(31)}5a`), 0x5a);
  });
});
