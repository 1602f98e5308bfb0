import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixturePath, modernBlock, readFixture } from '../../../test/support/fixtures.ts';
import { parseBlock } from '../src/block/parse.ts';
import { equalBytes, fromHex, toHex, toHexReversed } from '../src/bytes/hex.ts';
import * as hash from '../src/hash/index.ts';
import { jsHash } from '../src/hash/js.ts';
import { addon, nativeImpl } from '../src/hash/native.ts';
import type { HashImpl } from '../src/hash/types.ts';

const ascii = (s: string) => new TextEncoder().encode(s);
const opensslSha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const opensslSha256d = (b: Uint8Array) => opensslSha256(opensslSha256(b));

/** FIPS 180-2 appendix B and the NIST CAVP "long message" example. */
const NIST: [string, string][] = [
  ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  [
    'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  ],
  [
    'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
    'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
  ],
  ['a'.repeat(1_000_000), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0'],
];

const GENESIS_HASH = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';

/** The genesis header: the first record of blk00000.dat (8 bytes of magic + size first). */
function genesisHeader(): Uint8Array {
  return readFixture('chain/blk00000.dat').subarray(8, 88);
}

/** Random items of 0-4 ranges each, some empty, some longer than a block, some across blocks. */
function randomBatch(data: Uint8Array, items: number) {
  const segs: number[] = [];
  const counts: number[] = [];
  const expected: Uint8Array[] = [];
  for (let i = 0; i < items; i++) {
    const c = Math.floor(Math.random() * 5);
    counts.push(c);
    const parts: Uint8Array[] = [];
    for (let k = 0; k < c; k++) {
      const max = [0, 4, 70, 300, 3000][Math.floor(Math.random() * 5)];
      const len = Math.floor(Math.random() * (max + 1));
      const off = Math.floor(Math.random() * (data.length - len + 1));
      segs.push(off, len);
      parts.push(data.subarray(off, off + len));
    }
    expected.push(opensslSha256d(Buffer.concat(parts)));
  }
  return { segs: new Uint32Array(segs), counts: new Uint32Array(counts), expected };
}

/** Every txid and wtxid range of a block, laid out as the block parser does it. */
function blockSegments(raw: Uint8Array) {
  const block = parseBlock(raw);
  const segs: number[] = [];
  const counts: number[] = [];
  for (const tx of block.txs) {
    const off = tx.raw.byteOffset - raw.byteOffset;
    if (tx.hasWitness) {
      segs.push(off, 4, off + 6, tx.witnessOffset - 6, off + tx.raw.length - 4, 4);
      counts.push(3);
    } else {
      segs.push(off, tx.raw.length);
      counts.push(1);
    }
  }
  for (const tx of block.txs) {
    segs.push(tx.raw.byteOffset - raw.byteOffset, tx.raw.length);
    counts.push(1);
  }
  return { block, segs: new Uint32Array(segs), counts: new Uint32Array(counts) };
}

/** Merkle root the plain way, over node:crypto. */
function referenceMerkle(hashes: Uint8Array[]): Uint8Array {
  let level = hashes;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(opensslSha256d(Buffer.concat([level[i], level[i + 1] ?? level[i]])));
    }
    level = next;
  }
  return level[0];
}

