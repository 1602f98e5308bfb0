/**
 * What latency this machine allows at all, under issue #4's "p99 < 1 ms at 10,000 q/s": an open
 * loop of small round trips between two Node processes over a Unix socket, with no ZeroMQ, no
 * schema and no handler: the client sends a 60-byte frame to the server, which writes it back
 * at once. 64 logical clients in one process, each on its own socket, each sending on a fixed
 * schedule (rate/64 per second, offsets spread), so the server sees what bench/query.ts's paced
 * run gives it. Latency from the actual send (the same measure as query.ts's "from the actual
 * send").
 *
 * Modes (MODES, default `idle,spin`):
 * - idle: both processes sleep in epoll between messages, as every daemon does.
 * - spin: the server's event loop never sleeps (a setImmediate loop), so its CPU never idles:
 *   how much of the latency is waking an idle vCPU rather than work.
 * - c: the same echo in C (support/latency-floor.c, built with `cc` into a temp dir): the
 *   kernel's and the VM's floor, with no runtime and no GC at all.
 *
 * Run: node --import tsx bench/latency-floor.ts [seconds=5] [rate=10000]
 * Env: SERVER_CPUS / CLIENT_CPUS pin each side (taskset), as in query.ts.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const CLIENTS = 64;
const FRAME = 60;
const role = process.argv[2];

/** GC pauses of this process: count and total ms. */
const gc = { n: 0, ms: 0 };
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) {
    gc.n++;
    gc.ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

/** Cuts a stream into FRAME-byte frames (the frames are fixed-size: no header needed). */
function frames(on: (f: Buffer, at: number) => void): (chunk: Buffer) => void {
  let pending: Buffer | null = null;
  return (chunk) => {
    let c = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let at = 0;
    while (c.length - at >= FRAME) {
      on(c, at);
      at += FRAME;
    }
    if (at < c.length) pending = Buffer.from(c.subarray(at));
    c = Buffer.alloc(0);
  };
}

async function server(path: string, spin: boolean): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const srv = net.createServer((s) => {
    s.setNoDelay?.(true);
    s.on(
      'data',
      frames((c, at) => s.write(c.subarray(at, at + FRAME))),
    );
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(path, r));
  if (spin) {
    const again = () => setImmediate(again);
    again();
  }
  process.stdout.write('READY\n');
  process.stdin.once('data', () => {
    loop.enable();
    gc.n = 0;
    gc.ms = 0;
    const c0 = process.cpuUsage();
    process.stdin.once('data', () => {
      const c = process.cpuUsage(c0);
      process.stdout.write(
        `${JSON.stringify({ cpuUs: c.user + c.system, loopP99: loop.percentile(99) / 1e6, gc })}\n`,
        () => process.exit(0),
      );
    });
  });
}

async function client(path: string, secs: number, rate: number): Promise<void> {
  const socks: net.Socket[] = [];
  const lat: number[] = [];
  let counting = false;
  for (let k = 0; k < CLIENTS; k++) {
    const s = net.connect(path);
    await new Promise<void>((r) => s.once('connect', () => r()));
    const sentAt: number[] = [];
    let head = 0;
    s.on(
      'data',
      frames(() => {
        const t = sentAt[head++];
        if (counting && t > 0) lat.push(performance.now() - t);
      }),
    );
    (s as net.Socket & { sentAt: number[] }).sentAt = sentAt;
    socks.push(s);
  }
  process.stdout.write('READY\n');
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  const frame = Buffer.alloc(FRAME, 7);
  const every = (1000 * CLIENTS) / rate;
  const t0 = performance.now();
  const warm = t0 + 1000;
  const stop = warm + secs * 1000;
  const next = socks.map((_, k) => t0 + (k * every) / CLIENTS);
  const c0 = { v: process.cpuUsage() };
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      if (!counting && now >= warm) {
        counting = true;
        c0.v = process.cpuUsage();
        gc.n = 0;
        gc.ms = 0;
      }
      let soonest = Number.POSITIVE_INFINITY;
      for (let k = 0; k < CLIENTS; k++) {
        while (next[k] <= now && next[k] < stop) {
          (socks[k] as net.Socket & { sentAt: number[] }).sentAt.push(counting ? performance.now() : 0);
          socks[k].write(frame);
          next[k] += every;
        }
        if (next[k] < soonest) soonest = next[k];
      }
      if (soonest < stop) setTimeout(tick, Math.max(0, soonest - performance.now()));
      else setTimeout(done, 200);
    };
    tick();
  });
  const c = process.cpuUsage(c0.v);
  for (const s of socks) s.destroy();
  process.stdout.write(`${JSON.stringify({ cpuUs: c.user + c.system, gc, lat })}\n`, () => process.exit(0));
}

