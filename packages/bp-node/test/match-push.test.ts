import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { merkleRoot } from '@lnpbp/bitcoin/hash/index';
import { BOLT3_TEMPLATES } from '@lnpbp/bitcoin/pattern/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import { serializeTx } from '@lnpbp/bitcoin/tx/serialize';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { type Index, openIndex } from '../src/index/index.ts';
import { Mempool } from '../src/index/mempool.ts';
import { matchConfirmed } from '../src/match/pattern.ts';
import { PatternWatches } from '../src/match/push.ts';
import { matchView } from '../src/match/view.ts';
import { ChainBuilder, type Coin, mineBlock, tempDir, txidOf } from './index-support.ts';
import { bruteReveals, offeredHtlc } from './match-support.ts';

const key = (b: number) => Uint8Array.from([0x02, ...new Uint8Array(32).fill(b)]);
const push = (d: Uint8Array) => [d.length, ...d];

/** BOLT-3 offered HTLC witnessScript (no anchors), assembled byte by byte from the BOLT's text. */
function offered(
  revocation: Uint8Array,
  remote: Uint8Array,
  local: Uint8Array,
  paymentHash: Uint8Array,
): Uint8Array {
  const h160 = (x: Uint8Array) => ripemd160(sha256(x));
  return Uint8Array.from([
    0x76,
    0xa9,
    ...push(h160(revocation)),
    0x87,
    0x63,
    0xac,
    0x67,
    ...push(remote),
    0x7c,
    0x82,
    0x01,
    0x20,
    0x87,
    0x64,
    0x75,
    0x52,
    0x7c,
    ...push(local),
    0x52,
    0xae,
    0x67,
    0xa9,
    ...push(ripemd160(paymentHash)),
    0x88,
    0xac,
    0x68,
    0x68,
  ]);
}

/** and_v(v:pk(A),older(n)) in P2WSH: <A> CHECKSIGVERIFY <n> CHECKSEQUENCEVERIFY. */
function pkOlder(a: Uint8Array, n: number): Uint8Array {
  return Uint8Array.from([...push(a), 0xad, 0x02, n & 0xff, n >> 8, 0xb2]);
}

const p2wsh = (ws: Uint8Array) => Uint8Array.from([0x00, 0x20, ...sha256(ws)]);

function spendP2wsh(coin: Coin, ws: Uint8Array, sequence = 0xffffffff): Uint8Array {
  return serializeTx({
    version: 2,
    inputs: [
      {
        prevTxid: coin.txid,
        vout: coin.vout,
        scriptSig: new Uint8Array(0),
        sequence,
        witness: [Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x01]), ws],
      },
    ],
    outputs: [{ value: coin.value - 1000n, scriptPubKey: Uint8Array.from([0x51]) }],
    locktime: 0,
  });
}

/** Appends a block with a BIP-141 witness commitment (ChainBuilder's blocks carry none). */
function addSegwitBlock(c: ChainBuilder, txs: Uint8Array[]): void {
  const height = c.height + 1;
  const wtxids = new Uint8Array(32 * (txs.length + 1));
  txs.forEach((t, i) => {
    wtxids.set(sha256(sha256(t)), 32 * (i + 1));
  });
  const commitment = sha256(
    sha256(Uint8Array.from([...merkleRoot(wtxids, txs.length + 1), ...new Uint8Array(32)])),
  );
  const cb = serializeTx({
    version: 1,
    inputs: [
      {
        prevTxid: new Uint8Array(32),
        vout: 0xffffffff,
        scriptSig: Uint8Array.from([4, height & 0xff, height >> 8, 0, 0, 1, 9]),
        sequence: 0xffffffff,
        witness: [new Uint8Array(32)],
      },
    ],
    outputs: [
      { value: 50n * 100_000_000n, scriptPubKey: Uint8Array.from([0x51]) },
      { value: 0n, scriptPubKey: Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed, ...commitment]) },
    ],
    locktime: 0,
  });
  const raw = mineBlock(c.tipHash, [cb, ...txs], 1_800_000_000 + height);
  c.blocks.push(raw);
  c.hashes.push(parseBlock(raw).header.hash());
}

