/**
 * bpd push benchmark: 10,000 watch sets, then real mainnet blocks are indexed; the time from a
 * block being indexed to the last matching notification delivered to subscriber processes.
 * Each subscriber process is one client with one channel ("watch/p<k>") holding its share of the
 * sets, so it gets one `watchMatches` per block carrying all its sets' matches, read as bp-client's
 * WatchChannel reads it (the bus Subscriber with watch-read's `watchMatches` reader).
 * Each set watches 10 outpoints: one spent in 840006, one in 840007, 8 others (so 10,000 matches
 * per block out of 100,000 watched outpoints); with `scripts`, every tenth set also watches an
 * output script of each block. 840006 is pushed `warmups` times first (the first pushes in a
 * fresh process run unoptimized code on both ends; a running bpd and its clients are warm), then
 * 840007 is the measured round. All rounds are printed.
 * Run: node --import tsx bench/push.ts [sets=10000] [subscriberProcs=4] [scripts|-] [warmups=3]
 *
 * `cpu [reps=30] [sets=10000] [channels=4]`: CPU time only, in one process (no waiting for a core
 * to be free): per push of 840006/840007 (matching, writing the bodies, handing them to a real
 * PUB socket), and per `Subscriber.accept` (a client's receive path: sequence check + the
 * watch-read reader bp-client uses, and the generic schema decoder for comparison) of each
 * channel's message; min and median over the rounds after the first 3.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { Publisher, Subscriber } from '@lnpbp/bus';
import { bpdDecoders } from '../packages/bp-client/src/watch-read.ts';
import { bpdMessages } from '../packages/bp-node/src/api/messages.ts';
import { Pusher } from '../packages/bp-node/src/api/push.ts';
import { WatchTable } from '../packages/bp-node/src/api/watch.ts';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { Mempool } from '../packages/bp-node/src/index/mempool.ts';
import { pubFrame } from '../packages/bus/src/wire.ts';
import { modernBlock } from '../test/support/fixtures.ts';

const now = () => performance.timeOrigin + performance.now();

/** What one subscriber saw of one block. */
interface Seen {
  got: number;
  scripts: number;
  messages: number;
  last: number;
  /** When the last message reached the app (before the bench's own per-set tally of it). */
  received: number;
  sets: number;
  /** Sets that got other than exactly one spend, or entries of another process's sets. */
  tagErrors: number;
}

