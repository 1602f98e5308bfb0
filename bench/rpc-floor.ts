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
 * `zmtp`: the bus's own ZMTP 3.1 over Node's Unix sockets (src/transport/zmtp.ts), no libzmq.
 * `net` (not a bus transport, not ZeroMQ): the same echo as length-prefixed frames over Node's
 * own Unix socket, written and read on the main thread, i.e. what a request costs without
 * libzmq's hand-over to its I/O thread (the next step docs/performance.md names).
 * Run: node --import tsx bench/rpc-floor.ts [depth=4] [seconds=4] [bytes=60]
 *      TRANSPORTS=zeromq.js,native,zmtp,net (the default) or any subset.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { NativeSocket, nativeTransport } from '../packages/bus/src/transport/native.ts';
import type { MessageSocket, SocketType } from '../packages/bus/src/transport/socket.ts';
import { ZmtpSocket } from '../packages/bus/src/transport/zmtp.ts';

type Transport = 'zeromq.js' | 'native' | 'zmtp' | 'net';

/** The bus's own MessageSocket transports: the native addon over libzmq, and zmtp (no libzmq). */
function socketOf(transport: Transport, type: SocketType): MessageSocket {
  return transport === 'zmtp' ? new ZmtpSocket({ type }) : new NativeSocket({ type });
}

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

async function socketServer(transport: Transport, ep: string): Promise<void> {
  const s = socketOf(transport, 'router');
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

async function socketClients(
  transport: Transport,
  ep: string,
  nc: number,
  depth: number,
  secs: number,
  bytes: number,
) {
  const payload = Buffer.alloc(bytes);
  let n = 0;
  let end = 0;
  let live = nc;
  const socks: MessageSocket[] = [];
  const finished = new Promise<void>((resolve) => {
    for (let i = 0; i < nc; i++) {
      const d = socketOf(transport, 'dealer');
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

/** Length-prefixed frames (u32 LE) out of a byte stream. */
function framer(on: (f: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | null = null;
  return (chunk) => {
    const b = rest ? Buffer.concat([rest, chunk]) : chunk;
    let at = 0;
    while (b.length - at >= 4) {
      const n = b.readUInt32LE(at);
      if (b.length - at - 4 < n) break;
      on(b.subarray(at + 4, at + 4 + n));
      at += 4 + n;
    }
    rest = at < b.length ? b.subarray(at) : null;
  };
}

function prefixed(f: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + f.length);
  out.writeUInt32LE(f.length, 0);
  f.copy(out, 4);
  return out;
}

async function netServer(path: string): Promise<void> {
  let c0: NodeJS.CpuUsage | undefined;
  let n = 0;
  const srv = net.createServer((s) => {
    // Replies of one turn leave in one write, as the bus's batches do.
    let out: Buffer[] = [];
    s.on(
      'data',
      framer((f) => {
        c0 ??= process.cpuUsage();
        n++;
        out.push(prefixed(f));
        if (out.length === 1)
          setImmediate(() => {
            s.write(out.length === 1 ? out[0] : Buffer.concat(out));
            out = [];
          });
      }),
    );
    s.on('error', () => {});
  });
  await new Promise<void>((r) => srv.listen(path, r));
  process.stdout.write('READY\n');
  process.on('SIGTERM', () => {
    process.stdout.write(report(c0, n));
    process.exit(0);
  });
}

async function netClients(path: string, nc: number, depth: number, secs: number, bytes: number) {
  const frame = prefixed(Buffer.alloc(bytes));
  let n = 0;
  let end = 0;
  let live = nc;
  const socks: net.Socket[] = [];
  const finished = new Promise<void>((resolve) => {
    for (let i = 0; i < nc; i++) {
      const s = net.connect(path);
      let stopped = false;
      s.on(
        'data',
        framer(() => {
          if (stopped) return;
          n++;
          if (Date.now() > end) {
            stopped = true;
            s.destroy();
            if (--live === 0) resolve();
            return;
          }
          s.write(frame);
        }),
      );
      socks.push(s);
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  const c0 = process.cpuUsage();
  end = Date.now() + secs * 1000;
  for (const s of socks) for (let i = 0; i < depth; i++) s.write(frame);
  await finished;
  process.stdout.write(report(c0, n));
  process.exit(0);
}

const mode = process.argv[2];
if (mode === 'server') {
  const [transport, ep] = process.argv.slice(3);
  if (transport === 'net') await netServer(ep);
  else await (transport === 'zeromq.js' ? zmqjsServer(ep) : socketServer(transport as Transport, ep));
} else if (mode === 'client') {
  const [transport, ep, ncS, depthS, secsS, bytesS] = process.argv.slice(3);
  const args = [ep, Number(ncS), Number(depthS), Number(secsS), Number(bytesS)] as const;
  if (transport === 'net') await netClients(...args);
  else if (transport === 'zeromq.js') await zmqjsClients(...args);
  else await socketClients(transport as Transport, ...args);
} else {
  const depth = Number(process.argv[2] ?? 4);
  const secs = Number(process.argv[3] ?? 4);
  const bytes = Number(process.argv[4] ?? 60);
  const transports = (process.env.TRANSPORTS ?? 'zeromq.js,native,zmtp,net').split(',') as Transport[];
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
    const sock = join(tmp, `echo-${transport}.sock`);
    const ep = transport === 'net' ? sock : `ipc://${sock}`;
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
      `raw ${transport} echo, 64 ${transport === 'net' ? 'sockets' : 'DEALERs'} x ${depth} in flight, ${bytes}-byte frames: ${Math.round(r.rate)} round trips/s; CPU per round trip: server ${r.server.toFixed(1)} µs, clients ${r.clients.toFixed(1)} µs`,
    );
  }
  const a = results.get('native');
  const b = results.get('zeromq.js');
  const c = results.get('net');
  const z = results.get('zmtp');
  if (a && z) {
    console.log(
      `zmtp / native: round trips/s x${(z.rate / a.rate).toFixed(2)}; CPU per round trip (server + clients) x${((a.server + a.clients) / (z.server + z.clients)).toFixed(2)} less`,
    );
  }
  if (z && c) {
    console.log(
      `net (length-prefixed, no ZMTP) / zmtp: round trips/s x${(c.rate / z.rate).toFixed(2)}; CPU per round trip x${((z.server + z.clients) / (c.server + c.clients)).toFixed(2)} less`,
    );
  }
  if (a && c) {
    console.log(
      `net (no ZeroMQ) / native: round trips/s x${(c.rate / a.rate).toFixed(2)}; CPU per round trip (server + clients) x${((a.server + a.clients) / (c.server + c.clients)).toFixed(2)} less`,
    );
  }
  if (a && b) {
    console.log(
      `native / zeromq.js: round trips/s x${(a.rate / b.rate).toFixed(2)}; CPU per round trip (server + clients) x${((b.server + b.clients) / (a.server + a.clients)).toFixed(2)} less`,
    );
  }
  rmSync(tmp, { recursive: true, force: true });
}