function implSuite(impl: HashImpl) {
  it('sha256 matches the NIST vectors', () => {
    for (const [msg, digest] of NIST) assert.equal(toHex(impl.sha256(ascii(msg))), digest, msg.slice(0, 20));
  });

  it('sha256 and sha256d match OpenSSL at every length 0-300 (all padding cases)', () => {
    const data = randomBytes(300);
    for (let len = 0; len <= 300; len++) {
      const m = new Uint8Array(data.subarray(0, len));
      assert.deepEqual(impl.sha256(m), opensslSha256(m), `len ${len}`);
      assert.deepEqual(impl.sha256d(m), opensslSha256d(m), `len ${len}`);
    }
  });

  it('returns plain Uint8Arrays the caller owns', () => {
    const a = impl.sha256(ascii('abc'));
    const b = impl.sha256(ascii('abd'));
    assert.equal(Object.getPrototypeOf(a), Uint8Array.prototype);
    assert.notDeepEqual(a, b);
    assert.equal(toHex(a), NIST[1][1]);
  });

  it('sha256d of the genesis header is the genesis block hash', () => {
    assert.equal(toHexReversed(impl.sha256d(genesisHeader())), GENESIS_HASH);
  });

  it('sha256dBatch over random multi-range items equals hashing each concatenation', () => {
    const data = randomBytes(20_000);
    for (let round = 0; round < 5; round++) {
      const { segs, counts, expected } = randomBatch(data, 1 + Math.floor(Math.random() * 300));
      const out = new Uint8Array(counts.length * 32);
      impl.sha256dBatch(data, segs, counts, out);
      for (let i = 0; i < counts.length; i++) {
        assert.deepEqual(out.subarray(32 * i, 32 * i + 32), expected[i], `round ${round} item ${i}`);
      }
    }
  });

  it('sha256dBatch works on a view that does not start at its buffer start', () => {
    const backing = randomBytes(1000);
    const view = backing.subarray(37, 937);
    const out = new Uint8Array(64);
    impl.sha256dBatch(view, new Uint32Array([0, 100, 800, 100, 5, 0]), new Uint32Array([1, 2]), out);
    assert.deepEqual(out.subarray(0, 32), opensslSha256d(view.subarray(0, 100)));
    assert.deepEqual(out.subarray(32), opensslSha256d(view.subarray(800, 900)));
  });

  it('sha256dBatch rejects ranges past the data, missing segments and a short out', () => {
    const data = new Uint8Array(100);
    const out = new Uint8Array(64);
    assert.throws(
      () => impl.sha256dBatch(data, new Uint32Array([90, 11]), new Uint32Array([1]), out),
      RangeError,
    );
    assert.throws(
      () => impl.sha256dBatch(data, new Uint32Array([0xffffffff, 2]), new Uint32Array([1]), out),
      RangeError,
    );
    assert.throws(
      () => impl.sha256dBatch(data, new Uint32Array([0, 1]), new Uint32Array([2]), out),
      RangeError,
    );
    assert.throws(
      () => impl.sha256dBatch(data, new Uint32Array([0, 1, 0, 1, 0, 1]), new Uint32Array([1, 1, 1]), out),
      RangeError,
    );
    impl.sha256dBatch(data, new Uint32Array(0), new Uint32Array(0), new Uint8Array(0));
  });

  it('block 840002: batched txids give the header merkle root, wtxids equal full-tx hashes', () => {
    const raw = modernBlock(840002);
    const { block, segs, counts } = blockSegments(raw);
    const n = block.txs.length;
    const out = new Uint8Array(counts.length * 32);
    impl.sha256dBatch(raw, segs, counts, out);
    assert.deepEqual(impl.merkleRoot(out, n), block.header.merkleRoot);
    for (const i of [0, 1, Math.floor(n / 2), n - 1]) {
      assert.deepEqual(out.subarray(32 * (n + i), 32 * (n + i) + 32), opensslSha256d(block.txs[i].raw));
    }
  });

  it('merkleRoot follows the duplicate-last rule for every count 1-33', () => {
    const leaves = Array.from({ length: 33 }, () => new Uint8Array(randomBytes(32)));
    for (let n = 1; n <= 33; n++) {
      const cat = new Uint8Array(Buffer.concat(leaves.slice(0, n)));
      assert.deepEqual(impl.merkleRoot(cat, n), referenceMerkle(leaves.slice(0, n)), `n ${n}`);
    }
  });

  it('merkleRoot of mainnet block 170 (two txs) is its header value', () => {
    // Block 170, the first with a non-coinbase tx: its txids and merkle root in display order.
    const coinbase = fromHex('b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082');
    const spend = fromHex('f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16');
    const root = fromHex('7dac2c5666815c17a3b36427de37bb9d2e2c5ccec3f8633eb91a4205cb4c10ff');
    const cat = new Uint8Array(64);
    cat.set(coinbase.reverse(), 0);
    cat.set(spend.reverse(), 32);
    assert.deepEqual(impl.merkleRoot(cat, 2), root.reverse());
  });

  it('merkleRoot rejects no hashes and a short buffer', () => {
    assert.throws(() => impl.merkleRoot(new Uint8Array(0), 0), RangeError);
    assert.throws(() => impl.merkleRoot(new Uint8Array(63), 2), RangeError);
    assert.throws(() => impl.merkleRoot(new Uint8Array(64), -1), RangeError);
  });
}

describe('hash: JS implementation (node:crypto + @noble/hashes)', () => implSuite(jsHash));

describe('hash: native addon, SHA-NI or best core', { skip: nativeImpl ? false : 'addon not built' }, () => {
  it('reports its core', () => assert.match(addon!.impl(), /^(sha-ni|portable)$/));
  implSuite(nativeImpl!);
});

describe('hash: native addon, portable C core', { skip: nativeImpl ? false : 'addon not built' }, () => {
  before(() => addon!.forcePortable(true));
  after(() => addon!.forcePortable(false));
  it('switched to the portable core', () => assert.equal(addon!.impl(), 'portable'));
  implSuite(nativeImpl!);
});

