/**
 * The floor under bench/query.ts: raw zeromq.js DEALER -> ROUTER echo of 60-byte frames, no
 * schema, no handlers, one send in flight per socket (as the bus's send queue does), 64 DEALERs
 * in 2 client processes. Prints round trips per second and CPU µs per round trip in the server
 * and client processes: what any RPC over zeromq.js costs here, before the bus adds anything.
 * zeromq.js copies frames of up to 128 bytes and sends/receives larger ones zero-copy (a napi
 * reference released through a uv_async hop on send, an external Buffer with a finalizer on
 * receive): `bytes` above 128 measures that path.
 * Run: node --import tsx bench/rpc-floor.ts [depth=4] [seconds=4] [bytes=60]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';

const mode = process.argv[2];
if (mode === 'server') {
  const s = new zmq.Router({ linger: 0 });
  await s.bind(process.argv[3]);
  process.stdout.write('READY\n');
  let c0: NodeJS.CpuUsage | undefined;
  let n = 0;
  process.on('SIGTERM', () => {
    const cu = process.cpuUsage(c0);
    process.stdout.write(`${JSON.stringify({ n, cpuUs: cu.user + cu.system })}\n`);
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
} else if (mode === 'client') {
  const [ep, ncS, depthS, secsS, bytesS] = process.argv.slice(3);
  const socks = Array.from({ length: Number(ncS) }, () => {
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(ep);
    return d;
  });
  const payload = Buffer.alloc(Number(bytesS));
  await new Promise((r) => setTimeout(r, 300));
  const c0 = process.cpuUsage();
  const end = Date.now() + Number(secsS) * 1000;
  let n = 0;
  await Promise.all(
    socks.map(async (d) => {
      for (let i = 0; i < Number(depthS); i++) await d.send(payload);
      for await (const _ of d) {
        n++;
        if (Date.now() > end) break;
        await d.send(payload);
      }
    }),
  );
  const cu = process.cpuUsage(c0);
  process.stdout.write(`${JSON.stringify({ n, cpuUs: cu.user + cu.system })}\n`);
  process.exit(0);
} else {
  const depth = Number(process.argv[2] ?? 4);
  const secs = Number(process.argv[3] ?? 4);
  const bytes = Number(process.argv[4] ?? 60);
  const tmp = mkdtempSync(join(tmpdir(), 'rpcfloor-'));
  const ep = `ipc://${join(tmp, 'echo.sock')}`;
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
  const srv = run(['server', ep]);
  await new Promise<void>((r) => srv.stdout!.once('data', () => r()));
  const srvOut = out(srv);
  const kids = [0, 1].map(() => run(['client', ep, '32', String(depth), String(secs), String(bytes)]));
  const res = (await Promise.all(kids.map(out))).map((s) => JSON.parse(s.trim()));
  srv.kill('SIGTERM');
  const s = JSON.parse((await srvOut).trim().split('\n').pop()!);
  const n = res.reduce((a, r) => a + r.n, 0);
  console.log(
    `raw zeromq.js echo, 64 DEALERs x ${depth} in flight, ${bytes}-byte frames: ${Math.round(n / secs)} round trips/s; CPU per round trip: server ${(s.cpuUs / s.n).toFixed(1)} µs, clients ${(res.reduce((a, r) => a + r.cpuUs, 0) / n).toFixed(1)} µs`,
  );
  rmSync(tmp, { recursive: true, force: true });
}
