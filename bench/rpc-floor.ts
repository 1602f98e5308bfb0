/**
 * The floor under bench/query.ts: raw DEALER -> ROUTER echo of small frames, no schema, no
 * handlers, 64 DEALERs in 2 client processes, `depth` requests in flight each. Runs it on both
 * transports the bus has, on the same input: zeromq.js (a promise per message, one send in
 * flight per socket, as its send queue does) and our native transport (packages/bus/native:
 * one JS call per wake-up for every waiting message, synchronous sends); prints round trips per
 * second and CPU µs per round trip in the server and client processes (every thread, libzmq's
 * I/O thread too), and the ratio.
 * zeromq.js copies frames of up to 128 bytes and sends/receives larger ones zero-copy (a napi
 * reference released through a uv_async hop on send, an external Buffer with a finalizer on
 * receive): `bytes` above 128 measures that path.
 * Run: node --import tsx bench/rpc-floor.ts [depth=4] [seconds=4] [bytes=60]
 *      TRANSPORTS=native (or zeromq.js) runs one only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { NativeSocket, nativeTransport } from '../packages/bus/src/transport/native.ts';

type Transport = 'zeromq.js' | 'native';

function report(c0: NodeJS.CpuUsage | undefined, n: number): string {
  const cu = process.cpuUsage(c0);
  return `${JSON.stringify({ n, cpuUs: cu.user + cu.system })}\n`;
}

async function zmqjsServer(ep: string): Promise<void> {
  const s = new zmq.Router({ linger: 0, sendTimeout: 0 });
  await s.bind(ep);
  process.stdout.write('READY\n');
  let c0: NodeJS.CpuUsage | undefined;
  let n = 0;
  process.on('SIGTERM', () => {
    process.stdout.write(report(c0, n));
    process.exit(0);
  });
  const q: Buffer[][] = [];
  let pumping = false;
  const pump = async () => {
    pumping = true;
    while (q.length > 0) await s.send(q.shift()!);
    pumping = false;
  };
  for await (const m of s) {
    c0 ??= process.cpuUsage();
    n++;
    q.push(m);
    if (!pumping) void pump();
  }
}

async function nativeServer(ep: string): Promise<void> {
  const s = new NativeSocket({ type: 'router' });
  let c0: NodeJS.CpuUsage | undefined;
  let n = 0;
  s.onMessage = (m) => {
    c0 ??= process.cpuUsage();
    n++;
    s.send(m);
  };
  await s.bind(ep);
  process.stdout.write('READY\n');
  process.on('SIGTERM', () => {
    process.stdout.write(report(c0, n));
    process.exit(0);
  });
}

async function zmqjsClients(ep: string, nc: number, depth: number, secs: number, bytes: number) {
  const socks = Array.from({ length: nc }, () => {
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(ep);
    return d;
  });
  const payload = Buffer.alloc(bytes);
  await new Promise((r) => setTimeout(r, 300));
  const c0 = process.cpuUsage();
  const end = Date.now() + secs * 1000;
  let n = 0;
  await Promise.all(
    socks.map(async (d) => {
      for (let i = 0; i < depth; i++) await d.send(payload);
      for await (const _ of d) {
        n++;
        if (Date.now() > end) break;
        await d.send(payload);
      }
    }),
  );
  process.stdout.write(report(c0, n));
  process.exit(0);
}

async function nativeClients(ep: string, nc: number, depth: number, secs: number, bytes: number) {
  const payload = Buffer.alloc(bytes);
  let n = 0;
  let end = 0;
  let live = nc;
  const socks: NativeSocket[] = [];
  const finished = new Promise<void>((resolve) => {
    for (let i = 0; i < nc; i++) {
      const d = new NativeSocket({ type: 'dealer' });
      d.onMessage = () => {
        n++;
        if (Date.now() > end) {
          d.close();
          if (--live === 0) resolve();
          return;
        }
        d.send([payload]);
      };
      d.connect(ep);
      socks.push(d);
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const c0 = process.cpuUsage();
  end = Date.now() + secs * 1000;
  for (const d of socks) for (let i = 0; i < depth; i++) d.send([payload]);
  await finished;
  process.stdout.write(report(c0, n));
  process.exit(0);
}

const mode = process.argv[2];
if (mode === 'server') {
  const [transport, ep] = process.argv.slice(3);
  await (transport === 'native' ? nativeServer(ep) : zmqjsServer(ep));
} else if (mode === 'client') {
  const [transport, ep, ncS, depthS, secsS, bytesS] = process.argv.slice(3);
  const args = [ep, Number(ncS), Number(depthS), Number(secsS), Number(bytesS)] as const;
  await (transport === 'native' ? nativeClients(...args) : zmqjsClients(...args));
} else {
  const depth = Number(process.argv[2] ?? 4);
  const secs = Number(process.argv[3] ?? 4);
  const bytes = Number(process.argv[4] ?? 60);
  const transports = (process.env.TRANSPORTS ?? 'zeromq.js,native').split(',') as Transport[];
  if (transports.includes('native') && !nativeTransport.available) {
    console.error(`native transport not built: ${nativeTransport.why}`);
    process.exit(1);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'rpcfloor-'));
  const run = (args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', import.meta.filename, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  const out = (p: ReturnType<typeof run>) =>
    new Promise<string>((r) => {
      let b = '';
      p.stdout!.on('data', (d) => (b += d));
      p.on('exit', () => r(b));
    });
  const results = new Map<Transport, { rate: number; server: number; clients: number }>();
  for (const transport of transports) {
    const ep = `ipc://${join(tmp, `echo-${transport}.sock`)}`;
    const srv = run(['server', transport, ep]);
    await new Promise<void>((r) => srv.stdout!.once('data', () => r()));
    const srvOut = out(srv);
    const kids = [0, 1].map(() =>
      run(['client', transport, ep, '32', String(depth), String(secs), String(bytes)]),
    );
    const res = (await Promise.all(kids.map(out))).map((s) => JSON.parse(s.trim()));
    srv.kill('SIGTERM');
    const s = JSON.parse((await srvOut).trim().split('\n').pop()!);
    const n = res.reduce((a, r) => a + r.n, 0);
    const r = {
      rate: n / secs,
      server: s.cpuUs / s.n,
      clients: res.reduce((a, r) => a + r.cpuUs, 0) / n,
    };
    results.set(transport, r);
    console.log(
      `raw ${transport} echo, 64 DEALERs x ${depth} in flight, ${bytes}-byte frames: ${Math.round(r.rate)} round trips/s; CPU per round trip: server ${r.server.toFixed(1)} µs, clients ${r.clients.toFixed(1)} µs`,
    );
  }
  const a = results.get('native');
  const b = results.get('zeromq.js');
  if (a && b) {
    console.log(
      `native / zeromq.js: round trips/s x${(a.rate / b.rate).toFixed(2)}; CPU per round trip (server + clients) x${((b.server + b.clients) / (a.server + a.clients)).toFixed(2)} less`,
    );
  }
  rmSync(tmp, { recursive: true, force: true });
}
