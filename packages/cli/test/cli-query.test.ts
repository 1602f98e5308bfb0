import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BpClient } from '@lnpbp/bp-client';
import { type BpdProcess, bpdAtTip, bpdReady, removeDir, startBpd } from '../../bp-node/test/api-support.ts';
import { type BcoinNode, startBcoin } from '../../bp-node/test/harness/bcoin.ts';
import { waitFor } from '../../bp-node/test/harness/wait.ts';
import { type BuiltTx, TestWallet } from '../../bp-node/test/harness/wallet.ts';

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

/** The bp-cli contract of issue 4, against the real bpd following bcoin regtest. */
describe('bp-cli queries against bpd', () => {
  let a: BcoinNode;
  let wallet: TestWallet;
  let bpd: BpdProcess;
  let c: BpClient;
  let paid: BuiltTx;
  const payee = TestWallet.randomAddress();
  const json = async (...args: string[]) => {
    const r = await cli(['--datadir', bpd.datadir, ...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };

  before(async () => {
    a = await startBcoin();
    wallet = new TestWallet(a);
    await wallet.prepare();
    bpd = await startBpd(a.p2pUrl);
    await bpdReady(bpd);
    c = await bpd.client();
    paid = await wallet.build(payee, 42_000n);
    await a.rpc('sendrawtransaction', [paid.hex]);
    await wallet.waitInMempool(paid.txid);
    wallet.markSent(paid);
    const [h] = await wallet.mine(1);
    await bpdAtTip(c, h);
  });

  after(async () => {
    c?.close();
    await bpd?.stop();
    if (bpd) removeDir(bpd.datadir);
    await a?.stop();
  });

  test('status --json has the tip', async () => {
    const s = await json('status');
    assert.deepEqual(s.tip, { height: await a.height(), hash: await a.bestHash() });
    assert.equal(s.network, 'regtest');
  });

  test('outspend --json: spent (with height and short id) and unspent', async () => {
    const height = await a.height();
    const s = await json('outspend', `${paid.spent.txid}:${paid.spent.vout}`);
    assert.deepEqual(Object.keys(s).sort(), ['height', 'shortId', 'spent', 'txid', 'vin']);
    assert.deepEqual(
      { ...s, shortId: undefined },
      { spent: true, txid: paid.txid, vin: 0, height, shortId: undefined },
    );
    assert.match(s.shortId, new RegExp(`^${height}:[0-9a-f]{2}:\\d+:i0$`));
    assert.deepEqual(await json('outspend', `${paid.txid}:0`), { spent: false });
    // The same through an explicit --connect.
    const r = await cli([
      '--connect',
      `ipc://${join(bpd.datadir, 'bpd.rpc.sock')}`,
      'outspend',
      `${paid.txid}:0`,
      '--json',
    ]);
    assert.deepEqual(JSON.parse(r.stdout), { spent: false });
  });

  test('history --json, by address, with --limit and --cursor; utxos; tx', async () => {
    const height = await a.height();
    const h = await json('history', payee);
    assert.deepEqual(h, {
      items: [
        { txid: paid.txid, height, kind: 'funding', vout: 0, value: 42_000, shortId: h.items[0].shortId },
      ],
      next: null,
    });
    // The wallet's own script has many entries: page through them.
    const script = Buffer.from(wallet.script).toString('hex');
    const p1 = await json('history', script, '--limit', '3');
    assert.equal(p1.items.length, 3);
    assert.equal(typeof p1.next, 'string');
    const p2 = await json('history', script, '--limit', '3', '--cursor', p1.next);
    assert.ok(p2.items[0].height >= p1.items[2].height);
    assert.notDeepEqual(p2.items[0], p1.items[2]);
    for (const i of [...p1.items, ...p2.items]) {
      assert.ok(i.kind === 'funding' ? 'vout' in i : 'vin' in i);
      assert.equal(typeof i.value, 'number');
    }
    const u = await json('utxos', payee);
    assert.deepEqual(
      u.items.map((x: { txid: string; vout: number; value: number }) => [x.txid, x.vout, x.value]),
      [[paid.txid, 0, 42_000]],
    );
    const t = await json('tx', paid.txid);
    assert.equal(t.txid, paid.txid);
    assert.equal(t.height, height);
    assert.equal(t.hex, paid.hex);
    assert.equal(t.decoded.outputs[0].value, 42_000);
    assert.equal((await json('tx', t.shortId)).txid, paid.txid);
  });

  test('errors: one line on stderr, exit code 1', async () => {
    for (const args of [
      ['tx', '00'.repeat(32)],
      ['history', 'notanaddress'],
      ['outspend', 'nonsense'],
      ['--connect', 'ipc:///nonexistent/bpd.rpc.sock', '--timeout', '500', 'status'],
      ['frobnicate'],
    ]) {
      const r = await cli(['--datadir', bpd.datadir, ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^error: .+\n$/);
    }
  });

  test('subscribe watch streams a spend of a watched outpoint', async () => {
    const next = await wallet.build(TestWallet.randomAddress(), 10_000n);
    const p = spawn(process.execPath, [
      BIN,
      '--datadir',
      bpd.datadir,
      'subscribe',
      'watch',
      `${next.spent.txid}:${next.spent.vout}`,
      '--json',
    ]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    await waitFor('watching', () => /watching as subscription/.test(err));
    await a.rpc('sendrawtransaction', [next.hex]);
    wallet.markSent(next);
    await waitFor('spend line', () => out.includes('\n'));
    const line = JSON.parse(out.split('\n')[0]);
    assert.equal(line.event, 'spend');
    assert.equal(line.spendingTxid, next.txid);
    assert.equal(line.height, null);
    const exited = new Promise((r) => p.on('exit', r));
    p.kill('SIGINT');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
});