function spawnSide(env: string, args: string[]): ChildProcess {
  const cpus = process.env[env];
  const node = [...process.execArgv, import.meta.filename, ...args];
  return cpus
    ? spawn('taskset', ['-c', cpus, process.execPath, ...node], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, node, { stdio: ['pipe', 'pipe', 'inherit'] });
}

function lines(p: ChildProcess): { next(): Promise<string> } {
  let buf = '';
  const waiting: Array<(s: string) => void> = [];
  p.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0 && waiting.length > 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()!(line);
    }
  });
  return { next: () => new Promise((r) => waiting.push(r)) };
}

if (role === 'server') await server(process.argv[3], process.argv[4] === 'spin');
else if (role === 'client') await client(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else {
  const secs = Number(process.argv[2] ?? 5);
  const rate = Number(process.argv[3] ?? 10_000);
  const modes = (process.env.MODES ?? 'c,idle,spin').split(',');
  const tmp = mkdtempSync(join(tmpdir(), 'latfloor-'));
  const summary = (label: string, lat: number[]) => {
    lat.sort((a, b) => a - b);
    const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor((lat.length * q) / 100))].toFixed(3);
    const under = lat.filter((x) => x < 1).length / lat.length;
    console.log(
      `${label}: ${lat.length} round trips, p50 ${p(50)} ms, p99 ${p(99)} ms, p99.9 ${p(99.9)} ms, max ${lat[lat.length - 1].toFixed(2)} ms, under 1 ms ${(under * 100).toFixed(1)} %`,
    );
  };
  try {
    for (const mode of modes) {
      const path = join(tmp, `${mode}.sock`);
      if (mode === 'c') {
        const bin = join(tmp, 'latency-floor');
        execFileSync('cc', [
          '-O2',
          '-pthread',
          '-o',
          bin,
          join(import.meta.dirname, 'support/latency-floor.c'),
        ]);
        const pin = (env: string, args: string[]): [string, string[]] =>
          process.env[env] ? ['taskset', ['-c', process.env[env]!, bin, ...args]] : [bin, args];
        const s = spawn(...pin('SERVER_CPUS', ['server', path]), { stdio: ['ignore', 'pipe', 'inherit'] });
        await lines(s).next();
        const out = await new Promise<string>((resolve, reject) => {
          const c = spawn(...pin('CLIENT_CPUS', ['client', path, String(secs), String(rate)]), {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let text = '';
          c.stdout!.on('data', (d: Buffer) => {
            text += d.toString();
          });
          c.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`C client exited ${code}`))));
        });
        s.kill();
        summary(
          `C echo (no Node), open loop ${rate}/s, ${CLIENTS} sockets, ${FRAME}-byte frames`,
          out
            .trim()
            .split('\n')
            .map((x) => Number(x) / 1000),
        );
        continue;
      }
      const s = spawnSide('SERVER_CPUS', ['server', path, mode]);
      const sl = lines(s);
      await sl.next();
      const c = spawnSide('CLIENT_CPUS', ['client', path, String(secs), String(rate)]);
      const cl = lines(c);
      await cl.next();
      s.stdin!.write('go\n');
      c.stdin!.write('go\n');
      const cr = JSON.parse(await cl.next());
      s.stdin!.write('end\n');
      const sr = JSON.parse(await sl.next());
      const n = cr.lat.length;
      summary(
        `Node net echo, ${mode}, open loop ${rate}/s, ${CLIENTS} sockets, ${FRAME}-byte frames`,
        cr.lat,
      );
      console.log(
        `  CPU per round trip: server ${(sr.cpuUs / n).toFixed(1)} µs, client ${(cr.cpuUs / n).toFixed(1)} µs; server loop delay p99 ${sr.loopP99.toFixed(1)} ms; GC server ${sr.gc.n} (${sr.gc.ms.toFixed(0)} ms), client ${cr.gc.n} (${cr.gc.ms.toFixed(0)} ms)`,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
