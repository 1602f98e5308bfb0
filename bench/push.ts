/**
 * bpd push benchmark: 10,000 watch sets, then a real mainnet block (840007) is indexed; the time
 * from the block being indexed to the last matching notification delivered to subscriber
 * processes (each subscribed to the topics of its share of the sets).
 * Each set watches 10 outpoints, one of them spent in 840007 (so 10,000 matches out of 100,000
 * watched outpoints); with `scripts`, every tenth set also watches an output script of 840007.
 * Run: node --import tsx bench/push.ts [sets=10000] [subscriberProcs=4] [scripts]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { Publisher, Subscriber } from '@lnpbp/bus';
import { bpdMessages } from '../packages/bp-node/src/api/messages.ts';
import { Pusher } from '../packages/bp-node/src/api/push.ts';
import { WatchTable } from '../packages/bp-node/src/api/watch.ts';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { Mempool } from '../packages/bp-node/src/index/mempool.ts';
import { modernBlock } from '../test/support/fixtures.ts';

const now = () => performance.timeOrigin + performance.now();

if (process.argv[2] === 'sub') {
  // sub <endpoint> <process number> <ping topic>
  const [endpoint, k, ping] = process.argv.slice(3);
  // One prefix per process for its sets ("spend/p<k>."): a SUB socket drops subscriptions
  // beyond its send high-water mark (1,000) when they are made before the connection is up.
  const sub = new Subscriber({ schema: bpdMessages, endpoint, topics: [`spend/p${k}.`, ping] });
  let got = 0;
  let last = 0;
  const scripts = 0;
  let ready = false;
  process.stdin.on('data', () => {
    process.stdout.write(`${JSON.stringify({ got, last, scripts, gaps: sub.stats.gaps })}\n`);
    process.exit(0);
  });
  for await (const n of sub) {
    if (n.name === 'pong') {
      if (!ready) process.stdout.write('READY\n');
      ready = true;
      continue;
    }
    if (n.name === 'spend') got++;
    last = now();
  }
} else {
  const sets = Number(process.argv[2] ?? 10_000);
  const procs = Number(process.argv[3] ?? 4);
  const withScripts = process.argv[4] === 'scripts';
  const tmp = mkdtempSync(join(tmpdir(), 'bpp-'));
  const kids: ChildProcess[] = [];
  try {
    const ix = openIndex(tmp, 'mainnet', { durability: 'os' });
    for (let h = 840002; h <= 840006; h++) ix.connectBlock(modernBlock(h), h);
    const raw = modernBlock(840007);
    const block = parseBlock(raw);
    const spent = block.txs
      .slice(1)
      .flatMap((tx) => tx.inputs.map((i) => ({ txid: i.prevTxid, vout: i.vout })));
    const outScripts = block.txs.flatMap((tx) => tx.outputs.map((o) => o.scriptPubKey));
    const watches = new WatchTable(null);
    for (let s = 0; s < sets; s++) {
      const ops = [spent[s % spent.length]];
      for (let j = 0; j < 9; j++) ops.push({ txid: randomBytes(32), vout: j });
      watches.add(
        `p${s % procs}.${s}`,
        ops,
        withScripts && s % 10 === 0 ? [outScripts[s % outScripts.length]] : [],
        false,
      );
    }
    // Distinct outpoints spent in the block that some set watches: each of those sets gets one spend.
    const expected = sets;
    const endpoint = `ipc://${join(tmp, 'p.sock')}`;
    const pub = await Publisher.start({ schema: bpdMessages, endpoints: [endpoint] });
    const pusher = new Pusher(ix, new Mempool(ix), watches, pub);
    for (let k = 0; k < procs; k++) {
      kids.push(
        spawn(
          process.execPath,
          ['--import', 'tsx', import.meta.filename, 'sub', endpoint, String(k), `ping/${k}`],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        ),
      );
    }
    // Wait until every subscriber's topics are active (a pong through its last subscription).
    const readies = kids.map(
      (p) =>
        new Promise<void>((r) => {
          p.stdout!.once('data', () => r());
        }),
    );
    let allReady = false;
    void Promise.all(readies).then(() => (allReady = true));
    while (!allReady) {
      for (let k = 0; k < procs; k++) pub.publish(`ping/${k}`, 'pong', { token: 0n });
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200));

    const t0 = now();
    const r = ix.connectBlock(raw, 840007);
    const tIndexed = now();
    pusher.blockConnected(r);
    const tPublished = now();
    await pub.flush();
    const tFlushed = now();
    // Give delivery time, then collect.
    await new Promise((res) => setTimeout(res, 3000));
    const results = await Promise.all(
      kids.map(
        (p) =>
          new Promise<{ got: number; last: number; gaps: number }>((res) => {
            let buf = '';
            p.stdout!.on('data', (d: Buffer) => {
              buf += d.toString();
              const line = buf.split('\n').find((l) => l.startsWith('{'));
              if (line) res(JSON.parse(line));
            });
            p.stdin!.write('x\n');
          }),
      ),
    );
    const got = results.reduce((a, x) => a + x.got, 0);
    const last = Math.max(...results.map((x) => x.last));
    console.log(
      `${sets} watch sets (${watches.itemCount} items${withScripts ? `, ${Math.ceil(sets / 10)} with a script` : ''}), ${procs} subscriber processes; block 840007: ${block.txs.length} txs, ${spent.length} inputs`,
    );
    console.log(`connectBlock: ${(tIndexed - t0).toFixed(1)} ms`);
    console.log(
      `matching + publishing ${pusher.counts.spend} spend${withScripts ? ` + ${pusher.counts.script} script` : ''} notifications: ${(tPublished - tIndexed).toFixed(1)} ms (sent to sockets by ${(tFlushed - tIndexed).toFixed(1)} ms)`,
    );
    console.log(
      `indexed -> last matching notification delivered: ${(last - tIndexed).toFixed(1)} ms; delivered ${got}/${expected} spends, gaps ${results.reduce((a, x) => a + x.gaps, 0)}`,
    );
    pub.close();
    await ix.close();
  } finally {
    for (const k of kids) if (k.exitCode === null) k.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}