if (process.argv[2] === 'cpu') {
  const reps = Number(process.argv[3] ?? 30);
  const sets = Number(process.argv[4] ?? 10_000);
  const channels = Number(process.argv[5] ?? 4);
  const tmp = mkdtempSync(join(tmpdir(), 'bpp-'));
  try {
    const ix = openIndex(tmp, 'mainnet', { durability: 'os' });
    for (let h = 840002; h <= 840005; h++) ix.connectBlock(modernBlock(h), h);
    const raws = [840006, 840007].map((h) => modernBlock(h));
    const spent = raws.map((r) =>
      parseBlock(r)
        .txs.slice(1)
        .flatMap((tx) => tx.inputs.map((i) => ({ txid: i.prevTxid, vout: i.vout }))),
    );
    const watches = new WatchTable(null);
    for (let s = 0; s < sets; s++) {
      const ops = spent.map((sp) => sp[s % sp.length]);
      for (let j = 0; j < 8; j++) ops.push({ txid: randomBytes(32), vout: j });
      watches.add(`p${s % channels}.${s}`, ops, [], false, `p${s % channels}`);
    }
    const pub = await Publisher.start({ schema: bpdMessages, endpoints: [`ipc://${join(tmp, 'p.sock')}`] });
    const bodies: Uint8Array[] = [];
    const pusher = new Pusher(ix, new Mempool(ix), watches, {
      publish: (t, n, b) => pub.publish(t, n, b),
      publishEncoded: (t, n, b) => {
        bodies.push(b);
        return pub.publishEncoded(t, n, b);
      },
    });
    // The client's receive path (bp-client's Subscription with watch-read's decoders), and the
    // bus's generic schema decoder for comparison.
    const sub = new Subscriber({
      schema: bpdMessages,
      decoders: bpdDecoders,
      endpoint: `ipc://${join(tmp, 'none.sock')}`,
    });
    const generic = new Subscriber({ schema: bpdMessages, endpoint: `ipc://${join(tmp, 'none.sock')}` });
    const rs = [ix.connectBlock(raws[0], 840006), ix.connectBlock(raws[1], 840007)];
    const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
    const pushCpu: number[] = [];
    const acceptCpu: number[] = [];
    const genericCpu: number[] = [];
    let seq = 0n;
    for (let i = 0; i < reps; i++) {
      for (const r of rs) {
        bodies.length = 0;
        const c0 = process.cpuUsage();
        pusher.blockConnected(r);
        await pub.flush();
        const c1 = process.cpuUsage(c0);
        if (i >= 3) pushCpu.push(cpuMs(c1));
        for (const b of bodies) {
          const frames = [
            Buffer.from('watch/p0'),
            pubFrame(++seq, pub.epoch, bpdMessages.typeId('watchMatches'), b),
          ];
          const a0 = process.cpuUsage();
          if (!sub.accept(frames)) throw new Error('a body did not decode');
          if (i >= 3) acceptCpu.push(cpuMs(process.cpuUsage(a0)));
          const g0 = process.cpuUsage();
          if (!generic.accept(frames)) throw new Error('a body did not decode');
          if (i >= 3) genericCpu.push(cpuMs(process.cpuUsage(g0)));
        }
      }
    }
    const stat = (xs: number[]) => {
      const v = [...xs].sort((a, b) => a - b);
      return `min ${v[0].toFixed(1)} ms, median ${v[Math.floor(v.length / 2)].toFixed(1)} ms`;
    };
    console.log(
      `${sets} sets in ${channels} channels, ${reps} rounds of 840006 + 840007 (${pusher.counts.spend / (2 * reps)} matches per block in ${bodies.length} messages)`,
    );
    console.log(`publisher CPU per block (match, write, hand to the PUB socket): ${stat(pushCpu)}`);
    console.log(
      `client CPU per message (Subscriber.accept: sequence + watch-read reader): ${stat(acceptCpu)}`,
    );
    console.log(`  the same through the generic schema decoder: ${stat(genericCpu)}`);
    sub.close();
    generic.close();
    pub.close();
    await ix.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else if (process.argv[2] === 'sub') {
  // sub <endpoint> <process number> <ping topic>
  const [endpoint, k, ping] = process.argv.slice(3);
  // As bp-client's WatchChannel receives: `watchMatches` through watch-read's reader.
  const sub = new Subscriber({
    schema: bpdMessages,
    decoders: bpdDecoders,
    endpoint,
    topics: [`watch/p${k}`, ping],
  });
  const byHeight = new Map<number, Seen & { perSet: Map<string, number> }>();
  let ready = false;
  let cpu0 = process.cpuUsage();
  process.stdin.on('end', () => process.exit(0));
  // Each line on stdin: report what was seen since the last report (per height), then start afresh.
  process.stdin.on('data', () => {
    const out: Record<number, Seen> = {};
    for (const [h, s] of byHeight) {
      for (const n of s.perSet.values()) if (n !== 1) s.tagErrors++;
      const { perSet, ...rest } = s;
      out[h] = { ...rest, sets: perSet.size };
    }
    byHeight.clear();
    // CPU this process used since the last report (receive, decode, count): what a client pays.
    const c = process.cpuUsage(cpu0);
    cpu0 = process.cpuUsage();
    const cpu = (c.user + c.system) / 1000;
    process.stdout.write(`${JSON.stringify({ byHeight: out, gaps: sub.stats.gaps, cpu })}\n`);
  });
  for await (const n of sub) {
    if (n.name === 'pong') {
      if (!ready) process.stdout.write('READY\n');
      ready = true;
      continue;
    }
    if (n.name !== 'watchMatches') continue;
    const b = n.body;
    const h = b.height ?? -1;
    let s = byHeight.get(h);
    if (!s) {
      s = { got: 0, scripts: 0, messages: 0, last: 0, received: 0, sets: 0, tagErrors: 0, perSet: new Map() };
      byHeight.set(h, s);
    }
    s.messages++;
    // The iterator yields a notification once its reader has walked and checked every entry.
    s.received = now();
    for (let i = 0; i < b.setCount; i++) {
      const id = b.ids[i];
      if (!id.startsWith(`p${k}.`)) s.tagErrors++;
      const spends = b.firstSpend(i + 1) - b.firstSpend(i);
      s.got += spends;
      s.scripts += b.firstScript(i + 1) - b.firstScript(i);
      if (spends > 0) s.perSet.set(id, (s.perSet.get(id) ?? 0) + spends);
    }
    s.last = now();
  }
} else {
  const sets = Number(process.argv[2] ?? 10_000);
  const procs = Number(process.argv[3] ?? 4);
  const withScripts = process.argv[4] === 'scripts';
  const warmups = Number(process.argv[5] ?? 3);
  const tmp = mkdtempSync(join(tmpdir(), 'bpp-'));
  const kids: ChildProcess[] = [];
  try {
    const ix = openIndex(tmp, 'mainnet', { durability: 'os' });
    for (let h = 840002; h <= 840005; h++) ix.connectBlock(modernBlock(h), h);
    const heights = [840006, 840007];
    const raws = heights.map((h) => modernBlock(h));
    const blocks = raws.map((r) => parseBlock(r));
    const spent = blocks.map((b) =>
      b.txs.slice(1).flatMap((tx) => tx.inputs.map((i) => ({ txid: i.prevTxid, vout: i.vout }))),
    );
    const outScripts = blocks.map((b) => b.txs.flatMap((tx) => tx.outputs.map((o) => o.scriptPubKey)));
    const watches = new WatchTable(null);
    for (let s = 0; s < sets; s++) {
      const ops = spent.map((sp) => sp[s % sp.length]);
      for (let j = 0; j < 8; j++) ops.push({ txid: randomBytes(32), vout: j });
      const scripts = withScripts && s % 10 === 0 ? outScripts.map((os) => os[s % os.length]) : [];
      watches.add(`p${s % procs}.${s}`, ops, scripts, false, `p${s % procs}`);
    }
    const endpoint = `ipc://${join(tmp, 'p.sock')}`;
    const pub = await Publisher.start({ schema: bpdMessages, endpoints: [endpoint] });
    const pusher = new Pusher(ix, new Mempool(ix), watches, pub);
    for (let k = 0; k < procs; k++) {
      kids.push(
        spawn(
          process.execPath,
          // SUB_NODE_ARGS: extra node flags for the subscriber processes (e.g. "--cpu-prof").
          [
            ...(process.env.SUB_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
            '--import',
            'tsx',
            import.meta.filename,
            'sub',
            endpoint,
            String(k),
            `ping/${k}`,
          ],
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

    /** Every subscriber's report of what it saw since the last one. */
    const report = () =>
      Promise.all(
        kids.map(
          (p) =>
            new Promise<{ byHeight: Record<number, Seen>; gaps: number; cpu: number }>((res) => {
              let buf = '';
              const on = (d: Buffer) => {
                buf += d.toString();
                const line = buf.split('\n').find((l) => l.startsWith('{'));
                if (!line) return;
                p.stdout!.off('data', on);
                res(JSON.parse(line));
              };
              p.stdout!.on('data', on);
              p.stdin!.write('q\n');
            }),
        ),
      );
    console.log(
      `${sets} watch sets (${watches.itemCount} items${withScripts ? `, ${Math.ceil(sets / 10)} with 2 scripts` : ''}) in ${procs} channels, one subscriber process each`,
    );
    const warm = ix.connectBlock(raws[0], heights[0]);
    let gaps = 0;
    for (const i of [...Array.from({ length: warmups }, () => 0), 1]) {
      const height = heights[i];
      const before = { ...pusher.counts };
      const t0 = now();
      // The warm-up block is connected once and pushed again; the measured one is connected here.
      const r = i === 0 ? warm : ix.connectBlock(raws[i], height);
      const tIndexed = now();
      const cpu0 = process.cpuUsage();
      pusher.blockConnected(r);
      const tPublished = now();
      await pub.flush();
      const tFlushed = now();
      const cpu = process.cpuUsage(cpu0);
      // Give delivery time, then ask the subscribers what arrived and when.
      await new Promise((res) => setTimeout(res, 3000));
      const results = await report();
      gaps = results.reduce((a, x) => Math.max(a, x.gaps), gaps);
      const seen = results.map((x) => x.byHeight[height]).filter((x) => x !== undefined);
      const sum = (f: (x: Seen) => number) => seen.reduce((a, x) => a + f(x), 0);
      const last = Math.max(...seen.map((x) => x.last));
      const received = Math.max(...seen.map((x) => x.received));
      const spends = pusher.counts.spend - before.spend;
      const scripts = pusher.counts.script - before.script;
      console.log(
        `block ${height} (${blocks[i].txs.length} txs, ${spent[i].length} inputs)${i === 0 ? ', warm-up' : ', measured'}: ${i === 0 ? 'connected before' : `connectBlock ${(tIndexed - t0).toFixed(1)} ms`}`,
      );
      console.log(
        `  matching + encoding + queueing ${spends} spend${withScripts ? ` + ${scripts} script` : ''} matches in ${pusher.counts.watchMatches - before.watchMatches} watchMatches: ${(tPublished - tIndexed).toFixed(1)} ms (all handed to the socket at ${(tFlushed - tIndexed).toFixed(1)} ms; publisher CPU ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms)`,
      );
      console.log(
        `  indexed -> last matching notification delivered: ${(last - tIndexed).toFixed(1)} ms (in the apps' hands, before the bench's per-set tally: ${(received - tIndexed).toFixed(1)} ms; subscriber CPU max ${Math.max(...results.map((x) => x.cpu)).toFixed(1)} ms); delivered ${sum((x) => x.got)}/${sets} spends to ${sum((x) => x.sets)} sets${withScripts ? `, ${sum((x) => x.scripts)}/${scripts} script matches` : ''} in ${sum((x) => x.messages)} messages; mis-tagged ${sum((x) => x.tagErrors)}`,
      );
    }
    console.log(`gaps ${gaps}`);
    pub.close();
    await ix.close();
  } finally {
    // Closing stdin lets them exit on their own (so --cpu-prof gets written), then anything left goes.
    for (const k of kids) k.stdin?.end();
    await new Promise((r) => setTimeout(r, 500));
    for (const k of kids) if (k.exitCode === null) k.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
}
