/**
 * The zmtp transport (src/transport/zmtp.ts): ZMTP 3.1 spoken by this process over Unix
 * sockets. The outside truth is libzmq: zeromq.js's sockets and our native addon (both libzmq
 * 4.3) on the other end, either way round. Raw byte streams check what libzmq cannot be made to
 * send: cut frames, garbage, oversized and reserved-bit frames, PING, a silent peer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as zmq from 'zeromq';
import { NativeSocket, nativeTransport } from '../src/transport/native.ts';
import { ZmtpSocket } from '../src/transport/zmtp.ts';
import {
  FLAG_COMMAND,
  FLAG_MORE,
  FrameDecoder,
  frameHeader,
  greeting,
  ready,
} from '../src/transport/zmtp-codec.ts';
import { makeTempDir, removeDir, until } from './helpers.ts';

function frame(body: Buffer | string, more = false, cmd = false): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([frameHeader((more ? FLAG_MORE : 0) | (cmd ? FLAG_COMMAND : 0), b.length), b]);
}

/** A raw connection: what it receives, and whether the other side closed it. */
function raw(path: string): { sock: Socket; got: () => Buffer; closed: Promise<void> } {
  const sock = createConnection(path);
  const chunks: Buffer[] = [];
  sock.on('data', (c) => chunks.push(c));
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  return { sock, got: () => Buffer.concat(chunks), closed };
}

const echo = (s: ZmtpSocket) => {
  s.onMessage = (f) => s.send(f);
};

