/**
 * bpd query benchmark: an index of real mainnet blocks 840002-840007 (test/fixtures/chain), a
 * bpd query server (the real handlers and RpcServer) in its own process, and 64 bus clients
 * spread over client processes on loopback ipc, sending a mix of outspend / history / tx
 * lookups. Reports q/s, p50 and p99, at full load (closed loop) and paced at a fixed rate, and
 * the same lookups as direct in-process calls (the limit the bus is measured against).
 * Run: node --import tsx bench/query.ts [seconds=5] [clientProcs=2] [depth=4] [rate=10000]
 * Env: SERVERS=n server processes (default 1; clients spread over them), BATCH=0 clients that
 * do not batch requests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { fromHex, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { RpcClient, RpcServer } from '@lnpbp/bus';
import { makeHandlers } from '../packages/bp-node/src/api/handlers.ts';
import { bpdMessages } from '../packages/bp-node/src/api/messages.ts';
import { WatchTable } from '../packages/bp-node/src/api/watch.ts';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { Mempool } from '../packages/bp-node/src/index/mempool.ts';
import { modernBlock } from '../test/support/fixtures.ts';

type Query = { k: 'o'; txid: string; vout: number } | { k: 'h'; sh: string } | { k: 't'; txid: string };

const HEIGHTS = [840002, 840003, 840004, 840005, 840006, 840007];
const mode = process.argv[2];

function handlersFor(dir: string) {
  const index = openIndex(dir, 'mainnet', { readOnly: true });
  return makeHandlers({
    network: 'mainnet',
    index,
    mempool: new Mempool(index),
    source: { broadcast: async () => {}, getTip: async () => ({ height: 0, hash: new Uint8Array(32) }) },
    sourceName: 'bench',
    startedAt: Date.now(),
    watches: new WatchTable(null),
    pub: { publish: () => 0n },
    synced: () => true,
    sourceTip: () => undefined,
  });
}

function body(q: Query) {
  if (q.k === 'o') return ['outspend', { txid: fromHex(q.txid), vout: q.vout }] as const;
  if (q.k === 't') return ['tx', { txid: fromHex(q.txid) }] as const;
  return ['history', { scriptHash: fromHex(q.sh), limit: 10 }] as const;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

if (mode === 'serve') {
  const [dir, endpoint] = process.argv.slice(3);
  const server = await RpcServer.start({
    schema: bpdMessages,
    handlers: handlersFor(dir),
    endpoints: [endpoint],
  });
  process.stdout.write('READY\n');
  // "cpu" on stdin: this process's CPU time so far (all its threads: zeromq's I/O thread too).
  process.stdin.on('data', () => {
    const c = process.cpuUsage();
    process.stdout.write(`CPU ${c.user + c.system}\n`);
  });
  process.on('SIGTERM', () => server.close(100).then(() => process.exit(0)));
} else if (mode === 'client') {
  // client <endpoint> <workload file> <clients> <depth> <seconds> <rate per client (0: closed loop)>
  const [endpointList, file, nS, depthS, secS, rateS, batchS] = process.argv.slice(3);
  // Client i talks to server process i mod N (several servers: one read-only index reader each).
  const endpoints = endpointList.split(',');
  const queries = JSON.parse(readFileSync(file, 'utf8')) as Query[];
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
  const lat: number[] = [];
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const end = Date.now() + Number(secS) * 1000;
  let qi = Math.floor(Math.random() * queries.length);
  const one = async (c: RpcClient<typeof bpdMessages.table>) => {
    const [name, b] = body(queries[qi++ % queries.length]);
    const t0 = performance.now();
    try {
      await c.request(name as 'tx', b as never);
    } catch {
      errors++;
    }
    lat.push(performance.now() - t0);
  };
  const t0 = Date.now();
  await Promise.all(
    clients.flatMap((c) =>
      Array.from({ length: depth }, async (_, j) => {
        if (rate === 0) {
          while (Date.now() < end) await one(c);
          return;
        }
        // Paced: each lane sends at rate/depth per second, on schedule (latency includes queueing).
        const every = (1000 * depth) / rate;
        let next = performance.now() + j * (every / depth);
        while (Date.now() < end) {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          next += every;
          await one(c);
        }
      }),
    ),
  );
  const secs = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const c of clients) c.close();
  lat.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ count: lat.length, errors, secs, cpuUs: cpu.user + cpu.system, batches: clients.reduce((n, c) => n + c.stats.batches, 0), p50: pct(lat, 50), p99: pct(lat, 99), lat: lat.filter((_, i) => i % 10 === 0) })}\n`,
  );
  process.exit(0);
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
    const h = handlersFor(tmp);
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
    const directQps = n / ((performance.now() - t) / 1000);
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

    // 3. Server process + client processes over ipc.
    const endpoints = Array.from({ length: servers }, (_, i) => `ipc://${join(tmp, `q${i}.sock`)}`);
    const serverProcs = endpoints.map((ep) =>
      spawn(process.execPath, ['--import', 'tsx', import.meta.filename, 'serve', tmp, ep], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    await Promise.all(serverProcs.map(ready));
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
          const m = /CPU (\d+)/.exec(buf);
          if (m) {
            server.stdout!.off('data', on);
            resolve(Number(m[1]));
          }
        };
        server.stdout!.on('data', on);
        server.stdin!.write('cpu\n');
      });
    const run = async (label: string, perClientRate: number, d: number) => {
      const kids = Array.from({ length: procs }, () =>
        spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            import.meta.filename,
            'client',
            endpoints.join(','),
            wl,
            String(CLIENTS / procs),
            String(d),
            String(seconds),
            String(perClientRate),
            batching,
          ],
          { stdio: ['pipe', 'pipe', 'inherit'] },
        ),
      );
      await Promise.all(kids.map(ready));
      const outs = kids.map(collect);
      const s0 = await serverCpu();
      for (const k of kids) k.stdin!.write('go\n');
      const res = (await Promise.all(outs)).map((s) => JSON.parse(s.trim().split('\n').pop()!));
      const serverUs = (await serverCpu()) - s0;
      const clientUs = res.reduce((a, r) => a + r.cpuUs, 0);
      const batches = res.reduce((a, r) => a + r.batches, 0);
      const count = res.reduce((a, r) => a + r.count, 0);
      const errors = res.reduce((a, r) => a + r.errors, 0);
      const secs = Math.max(...res.map((r) => r.secs));
      const all = res.flatMap((r) => r.lat as number[]).sort((a, b) => a - b);
      const qps = count / secs;
      console.log(
        `${label}: ${Math.round(qps)} q/s, p50 ${pct(all, 50).toFixed(2)} ms, p99 ${pct(all, 99).toFixed(2)} ms, errors ${errors} (${CLIENTS} clients in ${procs} processes, ${d} in flight each, ${batches} batch frames; ${servers} server process(es))\n` +
          `  CPU per query: server ${(serverUs / count).toFixed(1)} µs, clients ${(clientUs / count).toFixed(1)} µs`,
      );
      return qps;
    };
    const max = await run('bus, closed loop', 0, depth);
    await run('bus, closed loop, 1 in flight', 0, 1);
    const target = Math.min(rate, Math.floor(max * 0.8));
    await run(`bus, paced at ${target} q/s`, target / CLIENTS, 1);
    console.log(`bus / direct = ${(max / directQps).toFixed(3)}`);
    for (const server of serverProcs) {
      server.kill('SIGTERM');
      await new Promise((r) => server.on('exit', r));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
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
