import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BpdChild, dumpHash, runBpd, spawnBpd } from './bpd-harness.ts';
import { type BcoinNode, startBcoin } from './harness/bcoin.ts';
import { type BuiltTx, TestWallet, type Utxo } from './harness/wallet.ts';
import { tempDir } from './index-support.ts';

/**
 * The bpd binary following a real bcoin node (A) through reorgs of 1, 6 and 100 blocks: A mines a
 * branch with real transactions, bpd indexes it, a second node (B) mines a longer branch with
 * other transactions (some spending the same outputs: double spends across the branches), A
 * connects to B and reorgs. After each, `bpd dump --hash` of the running bpd equals that of a
 * fresh bpd run (--exit-at-tip) on A's new best chain: headers, txids, outspends, histories,
 * UTXOs and undo records all agree. The fresh index is built over P2P once and over bcoin's
 * Core-style RPC twice, and a second bpd follows A over RPC through the same reorgs: both
 * sources must give the same index.
 */
describe('bpd follows reorgs on real bcoin nodes', () => {
  let a: BcoinNode;
  let b: BcoinNode;
  let w: TestWallet;
  let bpd: BpdChild;
  /** A second bpd following A over its Core-style RPC (polling; bcoin has no ZMQ). */
  let bpdRpc: BpdChild;
  let coins: Utxo[] = [];
  const t = tempDir('bpdreorg');
  const dir = `${t.dir}/follow`;
  const dirRpc = `${t.dir}/follow-rpc`;
  let freshRuns = 0;

  before(async () => {
    [a, b] = await Promise.all([startBcoin(), startBcoin()]);
    w = new TestWallet(a);
    await w.prepare(); // 432 blocks: segwit active, ~330 mature coinbases
    // Shared history with payments in it.
    for (let i = 0; i < 4; i++) {
      await w.send(TestWallet.randomAddress(), 1_000_000n * BigInt(i + 1));
      await w.send(TestWallet.randomAddress(), 2_500_000n);
      await w.mine(1);
    }
    coins = w.spendable(await a.height()).filter((u) => u.coinbase);
    bpd = spawnBpd(['--datadir', dir, '--network', 'regtest', '--source', a.p2pUrl, '--log-level', 'debug']);
    bpdRpc = spawnBpd([
      '--datadir',
      dirRpc,
      '--network',
      'regtest',
      '--source',
      a.rpcUrl,
      '--log-level',
      'debug',
    ]);
    await bpd.waitLine('at tip', (l) => l.msg === 'at tip' && l.height === 436, 60_000);
    await bpdRpc.waitLine('at tip (rpc)', (l) => l.msg === 'at tip' && l.height === 436, 60_000);
  });

  after(async () => {
    bpd?.kill('SIGKILL');
    bpdRpc?.kill('SIGKILL');
    await Promise.all([a?.stop(), b?.stop()]);
    t.cleanup();
  });

  /** Sends `tx` to `node`'s mempool and waits until it is there. */
  async function submit(node: BcoinNode, tx: BuiltTx): Promise<void> {
    await node.rpc('sendrawtransaction', [tx.hex]);
    const deadline = Date.now() + 10_000;
    while (!(await node.mempool()).includes(tx.txid)) {
      if (Date.now() > deadline) throw new Error(`${tx.txid} not accepted by the node`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Mines `n` blocks on `node`; blocks listed in `withTxs` carry a payment from `spend` (or a
   * fresh coin) and a child spending its change in the next such block (chains of spends).
   */
  async function mineBranch(
    node: BcoinNode,
    n: number,
    txBlocks: number[],
    spend: Utxo[] = [],
  ): Promise<BuiltTx[]> {
    const sent: BuiltTx[] = [];
    let change: Utxo | null = null;
    for (let i = 0; i < n; i++) {
      if (txBlocks.includes(i)) {
        const coin = spend.shift() ?? coins.shift()!;
        const pay = await w.build(TestWallet.randomAddress(), 300_000n + BigInt(i), { utxo: coin });
        await submit(node, pay);
        sent.push(pay);
        if (change) {
          const child = await w.build(TestWallet.randomAddress(), 100_000n, { utxo: change });
          await submit(node, child);
          sent.push(child);
        }
        change = {
          txid: pay.txid,
          vout: 1,
          value: coin.value - 300_000n - BigInt(i) - 2_000n,
          height: -1,
          coinbase: false,
        };
      }
      await node.mine(1, TestWallet.randomAddress());
    }
    return sent;
  }

  const connectedAt = (h: number) => (l: { msg: string; height?: unknown }) =>
    l.msg === 'block connected' && l.height === h;

  async function reorg(depth: number, txBlocks: number[], doubleSpends: number, freshVia: 'p2p' | 'rpc') {
    await b.connectTo(a); // B catches up with A's chain
    await b.disconnectFrom(a);
    const base = await a.height();
    // Outputs both branches spend, each to another address: double spends across the branches.
    const contested = coins.splice(0, doubleSpends);
    const lost = await mineBranch(a, depth, txBlocks, [...contested]);
    await bpd.waitLine(
      `block ${base + depth} of the branch to be replaced`,
      connectedAt(base + depth),
      60_000,
    );
    const won = await mineBranch(
      b,
      depth + 1,
      txBlocks.map((i) => i + 1),
      [...contested],
    );
    await a.connectTo(b, 60_000); // A sees B's heavier branch and reorgs onto it
    await a.disconnectFrom(b);
    assert.equal(await a.height(), base + depth + 1);
    await bpd.waitLine(`block ${base + depth + 1} of the new branch`, connectedAt(base + depth + 1), 60_000);
    await bpdRpc.waitLine(`block ${base + depth + 1} over RPC`, connectedAt(base + depth + 1), 60_000);
    const r = bpd.lines.filter((l) => l.msg === 'reorg' && l.component === 'bpd.sync').pop();
    assert.ok(r, 'bpd logged the reorg');
    assert.equal(r.fromHeight, base + 1);
    assert.equal(r.toHeight, base + depth);
    assert.ok(lost.length > 0 && won.length > 0);

    const fresh = `${t.dir}/fresh${freshRuns++}`;
    const run = await runBpd([
      '--datadir',
      fresh,
      '--network',
      'regtest',
      '--source',
      freshVia === 'p2p' ? a.p2pUrl : a.rpcUrl,
      '--exit-at-tip',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.lines.some((l) => l.msg === 'at tip' && l.height === base + depth + 1));
    const want = await dumpHash(fresh);
    assert.equal(await dumpHash(dir), want, `index after a ${depth}-block reorg`);
    assert.equal(await dumpHash(dirRpc), want, `index following over RPC after a ${depth}-block reorg`);
    // The replaced branch's txs left the index, the new branch's are in it.
    const dump = (await runBpd(['dump', '--datadir', dir])).stdout;
    const row = (tx: BuiltTx) =>
      `txid ${Buffer.from(tx.txid, 'hex').reverse().subarray(0, 6).toString('hex')} `;
    for (const tx of won) assert.ok(dump.includes(row(tx)), `new-branch tx ${tx.txid} indexed`);
    for (const tx of lost) assert.ok(!dump.includes(row(tx)), `replaced tx ${tx.txid} gone`);
  }

  test('a 1-block reorg', async () => {
    await reorg(1, [0], 1, 'p2p');
  });

  test('a 6-block reorg (fresh index over RPC)', async () => {
    await reorg(6, [0, 2, 3, 5], 2, 'rpc');
  });

  test('a 100-block reorg (fresh index over RPC)', async () => {
    await reorg(100, [0, 1, 10, 40, 41, 77, 98, 99], 3, 'rpc');
  });

  test('bpd logged no sync failures', () => {
    const bad = [...bpd.lines, ...bpdRpc.lines].filter((l) => l.level === 'error');
    assert.deepEqual(bad, []);
  });
});
