/**
 * bpd query benchmark: an index of real mainnet blocks 840002-840007 (test/fixtures/chain), a
 * bpd query server (the real handlers and RpcServer) in its own process, and 64 bus clients
 * spread over client processes on loopback ipc, sending a mix of outspend / history / tx
 * lookups. Reports q/s, latency percentiles and CPU per query on each side: at full load (closed
 * loop: each client keeps `depth` requests in flight, and 1), and open loop at a fixed total rate
 * (issue #4's "p99 < 1 ms at 10,000 q/s": requests sent on schedule whether or not replies came,
 * latency from the scheduled send time); and the same lookups as direct in-process calls.
 * Run: node --import tsx bench/query.ts [seconds=5] [clientProcs=2] [depth=4] [rate=10000]
 * Env: SERVERS=n server processes (default 1; clients spread over them), BATCH=0 clients that
 * do not batch requests, RUNS=closed,closed1,paced,paced-c (which bus runs; paced-c: the open
 * loop from a load generator in C, support/zmtp-load.c, built with `cc`), DIRECT=0 (skip the direct
 * calls), SERVER_NODE_ARGS / CLIENT_NODE_ARGS (node flags for the spawned processes, e.g.
 * "--cpu-prof --cpu-prof-dir=D" or "--max-semi-space-size=32"), SERVER_CPUS / CLIENT_CPUS (pin each
 * side to CPUs with taskset, e.g. 0 and 1), SERVER_SPIN=1 (the server's event loop never sleeps),
 * COMPACT=1 (the index compacted, as a synced bpd's is, instead of every row in level 0).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { fromHex, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { RpcClient, RpcServer } from '@lnpbp/bus';
import { bpdMessages } from '../packages/bp-node/src/api/messages.ts';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { rpcFrame } from '../packages/bus/src/wire.ts';
import { modernBlock } from '../test/support/fixtures.ts';
import { benchHandlers } from './support/handlers.ts';

type Query = { k: 'o'; txid: string; vout: number } | { k: 'h'; sh: string } | { k: 't'; txid: string };

const HEIGHTS = [840002, 840003, 840004, 840005, 840006, 840007];
const mode = process.argv[2];

function body(q: Query) {
  if (q.k === 'o') return ['outspend', { txid: fromHex(q.txid), vout: q.vout }] as const;
  if (q.k === 't') return ['tx', { txid: fromHex(q.txid) }] as const;
  return ['history', { scriptHash: fromHex(q.sh), limit: 10 }] as const;
}

/** An event-loop delay histogram's p99/max in ms. */
function loopMs(h: IntervalHistogram): string {
  const kinds = [...gc.kinds].map(([k, n]) => `${k} ${n}`).join(' ');
  const g = `gc ${gc.n} (${gc.ms.toFixed(0)} ms), >1ms ${gc.over1}${kinds ? ` [${kinds}]` : ''}, max ${gc.max.toFixed(1)}`;
  resetGc();
  return `${(h.percentile(99) / 1e6).toFixed(1)}/${(h.max / 1e6).toFixed(1)} (${g})`;
}

/**
 * GC pauses of this process since the last loopMs: how many and their total ms, how many over
 * 1 ms (by kind), and the longest (ms).
 */
