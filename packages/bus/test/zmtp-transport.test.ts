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
import { makeTempDir, removeDir, sleep, until } from './helpers.ts';

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

  it('a DEALER reads into one buffer, yet every frame it delivered stays as it came', async () => {
    const r = new zmq.Router({ linger: 0 });
    const p = `ipc://${path()}`;
    await r.bind(p);
    const d = new ZmtpSocket({ type: 'dealer' });
    const kept: Buffer[] = [];
    d.onMessage = (f) => kept.push(...f);
    d.connect(p);
    d.send(['hi']);
    const [id] = await r.receive();
    // Many small replies (several per read) and a few bigger than the read buffer.
    const sizes = Array.from({ length: 300 }, (_, i) => (i % 50 === 49 ? 100_000 + i : 10 + (i % 200)));
    for (const [i, n] of sizes.entries()) await r.send([id, Buffer.alloc(n, i & 0xff)]);
    await until(() => kept.length === sizes.length);
    for (const [i, n] of sizes.entries()) {
      assert.equal(kept[i].length, n);
      assert.ok(
        kept[i].every((b) => b === (i & 0xff)),
        `frame ${i} changed after delivery`,
      );
    }
    d.close();
    r.close();
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

  /** Publishes `topic` until `got` says it arrived (the subscription travels after the connect). */
  async function untilSubscribed(pub: ZmtpSocket | zmq.Publisher, topic: string, got: () => boolean) {
    while (!got()) {
      if (pub instanceof ZmtpSocket) pub.send([topic, 'warm']);
      else await pub.send([topic, 'warm']);
      await sleep(10);
    }
  }

  it('PUB to zeromq.js SUBs: by topic prefix, SUBSCRIBE and CANCEL as libzmq sends them, counted', async () => {
    const pub = new ZmtpSocket({ type: 'pub' });
    const p = `ipc://${path()}`;
    await pub.bind(p);
    const a = new zmq.Subscriber({ linger: 0 });
    const b = new zmq.Subscriber({ linger: 0 });
    a.subscribe('block/');
    b.subscribe('tx');
    b.subscribe('tx');
    a.connect(p);
    b.connect(p);
    const gotA: string[] = [];
    const gotB: string[] = [];
    const read = async (s: zmq.Subscriber, into: string[]) => {
      try {
        for await (const [t, body] of s) into.push(`${t}:${body}`);
      } catch {}
    };
    void read(a, gotA);
    void read(b, gotB);
    await untilSubscribed(pub, 'block/w', () => gotA.length > 0);
    await untilSubscribed(pub, 'tx/w', () => gotB.length > 0);
    gotA.length = 0;
    gotB.length = 0;
    for (const t of ['block/1', 'tx/1', 'blocks', 'other', 'tx', 'block/2']) pub.send([t, 'x']);
    await until(() => gotA.length === 2 && gotB.length === 2);
    assert.deepEqual(gotA, ['block/1:x', 'block/2:x']);
    assert.deepEqual(gotB, ['tx/1:x', 'tx:x']);
    // Subscribed twice: one cancel leaves it on, the second takes it off.
    b.unsubscribe('tx');
    await sleep(50);
    pub.send(['tx/2', 'x']);
    await until(() => gotB.length === 3);
    b.unsubscribe('tx');
    b.subscribe('end');
    await untilSubscribed(pub, 'end', () => gotB.at(-1) === 'end:warm');
    pub.send(['tx/3', 'x']);
    pub.send(['end', 'x']);
    await until(() => gotB.at(-1) === 'end:x');
    assert.ok(!gotB.includes('tx/3:x'), 'nothing after the last cancel');
    a.close();
    b.close();
    pub.close();
  });

  it('SUB from a zeromq.js PUB and from itself; a SUB that does not read costs the PUB only its high-water mark', async () => {
    // zeromq.js PUB -> zmtp SUB (the SUB sends the older 0x01|prefix subscription messages).
    const lz = new zmq.Publisher({ linger: 0 });
    const p1 = `ipc://${path()}`;
    await lz.bind(p1);
    const s1 = new ZmtpSocket({ type: 'sub' });
    const got1: string[] = [];
    s1.onMessage = (f) => got1.push(f.map((x) => x.toString()).join(':'));
    s1.subscribe('a');
    s1.connect(p1);
    await untilSubscribed(lz, 'a0', () => got1.length > 0);
    got1.length = 0;
    for (const t of ['a1', 'b1', 'ab']) await lz.send([t, 'y', 'z']);
    await until(() => got1.length === 2);
    assert.deepEqual(got1, ['a1:y:z', 'ab:y:z']);
    s1.close();
    lz.close();

    // zmtp PUB -> zmtp SUB, with a paused reader: the PUB holds at most its mark for it.
    const pub = new ZmtpSocket({ type: 'pub', sendHighWaterMark: 50 });
    const p2 = `ipc://${path()}`;
    await pub.bind(p2);
    const s2 = new ZmtpSocket({ type: 'sub' });
    const got2: Buffer[][] = [];
    s2.onMessage = (f) => got2.push(f);
    s2.subscribe('');
    s2.connect(p2);
    await untilSubscribed(pub, 'w', () => got2.length > 0);
    s2.pauseReading(true);
    await sleep(20);
    const body = Buffer.alloc(10_000, 1);
    const before = got2.length;
    for (let i = 0; i < 5_000; i++) pub.send(['t', body]);
    await pub.flush();
    await sleep(50);
    assert.ok(pub.droppedSends > 0, 'a subscriber that does not read misses messages');
    // What it did get is all in order, and no more than the kernel's buffer plus the mark.
    s2.pauseReading(false);
    await sleep(200);
    const received = got2.length - before;
    assert.equal(received + pub.droppedSends, 5_000);
    assert.ok(received < 5_000 && received >= 50, `received ${received}`);
    s2.close();
    pub.close();
  });

  it('PUB drops a subscriber that sends anything but subscriptions, or too many or too big; SUBSCRIBE commands and messages both count', async () => {
    const pub = new ZmtpSocket({ type: 'pub', maxMessageSize: 4096 });
    const p = path();
    await pub.bind(`ipc://${p}`);
    const hello = Buffer.concat([greeting(), ready({ 'Socket-Type': 'SUB' })]);
    // ZMTP 3.1 command form and the older message form.
    const c1 = raw(p);
    c1.sock.write(Buffer.concat([hello, frame(Buffer.from('\x09SUBSCRIBEcmd'), false, true)]));
    const c2 = raw(p);
    c2.sock.write(Buffer.concat([hello, frame(Buffer.from('\x01msg'))]));
    const want1 = Buffer.concat([frame('cmd/1', true), frame('x')]);
    const want2 = Buffer.concat([frame('msg/1', true), frame('x')]);
    await until(() => {
      pub.send(['cmd/1', 'x']);
      pub.send(['msg/1', 'x']);
      return c1.got().includes(want1) && c2.got().includes(want2);
    });
    assert.ok(!c1.got().includes(want2) && !c2.got().includes(want1));
    // A data message that is not a subscription: the connection is dropped.
    const c3 = raw(p);
    c3.sock.write(Buffer.concat([hello, frame('\x05nope')]));
    await c3.closed;
    // A DEALER is no peer of a PUB.
    const c4 = raw(p);
    c4.sock.write(Buffer.concat([greeting(), ready({ 'Socket-Type': 'DEALER' })]));
    await c4.closed;
    // A subscription bigger than the PUB reads (refused from its header), and one prefix past
    // the 100,000 a subscriber may hold.
    const c5 = raw(p);
    c5.sock.write(Buffer.concat([hello, frameHeader(0, 5000)]));
    await c5.closed;
    const c6 = raw(p);
    const many = Array.from({ length: 100_001 }, (_, i) => frame(Buffer.from(`\x01p${i}`)));
    c6.sock.write(Buffer.concat([hello, ...many]));
    await c6.closed;
    assert.equal(pub.protocolErrors, 4);
    // 100,000 is still fine, and those subscribers were served all along.
    const c7 = raw(p);
    c7.sock.write(Buffer.concat([hello, ...many.slice(0, 100_000)]));
    await until(() => {
      pub.send(['p99999', 'x']);
      return c7.got().includes(Buffer.concat([frame('p99999', true), frame('x')]));
    });
    assert.equal(pub.protocolErrors, 4);
    c7.sock.destroy();
    c1.sock.destroy();
    c2.sock.destroy();
    pub.close();
  });
});
