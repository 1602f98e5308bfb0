import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import {
  type BpClient,
  BpdError,
  type DescriptorEvent,
  type DescriptorHistoryEntry,
  type HistoryEntry,
  type MatchEvent,
} from '@lnpbp/bp-client';
import { RpcError } from '@lnpbp/bus';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { HDKey } from '@scure/bip32';
import * as btc from '@scure/btc-signer';
import { type BpdProcess, bpdAtTip, bpdReady, removeDir, startBpd } from '../../bp-node/test/api-support.ts';
import { type BcoinNode, startBcoin } from '../../bp-node/test/harness/bcoin.ts';
import { PkOlder } from '../../bp-node/test/harness/pk-older.ts';
import { waitFor } from '../../bp-node/test/harness/wait.ts';
import { BCOIN_REGTEST, type BuiltTx, TestWallet } from '../../bp-node/test/harness/wallet.ts';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'bp-cli.mjs');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A long-running `bp-cli subscribe ...` whose stdout lines are collected. */
function cliStream(args: string[]) {
  const p = spawn(process.execPath, [BIN, ...args]);
  const s = { out: '', err: '', p };
  p.stdout.on('data', (d) => (s.out += d));
  p.stderr.on('data', (d) => (s.err += d));
  return s;
}

const TESTNET_VERSIONS = { private: 0x04358394, public: 0x043587cf };

/**
 * Issue 5 end to end: a real bcoin regtest node, the real bpd binary, the typed client over the
 * bus and the bp-cli binary. A P2WSH output locked by the miniscript and_v(v:pk(K),older(2)) is
 * funded and spent (tx version 2, input sequence 2, witness [sig, witnessScript], signed here with
 * @scure/btc-signer's BIP-143 preimage); the pattern subscription must see the spend from the
 * mempool and again at confirmation with bindings A = K and n = 2. A wpkh descriptor's derived
 * address receives funds; descriptor queries must report its derivation index.
 */