const gc = { n: 0, ms: 0, over1: 0, max: 0, kinds: new Map<string, number>() };
function resetGc(): void {
  gc.n = 0;
  gc.ms = 0;
  gc.over1 = 0;
  gc.max = 0;
  gc.kinds.clear();
}
// perf_hooks.constants.NODE_PERFORMANCE_GC_*
const GC_KINDS: Record<number, string> = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };
if (mode === 'serve' || mode === 'client') {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.n++;
      gc.ms += e.duration;
      if (e.duration > 1) {
        gc.over1++;
        const kind = GC_KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
        gc.kinds.set(kind, (gc.kinds.get(kind) ?? 0) + 1);
      }
      if (e.duration > gc.max) gc.max = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

if (mode === 'serve') {
  const [dir, endpoint] = process.argv.slice(3);
  const server = await RpcServer.start({
    schema: bpdMessages,
    handlers: benchHandlers(dir),
    endpoints: [endpoint],
  });
  // SERVER_SPIN=1: the server's event loop never sleeps (a setImmediate loop), so its CPU never
  // idles between requests: how much of the latency is waking an idle vCPU (bench/latency-floor.ts).
  if (process.env.SERVER_SPIN === '1') {
    const again = () => setImmediate(again);
    again();
  }
  process.stdout.write('READY\n');
  // "cpu" on stdin: this process's CPU time so far (all its threads: zeromq's I/O thread too).
  // ... and how late its event loop ran since the last ask (p99 and max, ms): a stalled server
  // loop shows here, a stalled client in the clients' figure.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  process.stdin.on('data', () => {
    const c = process.cpuUsage();
    process.stdout.write(`CPU ${c.user + c.system} LOOP ${loopMs(loop)}\n`);
    loop.reset();
  });
  process.on('SIGTERM', () => {
    // Exit even if replies to clients that already left cannot drain.
    setTimeout(() => process.exit(0), 1000).unref();
    server.close(100).then(() => process.exit(0));
  });
} else if (mode === 'client') {
  // client <endpoints> <workload file> <clients> <depth> <seconds> <total rate of this process
  // (0: closed loop)> <batch|nobatch>
  const [endpointList, file, nS, depthS, secS, rateS, batchS] = process.argv.slice(3);
  // Client i talks to server process i mod N (several servers: one read-only index reader each).
  const endpoints = endpointList.split(',');
  // Request bodies are built once, before the clock starts: the measured CPU is the client's.
  const bodies = (JSON.parse(readFileSync(file, 'utf8')) as Query[]).map(body);
  const n = Number(nS);
  const depth = Number(depthS);
  const rate = Number(rateS);
  const clients = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      RpcClient.connect({
        schema: bpdMessages,
        endpoint: endpoints[i % endpoints.length],
        batch: batchS !== 'nobatch',
      }),
    ),
  );
  process.stdout.write('READY\n');
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // The set-up's collections (building the bodies, connecting) are not the run's.
  resetGc();
  let qi = Math.floor(Math.random() * bodies.length);
  const send = (c: RpcClient<typeof bpdMessages.table>) => {
    const [name, b] = bodies[qi++ % bodies.length];
    return c.request(name as 'tx', b as never);
  };
  const lat: number[] = [];
  /** Open loop: latency from the moment the request was actually handed to the client. */
  const latSent: number[] = [];
  let errors = 0;
  let last = 0;
  // Every reply, warm-up included (the server's CPU is divided by this).
  let all = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const end = t0 + Number(secS) * 1000;
  if (rate === 0) {
    // Closed loop: each client keeps `depth` requests in flight.
    const one = async (c: RpcClient<typeof bpdMessages.table>) => {
      const t = performance.now();
      try {
        await send(c);
      } catch {
        errors++;
      }
      lat.push(performance.now() - t);
      all++;
    };
    await Promise.all(
      clients.flatMap((c) =>
        Array.from({ length: depth }, async () => {
          while (performance.now() < end) await one(c);
        }),
      ),
    );
  } else {
    // Open loop: every client sends at rate/n per second on a fixed schedule (client k's first
    // send offset by k/n of an interval), without waiting for replies; latency runs from the
    // scheduled send time, so timer lateness and queueing anywhere count. The first second
    // warms up (not counted).
    const every = (1000 * n) / rate;
    const warm = t0 + 1000;
    const stop = end + 1000;
    const next = clients.map((_, k) => t0 + (k * every) / n);
    let sent = 0;
    let answered = 0;
    await new Promise<void>((done) => {
      const tick = () => {
        const now = performance.now();
        if (now >= warm && t0 < warm) {
          // Counting starts here.
          cpu0 = process.cpuUsage();
          t0 = now;
          loop.reset();
          resetGc();
        }
        let soonest = Number.POSITIVE_INFINITY;
        for (let k = 0; k < n; k++) {
          while (next[k] <= now && next[k] < stop) {
            const at = next[k];
            const counted = at >= warm;
            if (counted) sent++;
            const sentAt = performance.now();
            send(clients[k]).then(
              () => {
                all++;
                if (!counted) return;
                last = performance.now();
                lat.push(last - at);
                latSent.push(last - sentAt);
                if (++answered === sent && performance.now() >= stop) done();
              },
              () => {
                all++;
                if (!counted) return;
                errors++;
                if (++answered === sent && performance.now() >= stop) done();
              },
            );
            next[k] += every;
          }
          if (next[k] < soonest) soonest = next[k];
        }
        if (soonest < stop) setTimeout(tick, Math.max(0, soonest - performance.now()));
        else {
          // Replies still out get 5 s; whatever has not come by then counts as lost.
          setTimeout(done, 5000).unref();
          if (answered === sent) done();
        }
      };
      tick();
    });
  }
  // Paced: the counted schedule ran `seconds`; the rate achieved is replies over the time to the
  // last one (longer than the schedule when the server fell behind).
  const secs = (rate === 0 ? performance.now() - t0 : Math.max(last - t0, Number(secS) * 1000)) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const c of clients) c.close();
  process.stdout.write(
    `${JSON.stringify({ count: lat.length, all, errors, secs, cpuUs: cpu.user + cpu.system, batches: clients.reduce((a, c) => a + c.stats.batches, 0), loop: loopMs(loop), lat: lat.map((x) => Math.round(x * 1000)), latSent: latSent.map((x) => Math.round(x * 1000)) })}\n`,
    // Exit once the pipe took it all (a large write to a pipe is asynchronous).
    () => process.exit(0),
  );
} else {
  const seconds = Number(process.argv[2] ?? 5);
  const procs = Number(process.argv[3] ?? 2);
  // Server processes (each its own read-only LMDB handle), and whether clients batch.
  const servers = Number(process.env.SERVERS ?? 1);
  const batching = process.env.BATCH === '0' ? 'nobatch' : 'batch';
  const depth = Number(process.argv[4] ?? 4);
  const rate = Number(process.argv[5] ?? 10_000);
  const CLIENTS = 64;
  const tmp = mkdtempSync(join(tmpdir(), 'bpq-'));
  const serverProcs: ChildProcess[] = [];
  try {
    // 1. The index and the workload (every tx's id, outpoints, output scripts of the blocks).
    let t = performance.now();
    const ix = openIndex(tmp, 'mainnet', { durability: 'os' });
    const queries: Query[] = [];
    for (const h of HEIGHTS) {
      const raw = modernBlock(h);
      ix.connectBlock(raw, h);
      for (const tx of parseBlock(raw).txs) {
        const txid = toHex(tx.txid());
        queries.push({ k: 't', txid });
        const vout = (queries.length * 7) % tx.outputs.length;
        queries.push({ k: 'o', txid, vout });
        queries.push({ k: 'h', sh: toHex(sha256(tx.outputs[vout].scriptPubKey)) });
      }
    }
    // COMPACT=1: the index as a synced bpd has it (compacted after its catch-up: rows in level-1
    // chunks); by default every row stays in level 0, as blocks connected one by one leave them.
    if (process.env.COMPACT === '1') ix.compact();
    await ix.close();
    // Shuffle so each kind is interleaved and no client walks the blocks in order.
    for (let i = queries.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [queries[i], queries[j]] = [queries[j], queries[i]];
    }
    const wl = join(tmp, 'workload.json');
    writeFileSync(wl, JSON.stringify(queries));
    console.log(
      `index of ${HEIGHTS.length} blocks built in ${((performance.now() - t) / 1000).toFixed(1)} s; ${queries.length} queries (1/3 each outspend, history limit 10, tx)`,
    );

    // 2. Direct in-process calls through the same handlers: the ceiling.
    let directQps = 0;
    if (process.env.DIRECT !== '0') {
      const h = benchHandlers(tmp);
      const ctx = {} as never;
      t = performance.now();
      const dc0 = process.cpuUsage();
      let n = 0;
      const lat: number[] = [];
      while (performance.now() - t < seconds * 1000) {
        const [name, b] = body(queries[n++ % queries.length]);
        const t1 = performance.now();
        (h[name as 'tx'] as (b: unknown, c: never) => unknown)(b, ctx);
        lat.push(performance.now() - t1);
      }
      directQps = n / ((performance.now() - t) / 1000);
      const dcpu = process.cpuUsage(dc0);
      lat.sort((a, b) => a - b);
      console.log(
        `direct in-process: ${Math.round(directQps)} q/s, p50 ${(pct(lat, 50) * 1000).toFixed(1)} µs, p99 ${(pct(lat, 99) * 1000).toFixed(1)} µs, CPU ${((dcpu.user + dcpu.system) / n).toFixed(1)} µs/query`,
      );
      for (const k of ['o', 't', 'h'] as const) {
        const qs = queries.filter((q) => q.k === k).slice(0, 20_000);
        const t2 = performance.now();
        const c2 = process.cpuUsage();
        for (const q of qs) {
          const [name, b] = body(q);
          (h[name as 'tx'] as (b: unknown, c: never) => unknown)(b, ctx);
        }
        const us = ((performance.now() - t2) * 1000) / qs.length;
        const cu = process.cpuUsage(c2);
        console.log(
          `  direct ${body(qs[0])[0]}: ${us.toFixed(1)} µs/query (${Math.round(1e6 / us)} q/s), CPU ${((cu.user + cu.system) / qs.length).toFixed(1)} µs/query`,
        );
      }
    }

    // 3. Server process + client processes over ipc.
    const endpoints = Array.from({ length: servers }, (_, i) => `ipc://${join(tmp, `q${i}.sock`)}`);
    serverProcs.push(
      ...endpoints.map((ep) =>
        spawnPinned('SERVER_CPUS', [
          ...nodeArgs('SERVER_NODE_ARGS'),
          '--import',
          'tsx',
          import.meta.filename,
          'serve',
          tmp,
          ep,
        ]),
      ),
    );
    await Promise.all(serverProcs.map(ready));
    // KEEP_OUTPUT=dir: each server process's stdout too (e.g. with SERVER_NODE_ARGS=--trace-gc-nvp).
    if (process.env.KEEP_OUTPUT)
      for (const [i, p] of serverProcs.entries())
        p.stdout!.on('data', (d: Buffer) =>
          appendFileSync(join(process.env.KEEP_OUTPUT!, `server${i}.out`), d),
        );
    let serverLoop = '';
    const serverCpu = async () => {
      let sum = 0;
      for (const p of serverProcs) sum += await cpuOf(p);
      return sum;
    };
    const cpuOf = (server: ChildProcess) =>
      new Promise<number>((resolve) => {
        let buf = '';
        const on = (d: Buffer) => {
          buf += d.toString();
          const m = /CPU (\d+) LOOP ([^\n]+)\n/.exec(buf);
          if (m) {
            server.stdout!.off('data', on);
            serverLoop = m[2];
            resolve(Number(m[1]));
          }
        };
        server.stdout!.on('data', on);
        server.stdin!.write('cpu\n');
      });
    const run = async (label: string, rateTotal: number, d: number) => {
      const kids = Array.from({ length: procs }, () =>
        spawnPinned('CLIENT_CPUS', [
          ...nodeArgs('CLIENT_NODE_ARGS'),
          '--import',
          'tsx',
          import.meta.filename,
          'client',
          endpoints.join(','),
          wl,
          String(CLIENTS / procs),
          String(d),
          String(seconds),
          String(rateTotal / procs),
          batching,
        ]),
      );
      await Promise.all(kids.map(ready));
      const outs = kids.map(collect);
      const s0 = await serverCpu();
      for (const k of kids) k.stdin!.write('go\n');
      const raw = await Promise.all(outs);
      // KEEP_OUTPUT=dir: each client process's whole stdout (e.g. with CLIENT_NODE_ARGS=--trace-gc-nvp).
      if (process.env.KEEP_OUTPUT)
        for (const [i, s] of raw.entries()) writeFileSync(join(process.env.KEEP_OUTPUT, `client${i}.out`), s);
      const res = raw.map((s) => JSON.parse(s.trim().split('\n').pop()!));
      const serverUs = (await serverCpu()) - s0;
      const clientUs = res.reduce((a, r) => a + r.cpuUs, 0);
      const batches = res.reduce((a, r) => a + r.batches, 0);
      const count = res.reduce((a, r) => a + r.count, 0);
      const answered = res.reduce((a, r) => a + r.all, 0);
      const errors = res.reduce((a, r) => a + r.errors, 0);
      const secs = Math.max(...res.map((r) => r.secs));
      const lat = res.flatMap((r) => r.lat as number[]).sort((a, b) => a - b);
      const ms = (p: number) => (pct(lat, p) / 1000).toFixed(2);
      const qps = count / secs;
      const under1ms = lat.length === 0 ? 0 : lat.filter((x) => x < 1000).length / lat.length;
      const sentLat = res.flatMap((r) => r.latSent as number[]).sort((a, b) => a - b);
      // Open loop: the same replies timed from the actual send (without the load generator's
      // own timer lateness; the clients' event loop is the one the replies come back on).
      const fromSend =
        sentLat.length === 0
          ? ''
          : `\n  from the actual send: p50 ${(pct(sentLat, 50) / 1000).toFixed(2)} ms, p99 ${(pct(sentLat, 99) / 1000).toFixed(2)} ms, p99.9 ${(pct(sentLat, 99.9) / 1000).toFixed(2)} ms, under 1 ms ${((100 * sentLat.filter((x) => x < 1000).length) / sentLat.length).toFixed(1)} %`;
      console.log(
        `${label}: ${Math.round(qps)} q/s, p50 ${ms(50)} ms, p99 ${ms(99)} ms, p99.9 ${ms(99.9)} ms, max ${ms(100)} ms, under 1 ms ${(100 * under1ms).toFixed(1)} %, errors ${errors} (${CLIENTS} clients in ${procs} processes, ${rateTotal === 0 ? `${d} in flight each` : 'open loop'}, ${batches} batch frames; ${servers} server process(es))\n` +
          `  CPU per query: server ${(serverUs / answered).toFixed(1)} µs, clients ${(clientUs / count).toFixed(1)} µs; event-loop delay p99/max (ms): server ${serverLoop}, clients ${res.map((r) => r.loop).join(', ')}${fromSend}`,
      );
      return qps;
    };
    // RUNS picks the bus runs: closed (depth in flight), closed1 (1 in flight), paced (open loop
    // at `rate` q/s in total).
    const runs = (process.env.RUNS ?? 'closed,closed1,paced').split(',');
    let max = 0;
    if (runs.includes('closed')) max = await run('bus, closed loop', 0, depth);
    if (runs.includes('closed1')) await run('bus, closed loop, 1 in flight', 0, 1);
    if (runs.includes('paced'))
      await run(`bus, open loop paced at ${rate} q/s (latency from the scheduled send)`, rate, 1);
    if (runs.includes('paced-c')) {
      // The same open loop from a load generator in C (support/zmtp-load.c): what the server
      // answers in, without a Node client's own GC and event loop in every latency.
      const frames = join(tmp, 'frames.bin');
      const parts: Buffer[] = [];
      const qs = JSON.parse(readFileSync(wl, 'utf8')) as Query[];
      const count = Buffer.alloc(4);
      count.writeUInt32LE(qs.length);
      parts.push(count);
      for (const q of qs) {
        const [name, b] = body(q);
        const f = rpcFrame(0, bpdMessages.typeId(name), bpdMessages.encode(name, b as never));
        const len = Buffer.alloc(4);
        len.writeUInt32LE(f.length);
        parts.push(len, f);
      }
      writeFileSync(frames, Buffer.concat(parts));
      const bin = join(tmp, 'zmtp-load');
      execFileSync('cc', ['-O2', '-pthread', '-o', bin, join(import.meta.dirname, 'support/zmtp-load.c')]);
      const cpus = process.env.CLIENT_CPUS;
      const args = [endpoints[0].slice('ipc://'.length), frames, String(seconds), String(rate)];
      const s0 = await serverCpu();
      const out = await new Promise<string>((resolve, reject) => {
        const c = cpus
          ? spawn('taskset', ['-c', cpus, bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
          : spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
        let text = '';
        c.stdout!.on('data', (d: Buffer) => {
          text += d.toString();
        });
        c.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`zmtp-load exited ${code}`))));
      });
      const serverUs = (await serverCpu()) - s0;
      const lines = out.trim().split('\n');
      const lost = Number(lines.pop()!.split(' ')[1]);
      const pairs = lines.map((l) => l.split(' ').map(Number));
      // LATENCY_OUT=file: every reply's latency and send time (µs), to see when the slow ones were.
      if (process.env.LATENCY_OUT) writeFileSync(process.env.LATENCY_OUT, `${lines.join('\n')}\n`);
      const lat = pairs.map((p) => p[0]).sort((a, b) => a - b);
      const ms = (p: number) => (pct(lat, p) / 1000).toFixed(2);
      const under = (100 * lat.filter((x) => x < 1000).length) / lat.length;
      console.log(
        `bus, open loop paced at ${rate} q/s from a C client (64 ZMTP connections, one process; latency from the actual send): ${lat.length} replies, p50 ${ms(50)} ms, p99 ${ms(99)} ms, p99.9 ${ms(99.9)} ms, max ${ms(100)} ms, under 1 ms ${under.toFixed(1)} %, lost ${lost}\n` +
          `  CPU per query: server ${(serverUs / (lat.length + lost)).toFixed(1)} µs; event-loop delay p99/max (ms): server ${serverLoop}`,
      );
    }
    if (max > 0 && directQps > 0) console.log(`bus / direct = ${(max / directQps).toFixed(3)}`);
    for (const server of serverProcs) {
      server.kill('SIGTERM');
      await new Promise((r) => server.on('exit', r));
    }
  } finally {
    // Also after a failure: a server left running would keep this process alive.
    for (const server of serverProcs) if (server.exitCode === null) server.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * A child node process, run through `taskset -c <list>` when the env var names CPUs (e.g.
 * SERVER_CPUS=0 CLIENT_CPUS=1: each side's main thread and libzmq I/O thread share one core, so
 * their hand-overs are same-core wake-ups instead of cross-core ones, which cost the most in
 * this VM).
 */
function spawnPinned(env: string, args: string[]): ChildProcess {
  const cpus = process.env[env];
  const stdio: ['pipe', 'pipe', 'inherit'] = ['pipe', 'pipe', 'inherit'];
  if (cpus) return spawn('taskset', ['-c', cpus, process.execPath, ...args], { stdio });
  return spawn(process.execPath, args, { stdio });
}

/** Extra node flags for the spawned processes, e.g. SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=D". */
function nodeArgs(env: string): string[] {
  return (process.env[env] ?? '').split(' ').filter((a) => a.length > 0);
}

function ready(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const on = (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('READY')) {
        p.stdout!.off('data', on);
        resolve();
      }
    };
    p.stdout!.on('data', on);
    p.on('exit', (c) => reject(new Error(`child exited ${c}`)));
  });
}

function collect(p: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => (buf += d.toString()));
    p.on('exit', () => resolve(buf));
  });
}