describe('match: synthetic regtest HTLC and timelock spends, query and push', () => {
  const tmp = tempDir('mpush');
  let ix: Index;
  const c = new ChainBuilder(9);
  const payHash = sha256(Uint8Array.from([1, 2, 3]));
  const htlc = offered(key(1), key(2), key(3), payHash);
  const older = pkOlder(key(4), 144);
  let htlcSpend: Uint8Array;
  let olderSpend: Uint8Array;
  before(() => {
    ix = openIndex(tmp.dir, 'regtest');
    const a = c.add([], p2wsh(htlc));
    const b = c.add([], p2wsh(older));
    for (let h = 0; h <= c.height; h++) ix.connectBlock(c.blocks[h], h);
    htlcSpend = spendP2wsh(a, htlc);
    olderSpend = spendP2wsh(b, older, 144);
  });
  after(async () => {
    await ix.close();
    tmp.cleanup();
  });

  it('push: mempool then confirmation, with bindings; queries agree with the brute-force scan', () => {
    const w = new PatternWatches();
    w.add('htlc', BOLT3_TEMPLATES.offered_htlc);
    w.add('older', 'and_v(v:pk(@A),older(@n>=100))');
    w.add('older-strict', 'and_v(v:pk(@A),older(@n>144))');
    const mp = new Mempool(ix);
    for (const raw of [htlcSpend, olderSpend]) assert.equal(mp.add(raw), 'added');
    const mhits = [htlcSpend, olderSpend].flatMap((raw) => w.matchMempoolTx(ix, mp, parseTx(raw)));
    assert.deepEqual(
      mhits.map((h) => [h.subscription, h.vin, h.height, h.context, h.bindings]),
      [
        [
          'htlc',
          0,
          null,
          'p2wsh',
          {
            revocation_hash: toHex(ripemd160(sha256(key(1)))),
            remote_htlcpubkey: toHex(key(2)),
            local_htlcpubkey: toHex(key(3)),
            payment_hash160: toHex(ripemd160(payHash)),
          },
        ],
        ['older', 0, null, 'p2wsh', { A: toHex(key(4)), n: 144 }],
      ],
    );
    // The mempool view of the query sees them before confirmation.
    const mv = matchView(ix, mp, 'and_v(v:pk(*),older(*))', { limit: 10 });
    assert.deepEqual(
      mv.items.map((i) => [toHex(i.txid), i.height]),
      [[toHex(txidOf(olderSpend)), null]],
    );

    addSegwitBlock(c, [htlcSpend, olderSpend]);
    const r = ix.connectBlock(c.blocks[c.height], c.height);
    mp.blockConnected(r.block);
    const bhits = w.matchBlock(ix, r.block, r.height);
    assert.deepEqual(
      bhits.map((h) => [h.subscription, toHex(h.txid), h.height]),
      [
        ['htlc', toHex(txidOf(htlcSpend)), c.height],
        ['older', toHex(txidOf(olderSpend)), c.height],
      ],
    );
    assert.deepEqual(bhits[1].bindings, { A: toHex(key(4)), n: 144 });

    // Confirmed query = brute force over the same blocks.
    const { reveals } = bruteReveals(c.blocks, 0);
    const brute = reveals.filter((x) => offeredHtlc(x.script)).map((x) => `${x.txid}:${x.vin}`);
    assert.equal(brute.length, 1);
    const got = matchConfirmed(ix.store, BOLT3_TEMPLATES.offered_htlc, { limit: 10, funding: true });
    assert.deepEqual(
      got.items.map((i) => `${toHex(Uint8Array.from(i.txid).reverse())}:${i.vin}`),
      brute,
    );
    // The funding output found through the script hash: the coinbase of block 0.
    assert.deepEqual(
      got.items[0].funding!.map((f) => [f.height, f.vout]),
      [[0, 0]],
    );
    assert.equal(matchView(ix, mp, 'and_v(v:pk(*),older(*))', { limit: 10 }).items[0].height, c.height);
    w.remove('older');
    assert.equal(w.matchBlock(ix, r.block, r.height).length, 1);
  });
});