describe('pattern and descriptor queries and push: bpd over the bus and bp-cli', () => {
  let a: BcoinNode;
  let wallet: TestWallet;
  let bpd: BpdProcess;
  let c: BpClient;
  const json = async (...args: string[]) => {
    const r = await cli(['--datadir', bpd.datadir, ...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const mine = async (n = 1) => {
    const hashes = await wallet.mine(n);
    await bpdAtTip(c, hashes[hashes.length - 1]);
    return hashes;
  };
  const send = async (built: { hex: string; txid: string }) => {
    await a.rpc('sendrawtransaction', [built.hex]);
    await wallet.waitInMempool(built.txid);
  };

  // The timelocked script: <K> CHECKSIGVERIFY 2 CHECKSEQUENCEVERIFY (miniscript's compilation).
  const lock = new PkOlder(2);
  const { key: K, witnessScript } = lock;
  const PATTERN = 'and_v(v:pk(@A),older(@n))';

  // A ranged wpkh descriptor; index 3 of branch 0 gets paid.
  const root = HDKey.fromMasterSeed(sha256(Uint8Array.from([5, 5, 5])), TESTNET_VERSIONS);
  const account = root.derive("m/84'/1'/0'");
  const DESC = `wpkh(${account.publicExtendedKey}/0/*)`;
  const derived3 = account.derive('m/0/3').publicKey!;
  const derived3Script = Uint8Array.from([0x00, 0x14, ...ripemd160(sha256(derived3))]);
  const derived3Address = btc.Address(BCOIN_REGTEST).encode({
    type: 'wpkh',
    hash: ripemd160(sha256(derived3)),
  });

  const keyAt = (i: number) => account.derive(`m/0/${i}`);
  const addressAt = (i: number) =>
    btc.Address(BCOIN_REGTEST).encode({ type: 'wpkh', hash: ripemd160(sha256(keyAt(i).publicKey!)) });

  let funding: BuiltTx;
  let spend: { txid: string; hex: string };
  let spendHeight: number;
  let descFunding: BuiltTx;
  let descHeight: number;
  const matches: MatchEvent[] = [];
  const subs: { close(drop?: boolean): Promise<void> }[] = [];
  const activity: DescriptorEvent[] = [];

  before(async () => {
    a = await startBcoin();
    wallet = new TestWallet(a);
    await wallet.prepare();
    bpd = await startBpd(a.p2pUrl);
    await bpdReady(bpd);
    c = await bpd.client();
    await bpdAtTip(c, await a.bestHash());
  });

  after(async () => {
    for (const s of subs) await s.close();
    c?.close();
    await bpd?.stop();
    if (bpd) removeDir(bpd.datadir);
    await a?.stop();
  });

  test('pattern and descriptor subscriptions register (active before anything is sent)', async () => {
    const sub = await c.subscribeMatch(PATTERN, { subscription: 'older', onMatch: (e) => matches.push(e) });
    assert.equal(sub.id, 'older');
    const dsub = await c.subscribeDescriptor(DESC, {
      subscription: 'wallet',
      onActivity: (e) => activity.push(e),
    });
    assert.equal(dsub.id, 'wallet');
    subs.push(sub, dsub);
  });

  test('a P2WSH and_v(v:pk(K),older(2)) output funded, then spent: pushed from mempool and block with bindings', async () => {
    funding = await wallet.build(lock.address, 100_000n);
    await send(funding);
    wallet.markSent(funding);
    await mine(2); // older(2): the spend may enter the block after next
    spend = lock.spend(funding);
    await send(spend);

    const expect = { A: toHex(K), n: 2 };
    await waitFor('mempool match', () => matches.some((m) => m.txid === spend.txid && m.height === null));
    const m0 = matches.find((m) => m.txid === spend.txid)!;
    assert.deepEqual(
      { vin: m0.vin, context: m0.context, script: m0.script, bindings: m0.bindings, height: m0.height },
      { vin: 0, context: 'p2wsh', script: toHex(witnessScript), bindings: expect, height: null },
    );
    // The mempool view of the query sees it before confirmation.
    const mq = await c.match(PATTERN);
    assert.ok(mq.items.some((i) => i.txid === spend.txid && i.height === null));

    const [h] = await mine(1);
    spendHeight = await a.height();
    await waitFor('confirmed match', () => matches.some((m) => m.txid === spend.txid && m.height !== null));
    const m1 = matches.find((m) => m.txid === spend.txid && m.height !== null)!;
    assert.equal(m1.height, spendHeight);
    assert.equal(m1.blockHash, h);
    assert.deepEqual(m1.bindings, expect);
    assert.match(m1.shortId.toString(), /^\d+$/);
  });

  test('match query over the bus: the confirmed spend with bindings, constraints filter', async () => {
    const p = await c.match(PATTERN);
    const mine = p.items.filter((i) => i.txid === spend.txid);
    assert.equal(mine.length, 1);
    assert.deepEqual(
      {
        vin: mine[0].vin,
        height: mine[0].height,
        context: mine[0].context,
        script: mine[0].script,
        bindings: mine[0].bindings,
      },
      {
        vin: 0,
        height: spendHeight,
        context: 'p2wsh',
        script: toHex(witnessScript),
        bindings: { A: toHex(K), n: 2 },
      },
    );
    assert.equal(p.next, null);
    const none = await c.match('and_v(v:pk(@A),older(@n>=144))');
    assert.ok(!none.items.some((i) => i.txid === spend.txid));
    const keyed = await c.match(`and_v(v:pk(${toHex(K)}),older(*))`);
    assert.deepEqual(
      keyed.items.map((i) => i.txid),
      [spend.txid],
    );
  });

  test('bp-cli match --json: the issue-5 contract', async () => {
    const r = await json('match', PATTERN, '--limit', '10');
    assert.deepEqual(Object.keys(r).sort(), ['items', 'next']);
    const it = r.items.find((i: { txid: string }) => i.txid === spend.txid);
    assert.ok(it, JSON.stringify(r));
    for (const k of ['txid', 'vin', 'height', 'context', 'script', 'bindings']) assert.ok(k in it, k);
    assert.deepEqual(
      { vin: it.vin, height: it.height, context: it.context, script: it.script, bindings: it.bindings },
      {
        vin: 0,
        height: spendHeight,
        context: 'p2wsh',
        script: toHex(witnessScript),
        bindings: { A: toHex(K), n: 2 },
      },
    );
    assert.equal(r.next, null);
  });

  test('descriptor: a derived address gets paid; pushed, then history/utxos/balance carry derivationIndex', async () => {
    descFunding = await wallet.build(derived3Address, 55_000n);
    await send(descFunding);
    wallet.markSent(descFunding);
    await waitFor('descriptor push (mempool)', () =>
      activity.some((e) => e.txid === descFunding.txid && e.height === null),
    );
    await mine(1);
    descHeight = await a.height();
    await waitFor('descriptor push (block)', () =>
      activity.some((e) => e.txid === descFunding.txid && e.height === descHeight),
    );
    const ev = activity.find((e) => e.txid === descFunding.txid && e.height !== null)!;
    assert.deepEqual(
      {
        kind: ev.kind,
        value: ev.value,
        derivationIndex: ev.derivationIndex,
        branch: ev.branch,
        script: ev.script,
      },
      { kind: 'funding', value: 55_000n, derivationIndex: 3, branch: 0, script: toHex(derived3Script) },
    );

    const h = await c.descriptorHistory(DESC);
    assert.deepEqual(
      h.items.map((i) => [i.txid, i.kind, i.height, i.value, i.derivationIndex, i.branch]),
      [[descFunding.txid, 'funding', descHeight, 55_000n, 3, 0]],
    );
    const u = await c.descriptorUtxos(DESC, { gap: 5 });
    assert.deepEqual(
      u.items.map((x) => [x.txid, x.value, x.derivationIndex]),
      [[descFunding.txid, 55_000n, 3]],
    );
    const b = await c.descriptorBalance(DESC);
    assert.equal(b.confirmed, 55_000n);
    assert.equal(b.utxoCount, 1);
    assert.deepEqual(b.branches, [{ lastUsed: 3, nextIndex: 4 }]);
    // Gap 3: indexes 0..2 unused, so index 3 is never derived.
    assert.equal((await c.descriptorBalance(DESC, { gap: 3 })).confirmed, 0n);
  });

  test('bp-cli history/utxos/balance --descriptor --json', async () => {
    const h = await json('history', '--descriptor', DESC, '--gap', '20');
    assert.deepEqual(Object.keys(h).sort(), ['items', 'next']);
    assert.equal(h.items.length, 1);
    assert.deepEqual(
      { ...h.items[0], shortId: undefined },
      {
        txid: descFunding.txid,
        height: descHeight,
        kind: 'funding',
        vout: h.items[0].vout,
        value: 55_000,
        shortId: undefined,
        script: toHex(derived3Script),
        derivationIndex: 3,
        branch: 0,
      },
    );
    const u = await json('utxos', '--descriptor', DESC);
    assert.deepEqual(
      u.items.map((x: { txid: string; derivationIndex: number }) => [x.txid, x.derivationIndex]),
      [[descFunding.txid, 3]],
    );
    const b = await json('balance', '--descriptor', DESC);
    assert.equal(b.confirmed, 55_000);
    assert.equal(b.utxoCount, 1);
  });

  test('bp-cli subscribe match and subscribe descriptor stream matches', async () => {
    const sm = cliStream(['--datadir', bpd.datadir, 'subscribe', 'match', PATTERN, '--json']);
    const sd = cliStream(['--datadir', bpd.datadir, 'subscribe', 'descriptor', DESC, '--json']);
    try {
      await waitFor(
        'subscribed',
        () => /subscribed to match/.test(sm.err) && /subscribed to descriptor/.test(sd.err),
      );
      const lines = (s: { out: string }) =>
        s.out
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => JSON.parse(l));
      // Another timelocked output: fund it, then spend it after older(2) allows.
      const f = await wallet.build(lock.address, 80_000n);
      await send(f);
      wallet.markSent(f);
      // And a payment to the descriptor's next index (4): the window moved past 3.
      const next = account.derive('m/0/4').publicKey!;
      const pay = await wallet.build(
        btc.Address(BCOIN_REGTEST).encode({ type: 'wpkh', hash: ripemd160(sha256(next)) }),
        12_000n,
      );
      await send(pay);
      wallet.markSent(pay);
      // bcoin may mine a tx before relaying it: wait until bpd has it in its mempool.
      await waitFor('pay in the mempool', () => lines(sd).some((l) => l.txid === pay.txid));
      await waitFor('funding in the mempool', async () => (await c.mempoolList()).items.includes(f.txid));
      await mine(2);
      const tx = lock.spend(f);
      await send(tx);
      await waitFor('spend in the mempool', () => lines(sm).some((l) => l.txid === tx.txid));
      await mine(1);
      await waitFor('match lines', () => lines(sm).filter((l) => l.txid === tx.txid).length === 2).catch(
        (e) => {
          throw new Error(`${e.message}: spend ${tx.txid}; stdout ${sm.out}; stderr ${sm.err}`);
        },
      );
      const ml = lines(sm).filter((l) => l.txid === tx.txid);
      assert.deepEqual(
        ml.map((l) => [l.event, l.vin, l.context, l.height === null, l.bindings]),
        [
          ['match', 0, 'p2wsh', true, { A: toHex(K), n: 2 }],
          ['match', 0, 'p2wsh', false, { A: toHex(K), n: 2 }],
        ],
      );
      await waitFor(
        'descriptor lines',
        () => lines(sd).filter((l) => l.txid === pay.txid).length === 2,
      ).catch((e) => {
        throw new Error(`${e.message}: pay ${pay.txid}; stdout ${sd.out}; stderr ${sd.err}`);
      });
      const dl = lines(sd).filter((l) => l.txid === pay.txid);
      assert.deepEqual(
        dl.map((l) => [l.event, l.kind, l.derivationIndex, l.height === null]),
        [
          ['descriptor', 'funding', 4, true],
          ['descriptor', 'funding', 4, false],
        ],
      );
    } finally {
      sm.p.kill('SIGINT');
      sd.p.kill('SIGINT');
      await Promise.all(
        [sm, sd].map((s) => new Promise((r) => (s.p.exitCode !== null ? r(0) : s.p.on('exit', r)))),
      );
    }
  });

  test('descriptor queries include the mempool: a spend from index 3 with change to index 6, as the per-address queries see it', async () => {
    const before = await c.descriptorBalance(DESC);
    assert.deepEqual(before.branches, [{ lastUsed: 4, nextIndex: 5 }]);
    assert.equal(before.unconfirmedIn + before.unconfirmedOut, 0n);
    const coin = (await c.descriptorUtxos(DESC)).items.find((u) => u.derivationIndex === 3)!;
    assert.equal(coin.value, 55_000n);
    const tx = new btc.Transaction();
    tx.addInput({
      txid: coin.txid,
      index: coin.vout,
      witnessUtxo: { script: derived3Script, amount: 55_000n },
    });
    tx.addOutputAddress(addressAt(6), 30_000n, BCOIN_REGTEST);
    tx.addOutputAddress(TestWallet.randomAddress(), 24_000n, BCOIN_REGTEST);
    tx.sign(keyAt(3).privateKey!);
    tx.finalize();
    await send({ txid: tx.id, hex: tx.hex });
    await waitFor('the spend in bpd', async () => (await c.mempoolList()).items.includes(tx.id));

    // History: confirmed items in chain order, then the mempool tx (its spend, then its output).
    const h = await c.descriptorHistory(DESC);
    const row = (i: { txid: string; kind: string; index: number; value: bigint; height: number | null }) => [
      i.txid,
      i.kind,
      i.index,
      i.value,
      i.height,
    ];
    assert.deepEqual(
      h.items.filter((i) => i.height === null).map((i) => [...row(i), i.derivationIndex]),
      [
        [tx.id, 'spending', 0, 55_000n, null, 3],
        [tx.id, 'funding', 0, 30_000n, null, 6],
      ],
    );
    assert.deepEqual(
      h.items.slice(-2).map((i) => i.height),
      [null, null],
    );
    // Outside truth: the per-address history (IndexView) of each used index, merged.
    const perAddress: HistoryEntry[] = [];
    for (const i of [3, 4, 6]) perAddress.push(...(await c.history({ address: addressAt(i) })).items);
    const order = (x: { height: number | null; shortId: bigint }) =>
      [x.height ?? Infinity, x.shortId] as const;
    const confirmedFirst = (a: typeof perAddress) =>
      [...a.filter((x) => x.height !== null).sort((x, y) => (order(x)[1] < order(y)[1] ? -1 : 1))].map(row);
    assert.deepEqual(confirmedFirst(h.items.filter((i) => i.height !== null)), confirmedFirst(perAddress));
    assert.deepEqual(
      h.items
        .filter((i) => i.height === null)
        .map(row)
        .sort(),
      perAddress
        .filter((i) => i.height === null)
        .map(row)
        .sort(),
    );
    // Paged one item at a time (the mempool tx's two items straddle a page): the same list.
    const paged: DescriptorHistoryEntry[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 20; n++) {
      const p = await c.descriptorHistory(DESC, { limit: 1, cursor });
      paged.push(...p.items);
      if (p.next === null) break;
      cursor = p.next;
    }
    assert.deepEqual(paged.map(row), h.items.map(row));

    // UTXOs: the spent confirmed one is gone, the mempool change is there.
    const u = await c.descriptorUtxos(DESC);
    assert.ok(!u.items.some((x) => x.txid === coin.txid && x.vout === coin.vout));
    assert.deepEqual(
      u.items.filter((x) => x.height === null).map((x) => [x.txid, x.vout, x.value, x.derivationIndex]),
      [[tx.id, 0, 30_000n, 6]],
    );
    // Balance: as `balance` gives per address; mempool use moves the next index past 6.
    const b = await c.descriptorBalance(DESC);
    const a3 = await c.balance({ address: addressAt(3) });
    const a6 = await c.balance({ address: addressAt(6) });
    assert.deepEqual(
      [b.confirmed, b.unconfirmedIn, b.unconfirmedOut],
      [before.confirmed, a6.unconfirmedIn, a3.unconfirmedOut],
    );
    assert.deepEqual([a6.unconfirmedIn, a3.unconfirmedOut], [30_000n, 55_000n]);
    assert.deepEqual(b.branches, [{ lastUsed: 6, nextIndex: 7 }]);
    const j = await json('balance', '--descriptor', DESC);
    assert.deepEqual([j.unconfirmedIn, j.unconfirmedOut], [30_000, 55_000]);

    // Confirmed: no mempool part any more, the change is a confirmed UTXO.
    await mine(1);
    const height = await a.height();
    const h2 = await c.descriptorHistory(DESC);
    assert.deepEqual(h2.items.slice(-2).map(row), [
      [tx.id, 'spending', 0, 55_000n, height],
      [tx.id, 'funding', 0, 30_000n, height],
    ]);
    const b2 = await c.descriptorBalance(DESC);
    assert.deepEqual(
      [b2.confirmed, b2.unconfirmedIn, b2.unconfirmedOut],
      [before.confirmed - 55_000n + 30_000n, 0n, 0n],
    );
  });

  test('a large gap scan does not hold the server: requests sent after it are answered before it', async () => {
    // A fresh key: nothing of it is in bpd's derivation cache, so each index costs a derivation
    // (gap 4,000: seconds of work in one request).
    const big = HDKey.fromMasterSeed(randomBytes(32), TESTNET_VERSIONS).derive("m/84'/1'/0'");
    const BIG = `wpkh(${big.publicExtendedKey}/0/*)`;
    const done: string[] = [];
    const bigReply = c.descriptorBalance(BIG, { gap: 4_000 }, { timeoutMs: 300_000 }).then((b) => {
      done.push('big');
      return b;
    });
    await Promise.all([
      c.getinfo().then(() => done.push('getinfo')),
      c.descriptorHistory(DESC).then(() => done.push('descriptorHistory')),
      c.match(PATTERN).then(() => done.push('match')),
    ]);
    const b = await bigReply;
    assert.equal(done[done.length - 1], 'big', done.join(' '));
    assert.deepEqual([b.derivedScripts, b.usedScripts, b.confirmed], [4_000, 0, 0n]);
  });

  const BAD: [string, string, keyof typeof BpdError, RegExp][] = [
    ['malformed descriptor', 'wpkh(02aa)', 'badDescriptor', /position 5/],
    [
      'bad checksum',
      'wpkh(0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798)#aaaaaaaa',
      'badDescriptor',
      /checksum.*position 73/,
    ],
    [
      'private key',
      'wpkh(cVt4o7BGAig1UXywgGSmARhxMdzP5qvQsxKkSsc1XEkw3tDTQFpy)',
      'privateKey',
      /private key.*position 5/,
    ],
    ['unbalanced', 'wsh(and_v(v:pk(02', 'badDescriptor', /position \d+/],
  ];

  test('bad input over the bus: typed error replies with the position; the server keeps answering', async () => {
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        assert.ok(e instanceof RpcError, String(e));
        return e;
      }
      assert.fail('expected an error reply');
    };
    for (const [what, text, code, re] of BAD) {
      for (const call of [
        () => c.descriptorHistory(text),
        () => c.descriptorUtxos(text),
        () => c.descriptorBalance(text),
        () => c.watchDescriptor(text),
      ]) {
        const e = await err(call());
        assert.equal(e.code, BpdError[code], `${what}: ${e.message}`);
        assert.match(e.message, re, what);
      }
    }
    for (const pattern of ['and_v(pk(@A),older(@n))', 'foo(', 'and_v(v:pk(@A),older(@n)', '']) {
      for (const call of [() => c.match(pattern), () => c.watchPattern(pattern)]) {
        const e = await err(call());
        assert.equal(e.code, BpdError.badPattern, `${pattern}: ${e.message}`);
        assert.match(e.message, /position \d+/, pattern);
      }
    }
    const g = await err(c.descriptorHistory(DESC, { gap: 1_000_000 }));
    assert.equal(g.code, BpdError.badGap);
    assert.match(g.message, /gap limit must be an integer 1\.\.10000, got 1000000/);
    assert.equal((await err(c.match(PATTERN, { cursor: 'ff' }))).code, BpdError.badCursor);
    assert.equal((await err(c.descriptorHistory(DESC, { cursor: 'ff' }))).code, BpdError.badCursor);
    assert.equal((await c.getinfo()).network, 'regtest');
  });

  test('bad input on the CLI: one line naming the error and the position, exit 1', async () => {
    const cases: [string[], RegExp][] = [
      ...BAD.map(([, text, code, re]): [string[], RegExp] => [
        ['history', '--descriptor', text],
        new RegExp(`^error: ${code}: .*${re.source}`),
      ]),
      [['utxos', '--descriptor', BAD[1][1]], /^error: badDescriptor: .*position 73/],
      [['balance', '--descriptor', BAD[2][1]], /^error: privateKey: .*position 5/],
      [['match', 'and_v(pk(@A),older(@n))'], /^error: badPattern: .*position 0/],
      [['subscribe', 'match', 'foo('], /^error: badPattern: .*position \d+/],
      [['subscribe', 'descriptor', BAD[0][1]], /^error: badDescriptor: .*position 5/],
      [['history', '--descriptor', DESC, '--gap', '1000000'], /^error: badGap: .*1000000/],
      [['match'], /^error: usage: bp-cli match/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['--datadir', bpd.datadir, ...args, '--json']);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, /^error: [^\n]+\n$/, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
  });
});