describe('zmtp transport', () => {
  const dir = makeTempDir();
  after(() => removeDir(dir));
  let n = 0;
  const path = () => join(dir, `z${n++}`);

  it('decodes frames cut at every byte, long and short, with MORE and COMMAND flags', () => {
    const long = randomBytes(300);
    const stream = Buffer.concat([
      frame('a', true),
      frame(long, true),
      frame(Buffer.alloc(0)),
      frame('\x04PING\x00\x00', false, true),
    ]);
    const expect = [
      [FLAG_MORE, 'a'],
      [FLAG_MORE | 0x02, long.toString('hex')],
      [0, ''],
      [FLAG_COMMAND, Buffer.from('\x04PING\x00\x00').toString('hex')],
    ];
    for (let cut1 = 0; cut1 <= stream.length; cut1++) {
      for (const cut2 of [cut1, Math.min(stream.length, cut1 + 1), Math.min(stream.length, cut1 + 7)]) {
        const got: [number, string][] = [];
        const d = new FrameDecoder(1000, (flags, body) =>
          got.push([flags, flags & FLAG_COMMAND || body.length > 1 ? body.toString('hex') : body.toString()]),
        );
        d.push(stream.subarray(0, cut1));
        d.push(stream.subarray(cut1, cut2));
        d.push(stream.subarray(cut2));
        assert.deepEqual(got, expect, `cut at ${cut1}, ${cut2}`);
        assert.equal(d.partial, false);
      }
    }
    // a size over the limit is refused from the header alone, before any body arrives
    const d = new FrameDecoder(1000, () => assert.fail('no frame'));
    const h = Buffer.from([0x02, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]);
    assert.throws(() => d.push(h), { name: 'ZmtpError', code: 'oversized' });
    assert.throws(() => new FrameDecoder(1000, () => {}).push(Buffer.from([0x02, 1, 0, 0, 0, 0, 0, 0, 1])), {
      code: 'oversized',
    });
    assert.throws(() => new FrameDecoder(1000, () => {}).push(Buffer.from([0x08, 0])), { code: 'frame' });
  });

  it('serves zeromq.js DEALERs: multipart, empty and 3 MB frames, many in order', async () => {
    const server = new ZmtpSocket({ type: 'router' });
    server.onMessage = (f) => server.send([f[0], ...f.slice(1).reverse()]);
    const ep = await server.bind(`ipc://${path()}`);
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(ep);
    const big = randomBytes(3 << 20);
    await d.send([Buffer.from('a'), Buffer.alloc(0), big]);
    const reply = await d.receive();
    assert.equal(reply.length, 3);
    assert.ok(reply[0].equals(big));
    assert.equal(reply[1].length, 0);
    assert.equal(reply[2].toString(), 'a');
    for (let i = 0; i < 2000; i++) await d.send(String(i));
    for (let i = 0; i < 2000; i++) assert.equal((await d.receive())[0].toString(), String(i));
    d.close();
    server.close();
  });

  it('talks to a zeromq.js ROUTER, a native ROUTER and itself as a DEALER', async () => {
    const big = randomBytes(1 << 20);
    // zeromq.js ROUTER: it sees our routing id and multipart messages
    const r = new zmq.Router({ linger: 0 });
    const ep = `ipc://${path()}`;
    await r.bind(ep);
    const c = new ZmtpSocket({ type: 'dealer' });
    const got: Buffer[][] = [];
    c.onMessage = (f) => got.push(f);
    c.connect(ep);
    c.send([Buffer.from('x'), 'text frame', new Uint8Array([1, 2, 3])]);
    const [rid, f1, f2, f3] = await r.receive();
    assert.equal(f1.toString(), 'x');
    assert.equal(f2.toString(), 'text frame');
    assert.deepEqual([...f3], [1, 2, 3]);
    await r.send([rid, big, 'end']);
    await until(() => got.length === 1);
    assert.ok(got[0][0].equals(big));
    assert.equal(got[0][1].toString(), 'end');
    c.close();
    r.close();

    const servers: {
      name: string;
      s: {
        onMessage: (f: Buffer[]) => void;
        send: (f: Buffer[]) => unknown;
        bind(u: string): Promise<string>;
        close(): void;
      };
    }[] = [{ name: 'zmtp', s: new ZmtpSocket({ type: 'router' }) }];
    if (nativeTransport.available) servers.push({ name: 'native', s: new NativeSocket({ type: 'router' }) });
    for (const { name, s } of servers) {
      s.onMessage = (f) => s.send(f);
      const url = await s.bind(`ipc://${path()}`);
      const d = new ZmtpSocket({ type: 'dealer' });
      const back: number[] = [];
      d.onMessage = (f) => back.push(f[0].readUInt32LE(0));
      d.connect(url);
      // sent before the handshake: kept, then delivered in order (at most 500 to libzmq's
      // ROUTER, which drops replies to a peer whose pipe is at its high-water mark)
      const total = name === 'native' ? 500 : 5000;
      for (let i = 0; i < total; i++) {
        const b = Buffer.alloc(4 + (i % 400));
        b.writeUInt32LE(i, 0);
        d.send([b]);
      }
      await until(() => back.length === total);
      assert.deepEqual(
        back,
        Array.from({ length: total }, (_, i) => i),
        name,
      );
      d.close();
      s.close();
    }
  });

  it('keeps what a DEALER sends until a server comes, and reconnects when it goes', async () => {
    const url = `ipc://${path()}`;
    const d = new ZmtpSocket({ type: 'dealer' });
    const back: string[] = [];
    d.onMessage = (f) => back.push(f[0].toString());
    d.connect(url);
    d.send(['early']);
    assert.equal(d.queued, 1);
    await new Promise((r) => setTimeout(r, 250));
    let server = new ZmtpSocket({ type: 'router' });
    echo(server);
    await server.bind(url);
    await until(() => back.length === 1);
    assert.deepEqual(back, ['early']);
    assert.equal(d.queued, 0);
    server.close();
    // a new server on the same path (the old socket file is replaced, as libzmq does)
    server = new ZmtpSocket({ type: 'router' });
    echo(server);
    await server.bind(url);
    await new Promise((r) => setTimeout(r, 250));
    d.send(['again']);
    await until(() => back.length === 2);
    assert.equal(back[1], 'again');
    d.close();
    server.close();
  });

  it('drops peers that break the protocol, refuses allocation for oversized frames, and keeps serving', async () => {
    const server = new ZmtpSocket({ type: 'router', maxMessageSize: 1 << 16 });
    echo(server);
    const disconnects: string[] = [];
    server.onEvent = (e) => disconnects.push(e.kind);
    const p = path();
    await server.bind(`ipc://${p}`);
    const hello = Buffer.concat([greeting(), ready({ 'Socket-Type': 'DEALER' })]);
    const badMechanism = greeting();
    badMechanism.write('CURVE', 12, 'latin1');
    const zmtp2 = greeting();
    zmtp2[10] = 2;
    const pub = Buffer.concat([greeting(), ready({ 'Socket-Type': 'PUB' })]);
    const huge = Buffer.concat([hello, Buffer.from([0x02, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff])]);
    const overLimit = Buffer.concat([hello, frameHeader(0, (1 << 16) + 1)]);
    const reserved = Buffer.concat([hello, Buffer.from([0x40, 1, 0x41])]);
    const beforeReady = Buffer.concat([greeting(), frame('hi')]);
    const cases: [string, Buffer][] = [
      ['HTTP', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
      ['CURVE mechanism', badMechanism],
      ['ZMTP 2', zmtp2],
      ['PUB socket', pub],
      ['2^63-byte frame', huge],
      ['frame over maxMessageSize', overLimit],
      ['reserved flag bits', reserved],
      ['message before READY', beforeReady],
    ];
    for (const [what, bytes] of cases) {
      const c = raw(p);
      c.sock.write(bytes);
      await c.closed;
      // our greeting and READY came first, as ZMTP has both sides speak at once
      assert.ok(c.got().subarray(0, 10).equals(greeting().subarray(0, 10)), what);
    }
    assert.equal(server.protocolErrors, cases.length);
    // the two dropped after their handshake count as disconnects
    assert.deepEqual(disconnects, ['disconnect', 'disconnect', 'disconnect']);
    // a good client still gets answers
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(`ipc://${p}`);
    await d.send('still here');
    assert.equal((await d.receive())[0].toString(), 'still here');
    d.close();
    server.close();
  });

  it('answers PING with PONG, ends a silent peer at the handshake timeout, drops sends to gone peers', async () => {
    const server = new ZmtpSocket({ type: 'router' }, { handshakeMs: 200 });
    echo(server);
    const p = path();
    await server.bind(`ipc://${p}`);
    const c = raw(p);
    c.sock.write(Buffer.concat([greeting(), ready({ 'Socket-Type': 'DEALER', Identity: 'peer-1' })]));
    c.sock.write(
      frame(Buffer.concat([Buffer.from('\x04PING'), Buffer.from([0, 10]), Buffer.from('ctx')]), false, true),
    );
    c.sock.write(Buffer.concat([frame('one', true), frame('two')]));
    const pong = frame(Buffer.from('\x04PONGctx'), false, true);
    const echoed = Buffer.concat([frame('one', true), frame('two')]);
    await until(() => c.got().includes(echoed));
    assert.ok(c.got().includes(pong));
    // the PONG came before the echo, in the order asked
    assert.ok(c.got().indexOf(pong) < c.got().indexOf(echoed));
    // the peer's Identity is its routing id
    const seen: string[] = [];
    server.onMessage = (f) => seen.push(f[0].toString());
    c.sock.write(frame('x'));
    await until(() => seen.length === 1);
    assert.equal(seen[0], 'peer-1');
    // silent: greeting only, never READY
    const silent = raw(p);
    silent.sock.write(greeting());
    await silent.closed;
    assert.equal(server.protocolErrors, 1);
    // to a routing id nobody has: dropped, as a ZeroMQ ROUTER does
    server.send([Buffer.from('nobody'), 'x']);
    assert.equal(server.droppedSends, 1);
    c.sock.destroy();
    server.close();
  });
});