describe('hash: public API', () => {
  it('uses the native addon unless BP_NO_NATIVE=1', () => {
    if (process.env.BP_NO_NATIVE === '1') assert.equal(hash.nativeHash, false);
    // CI sets BP_REQUIRE_NATIVE=1 so a silently failed build cannot pass unnoticed.
    if (process.env.BP_REQUIRE_NATIVE === '1') assert.equal(hash.nativeHash, true);
    assert.equal(hash.hashImplName, hash.nativeHash ? 'native' : 'js');
  });

  it('hash160 of the secp256k1 generator (compressed) is the BIP-173 P2WPKH program', () => {
    const g = fromHex('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798');
    assert.equal(toHex(hash.hash160(g)), '751e76e8199196d454941c45d1b3a323f1433bd6');
  });

  const tap = JSON.parse(readFileSync(fixturePath('hash/bip341-tap-hashes.json'), 'utf8')) as {
    scriptTrees: {
      internalPubkey: string;
      scriptTree: unknown;
      leafHashes: string[];
      merkleRoot: string | null;
      tweak: string;
    }[];
    sigHashes: { sigMsg: string; sigHash: string }[];
  };

  it('taggedHash gives the BIP-341 TapLeaf hashes, TapBranch roots and TapTweak values', () => {
    type Leaf = { script: string; leafVersion: number };
    const leafHashes: string[] = [];
    const tree = (node: unknown): Uint8Array => {
      if (Array.isArray(node)) {
        const [a, b] = [tree(node[0]), tree(node[1])];
        return Buffer.compare(a, b) <= 0
          ? hash.taggedHash('TapBranch', a, b)
          : hash.taggedHash('TapBranch', b, a);
      }
      const leaf = node as Leaf;
      const script = fromHex(leaf.script);
      // Scripts here are < 253 bytes, so the compact size is one byte.
      const h = hash.taggedHash('TapLeaf', new Uint8Array([leaf.leafVersion, script.length]), script);
      leafHashes.push(toHex(h));
      return h;
    };
    for (const c of tap.scriptTrees) {
      leafHashes.length = 0;
      const root = c.scriptTree === null ? null : tree(c.scriptTree);
      assert.deepEqual(leafHashes, c.leafHashes);
      assert.equal(root === null ? null : toHex(root), c.merkleRoot);
      const tweak = hash.taggedHash('TapTweak', fromHex(c.internalPubkey), ...(root ? [root] : []));
      assert.equal(toHex(tweak), c.tweak);
    }
  });

  it('taggedHash gives the BIP-341 TapSighash values (messages of 94-175 bytes)', () => {
    for (const c of tap.sigHashes)
      assert.equal(toHex(hash.taggedHash('TapSighash', fromHex(c.sigMsg))), c.sigHash);
  });

  it('gives the same answers in a process with BP_NO_NATIVE=1', {
    skip: process.env.BP_NO_NATIVE === '1',
  }, () => {
    const indexUrl = new URL('../src/hash/index.ts', import.meta.url).href;
    const script = `
      const h = await import(${JSON.stringify(indexUrl)});
      const data = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 255);
      const out = new Uint8Array(64);
      h.sha256dBatch(data, new Uint32Array([0, 4, 10, 500, 996, 4, 0, 1000]), new Uint32Array([3, 1]), out);
      const hex = (b) => Buffer.from(b).toString('hex');
      console.log(JSON.stringify({
        native: h.nativeHash,
        sha256d: hex(h.sha256d(data)),
        batch: hex(out),
        merkle: hex(h.merkleRoot(data, 31)),
        tagged: hex(h.taggedHash('TapLeaf', data.subarray(0, 40))),
        hash160: hex(h.hash160(data)),
      }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, BP_NO_NATIVE: '1' },
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('.', import.meta.url)),
    });
    assert.equal(r.status, 0, r.stderr);
    const child = JSON.parse(r.stdout.trim());
    const data = new Uint8Array(1000).map((_, i) => (i * 7 + 3) & 255);
    const out = new Uint8Array(64);
    hash.sha256dBatch(data, new Uint32Array([0, 4, 10, 500, 996, 4, 0, 1000]), new Uint32Array([3, 1]), out);
    assert.equal(child.native, false);
    assert.equal(child.sha256d, toHex(hash.sha256d(data)));
    assert.equal(child.batch, toHex(out));
    assert.equal(
      child.batch.slice(0, 64),
      toHex(opensslSha256d(Buffer.concat([data.subarray(0, 4), data.subarray(10, 510), data.subarray(996)]))),
    );
    assert.equal(child.merkle, toHex(hash.merkleRoot(data, 31)));
    assert.equal(child.tagged, toHex(hash.taggedHash('TapLeaf', data.subarray(0, 40))));
    assert.equal(child.hash160, toHex(hash.hash160(data)));
    assert.ok(equalBytes(fromHex(child.sha256d), opensslSha256d(data)));
  });
});

describe('hash: sha256Into (no-allocation form used by the indexer)', () => {
  it('writes the same digest as OpenSSL at the offset, for short and long inputs and views', () => {
    const data = randomBytes(400);
    const out = new Uint8Array(32 * 3 + 5);
    for (const len of [0, 1, 22, 25, 34, 63, 64, 65, 200, 400]) {
      // A view into a larger buffer, as the scripts of a parsed block are.
      const m = new Uint8Array(data.buffer, data.byteOffset + 400 - len, len);
      out.fill(0xee);
      hash.sha256Into(m, out, 37);
      assert.deepEqual(out.subarray(37, 69), opensslSha256(m), `len ${len}`);
      assert.ok(out.subarray(0, 37).every((b) => b === 0xee) && out.subarray(69).every((b) => b === 0xee));
    }
  });
});
