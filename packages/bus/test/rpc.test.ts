import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as zmq from 'zeromq';
import {
  BUS_PROTOCOL_VERSION,
  BusError,
  busMessages,
  defineMessages,
  ErrorCode,
  type Handlers,
  RpcClient,
  RpcError,
  RpcServer,
  t,
} from '../src/index.ts';
import { makeTempDir, removeDir, sleep, testSchema, until } from './helpers.ts';

type T = typeof testSchema.table;

/** A batch frame written by hand from the wire format (docs/bus.md): header, then length-prefixed entries. */
function rawBatch(parts: Buffer[]): Buffer {
  const n = parts.reduce((x, p) => x + 4 + p.length, 6);
  const f = Buffer.alloc(n);
  f.writeUInt16LE(0x0004, 4);
  let at = 6;
  for (const p of parts) {
    f.writeUInt32LE(p.length, at);
    p.copy(f, at + 4);
    at += 4 + p.length;
  }
  return f;
}
const APP_ERROR = 0x101;

const handlers: Handlers<T> = {
  async echo(body) {
    // Spread replies out of order: later requests often finish first.
    await sleep(body.n % 5);
    return body;
  },
  async sleep({ ms }, ctx) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return { cancelled: ctx.signal.aborted };
  },
  fail({ app }) {
    if (app) throw new RpcError(APP_ERROR, 'not today');
    throw new Error('boom');
  },
  sum: ({ xs }) => ({ total: xs.reduce((a, b) => a + b, 0n) }),
};

function frame(requestId: number, typeId: number, body: Uint8Array = new Uint8Array()): Buffer {
  const f = Buffer.alloc(6 + body.length);
  f.writeUInt32LE(requestId, 0);
  f.writeUInt16LE(typeId, 4);
  f.set(body, 6);
  return f;
}

function parseError(f: Buffer): { requestId: number; typeId: number; code: number; message: string } {
  const requestId = f.readUInt32LE(0);
  const typeId = f.readUInt16LE(4);
  const code = f.readUInt16LE(6);
  return { requestId, typeId, code, message: f.subarray(9).toString() };
}

describe('rpc over ipc', () => {
  let dir: string;
  let server: RpcServer<T>;
  let endpoint: string;
  const MAX = 64 * 1024;

  before(async () => {
    dir = makeTempDir();
    server = await RpcServer.start({
      schema: testSchema,
      handlers,
      endpoints: [`ipc://${dir}/testd.rpc.sock`],
      maxFrameSize: MAX,
      status: () => ({ tip: 123, network: 'regtest' }),
    });
    endpoint = server.endpoints[0];
  });
  after(async () => {
    await server.close();
    removeDir(dir);
  });

  it('round-trips a request with the handshake done', async () => {
    const c = await RpcClient.connect({ schema: testSchema, endpoint });
    assert.deepEqual(c.server, {
      bus: BUS_PROTOCOL_VERSION,
      service: 'testd',
      version: 3,
      types: [0x0100, 0x0101, 0x0102, 0x0103, 0x0200],
    });
    const r = await c.request('echo', { n: 42, data: Uint8Array.of(1, 2, 3), note: 'hi' });
    assert.deepEqual(r, { n: 42, data: Uint8Array.of(1, 2, 3), note: 'hi' });
    assert.deepEqual(await c.request('sum', { xs: [1n, 2n, (1n << 63n) - 4n] }), { total: (1n << 63n) - 1n });
    c.close();
  });

  it('answers the built-in status request', async () => {
    const c = await RpcClient.connect({ schema: testSchema, endpoint });
    const s = await c.status();
    assert.equal(s.service, 'testd');
    assert.equal(s.version, 3);
    assert.equal(s.pid, process.pid);
    assert.deepEqual(s.detail, [
      { key: 'tip', value: '123' },
      { key: 'network', value: 'regtest' },
    ]);
    assert.ok(s.received >= 1n);
    c.close();
  });

  it('matches 1,000 concurrent requests from 5 clients', async () => {
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => RpcClient.connect({ schema: testSchema, endpoint })),
    );
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      const c = clients[i % clients.length];
      const data = randomBytes(i % 97);
      jobs.push(
        c.request('echo', { n: i, data }).then((r) => {
          assert.equal(r.n, i);
          assert.deepEqual(r.data, new Uint8Array(data));
        }),
      );
    }
    await Promise.all(jobs);
    for (const c of clients) {
      assert.equal(c.stats.replies, 201); // 200 + hello
      assert.equal(c.stats.stray, 0);
      assert.equal(c.inFlight, 0);
      c.close();
    }
  });

  it('answers error replies: application code, handler exception', async () => {
    const c = await RpcClient.connect({ schema: testSchema, endpoint });
    await assert.rejects(c.request('fail', { app: true }), (e: RpcError) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, APP_ERROR);
      assert.equal(e.message, 'not today');
      return true;
    });
    await assert.rejects(c.request('fail', { app: false }), (e: RpcError) => {
      assert.equal(e.code, ErrorCode.internal);
      assert.equal(e.message, 'fail: internal error'); // the exception text stays in the server log
      return true;
    });
    assert.equal(server.stats.errors['internal'], 1);
    assert.equal(server.stats.errors['app-257'], 1);
    c.close();
  });

  it('times out on the client and tells the server to stop', async () => {
    const c = await RpcClient.connect({ schema: testSchema, endpoint });
    const before = server.stats.cancelled;
    await assert.rejects(c.request('sleep', { ms: 60_000 }, { timeoutMs: 50 }), (e: BusError) => {
      assert.ok(e instanceof BusError);
      assert.equal(e.kind, 'timeout');
      return true;
    });
    assert.equal(c.stats.timeouts, 1);
    // The server aborted the handler: its reply is suppressed, its in-flight count is back.
    await until(() => server.stats.cancelled === before + 1 && server.stats.inFlight === 0);
    // The client still works.
    assert.deepEqual(await c.request('sum', { xs: [5n] }), { total: 5n });
    c.close();
  });

  it('cancels through an AbortSignal', async () => {
    const c = await RpcClient.connect({ schema: testSchema, endpoint });
    const ac = new AbortController();
    const p = c.request('sleep', { ms: 60_000 }, { signal: ac.signal });
    const other = c.request('sleep', { ms: 1 });
    ac.abort();
    await assert.rejects(p, (e: BusError) => e instanceof BusError && e.kind === 'cancelled');
    assert.deepEqual(await other, { cancelled: false });
    // Already aborted: refused without sending.
    await assert.rejects(
      c.request('sleep', { ms: 1 }, { signal: ac.signal }),
      (e: BusError) => e.kind === 'cancelled',
    );
    assert.equal(c.stats.cancelled, 1);
    c.close();
    // Closing the client rejects whatever is still pending.
    const c2 = await RpcClient.connect({ schema: testSchema, endpoint });
    const pending = c2.request('sleep', { ms: 60_000 });
    c2.close();
    await assert.rejects(pending, (e: BusError) => e.kind === 'closed');
  });

  it('keeps serving through a garbage flood from many clients, counting rejections', async () => {
    const before = structuredClone(server.stats.rejected);
    const senders = Array.from({ length: 8 }, () => {
      const d = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
      d.connect(endpoint);
      return d;
    });
    const echoOk = testSchema.encode('echo', { n: 1, data: new Uint8Array(10) });
    let expectedReplies = 0;
    const counts = { malformed: 0, unknownType: 0, oversized: 0 };
    const rnd = (n: number) => Math.floor(Math.random() * n);
    await Promise.all(
      senders.map(async (d, k) => {
        for (let i = 0; i < 150; i++) {
          const kind = i % 6;
          if (kind === 0) {
            // Random frames: anything shorter than the header is malformed.
            await d.send(randomBytes(rnd(6)));
            counts.malformed++;
          } else if (kind === 1) {
            await d.send(frame(i, 0x7000 + rnd(0x800), randomBytes(rnd(40))));
            counts.unknownType++;
          } else if (kind === 2) {
            // A valid header with the body cut short or extended.
            const body =
              i % 12 === 2
                ? echoOk.subarray(0, rnd(echoOk.length))
                : Buffer.concat([echoOk, randomBytes(1 + rnd(5))]);
            await d.send(frame(i, 0x0100, body));
            counts.malformed++;
          } else if (kind === 3) {
            // Random bytes as an echo body: almost always malformed (count it from the replies).
            await d.send(frame(i, 0x0100, randomBytes(20 + rnd(50))));
          } else if (kind === 4) {
            await d.send([frame(i, 0x0100, echoOk), Buffer.from('extra')]);
            counts.malformed++;
          } else if (i % 30 === 5 && k < 3) {
            // Above maxFrameSize: an error reply.
            await d.send(frame(i, 0x0100, new Uint8Array(MAX + 1)));
            counts.oversized++;
          } else {
            // A reply to id 0 from the server is a reply to something we never sent: fine.
            await d.send(frame(i, 0x8100, echoOk)); // a reply type sent as a request
            counts.unknownType++;
          }
          expectedReplies++;
        }
      }),
    );
    // Every garbage message got exactly one error reply.
    let replies = 0;
    const codes = new Map<number, number>();
    await Promise.all(
      senders.map(async (d) => {
        for (let i = 0; i < 150; i++) {
          const [f] = await d.receive();
          replies++;
          const e = parseError(f);
          if (e.typeId === 0xffff) codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        }
      }),
    );
    assert.equal(replies, expectedReplies);
    assert.ok((codes.get(ErrorCode.malformed) ?? 0) >= counts.malformed);
    assert.equal(codes.get(ErrorCode.unknownType), counts.unknownType);
    assert.equal(codes.get(ErrorCode.oversized), counts.oversized);
    // Frames far above the limit are cut off by ZeroMQ (connection dropped, no reply).
    const big = new zmq.Dealer({ linger: 0 });
    big.connect(endpoint);
    await big.send(frame(1, 0x0100, new Uint8Array(MAX * 5)));
    await until(() => server.stats.disconnects > 0);
    big.close();
    for (const d of senders) d.close();

    const r = server.stats.rejected;
    assert.ok(r.malformed - before.malformed >= counts.malformed);
    assert.equal(r.unknownType - before.unknownType, counts.unknownType);
    assert.equal(r.oversized - before.oversized, counts.oversized);

    // Still serving, correctly.
    const c = await RpcClient.connect({ schema: testSchema, endpoint });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => c.request('sum', { xs: [BigInt(i), 1n] })),
    );
    assert.deepEqual(
      answers.map((a) => a.total),
      answers.map((_, i) => BigInt(i) + 1n),
    );
    const s = await c.status();
    assert.ok(s.rejected >= BigInt(counts.malformed + counts.unknownType + counts.oversized));
    assert.ok(s.rejects.some((x) => x.reason === 'oversized' && x.count >= BigInt(counts.oversized)));
    c.close();
  });

  it('joins requests of one turn into batch frames; answers equal those of a client that does not batch', async () => {
    const batched = await RpcClient.connect({ schema: testSchema, endpoint });
    const single = await RpcClient.connect({ schema: testSchema, endpoint, batch: false });
    assert.deepEqual(batched.server?.types, [0x0100, 0x0101, 0x0102, 0x0103, 0x0200]);
    const before = server.stats.batches;
    const ask = (c: RpcClient<T>) =>
      Promise.all([
        ...Array.from({ length: 300 }, (_, i) => c.request('sum', { xs: [BigInt(i), 7n] })),
        ...Array.from({ length: 20 }, (_, i) =>
          c.request('echo', { n: i, data: randomBytes(i * 50), note: `${i}` }),
        ),
        c.request('fail', { app: true }).catch((e: RpcError) => e.code),
      ]);
    const a = await ask(batched);
    const b = await ask(single);
    assert.equal(a.length, 321);
    assert.deepEqual(a.slice(0, 300), b.slice(0, 300));
    assert.deepEqual(
      a.slice(0, 300).map((x) => (x as { total: bigint }).total),
      Array.from({ length: 300 }, (_, i) => BigInt(i) + 7n),
    );
    assert.equal(a[320], APP_ERROR);
    assert.equal(b[320], APP_ERROR);
    assert.ok(batched.stats.batches >= 1, 'the batching client sent batches');
    assert.equal(single.stats.batches, 0);
    assert.ok(server.stats.batches - before >= batched.stats.batches);
    batched.close();
    single.close();
  });

  it('answers the messages of a raw batch in a batch reply; bad batches are refused and counted', async () => {
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(endpoint);
    const sum = (id: number, x: bigint) => frame(id, 0x0103, testSchema.encode('sum', { xs: [x] }));
    const unbatch = (f: Buffer) => {
      assert.equal(f.readUInt16LE(4), 0x0004);
      const out: Buffer[] = [];
      for (let at = 6; at < f.length; ) {
        const len = f.readUInt32LE(at);
        out.push(f.subarray(at + 4, at + 4 + len));
        at += 4 + len;
      }
      return out;
    };
    const malformed0 = server.stats.rejected.malformed;
    const unknown0 = server.stats.rejected.unknownType;
    // Two good requests, a short frame, an unknown type and a nested batch: five replies, in order.
    await d.send(
      rawBatch(
        [sum(1, 5n), frame(2, 0x0103), sum(3, 9n), frame(4, 0x7777), frame(5, 0x0004)].map((f, i) =>
          i === 1 ? f.subarray(0, 3) : f,
        ),
      ),
    );
    const replies = unbatch((await d.receive())[0]);
    assert.deepEqual(
      replies.map((r) => r.readUInt32LE(0)),
      [1, 0, 3, 4, 5],
    );
    assert.deepEqual(testSchema.decode(0x8103, replies[0].subarray(6)).body, { total: 5n });
    assert.deepEqual(testSchema.decode(0x8103, replies[2].subarray(6)).body, { total: 9n });
    assert.equal(parseError(replies[1]).code, ErrorCode.malformed);
    assert.equal(parseError(replies[3]).code, ErrorCode.unknownType);
    assert.equal(parseError(replies[4]).code, ErrorCode.malformed);
    // A batch whose length prefix runs past its end, and an empty one: one error each, id 0.
    const cut = rawBatch([sum(6, 1n)]);
    cut.writeUInt32LE(1000, 6);
    for (const f of [cut, rawBatch([])]) {
      await d.send(f);
      const e = parseError((await d.receive())[0]);
      assert.equal(e.requestId, 0);
      assert.equal(e.code, ErrorCode.malformed);
    }
    assert.equal(server.stats.rejected.malformed - malformed0, 4);
    assert.equal(server.stats.rejected.unknownType - unknown0, 1);
    d.close();
  });

  it('splits the replies of a big batch into frames of at most 256 KiB, in order', async () => {
    // A server of its own: answers synchronously (so every reply goes in the batch's frames) and
    // takes a request batch of ~300 KB.
    const big = await RpcServer.start({
      schema: testSchema,
      handlers: { ...handlers, echo: (b) => b },
      endpoints: [`ipc://${dir}/big.rpc.sock`],
    });
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(big.endpoints[0]);
    // 300 echoes of 1,000 bytes: ~305 KB of replies, more than one reply frame holds.
    const parts = Array.from({ length: 300 }, (_, i) =>
      frame(i + 1, 0x0100, testSchema.encode('echo', { n: i, data: new Uint8Array(1000).fill(i & 0xff) })),
    );
    await d.send(rawBatch(parts));
    const replies: Buffer[] = [];
    let frames = 0;
    while (replies.length < 300) {
      const [r] = await d.receive();
      frames++;
      assert.equal(r.readUInt16LE(4), 0x0004, 'a batch frame');
      assert.ok(r.length <= 256 << 10, `reply frame of ${r.length} bytes`);
      for (let p = 6; p < r.length; ) {
        const len = r.readUInt32LE(p);
        replies.push(r.subarray(p + 4, p + 4 + len));
        p += 4 + len;
      }
    }
    assert.equal(frames, 2);
    replies.forEach((r, i) => {
      assert.equal(r.readUInt32LE(0), i + 1);
      const body = testSchema.decode(r.readUInt16LE(4), r.subarray(6)).body;
      assert.equal(body.n, i);
      assert.deepEqual(body.data, new Uint8Array(1000).fill(i & 0xff));
    });
    d.close();
    await big.close();
  });

  it('answers a reply that does not fit its schema with an internal error, and the rest of its batch normally', async () => {
    const odd = await RpcServer.start({
      schema: testSchema,
      // total -1 is not a u64: encoding the reply fails after the header was written.
      handlers: { ...handlers, sum: ({ xs }) => ({ total: xs[0] === 0n ? -1n : xs[0] }) },
      endpoints: [`ipc://${dir}/odd.rpc.sock`],
    });
    const c = await RpcClient.connect({ schema: testSchema, endpoint: odd.endpoints[0] });
    // Made in one turn: they travel in one batch, and are answered in one.
    const answers = await Promise.allSettled([
      c.request('sum', { xs: [5n] }),
      c.request('sum', { xs: [0n] }),
      c.request('sum', { xs: [7n] }),
    ]);
    assert.equal(c.stats.batches, 1);
    assert.deepEqual(answers[0], { status: 'fulfilled', value: { total: 5n } });
    assert.equal(answers[1].status, 'rejected');
    const e = (answers[1] as PromiseRejectedResult).reason as RpcError;
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, ErrorCode.internal);
    assert.deepEqual(answers[2], { status: 'fulfilled', value: { total: 7n } });
    assert.equal(odd.stats.errors.internal, 1);
    c.close();
    await odd.close();
  });

  it('refuses a handshake from another bus protocol or schema', async () => {
    // Raw hello with bus protocol 99.
    const d = new zmq.Dealer({ linger: 0 });
    d.connect(endpoint);
    const hello = busMessages.encode('hello', { bus: 99, service: 'testd', version: 3, types: [] });
    await d.send(frame(9, 0x0001, hello));
    const [f] = await d.receive();
    const e = parseError(f);
    assert.equal(e.requestId, 9);
    assert.equal(e.typeId, 0xffff);
    assert.equal(e.code, ErrorCode.versionMismatch);
    d.close();
    // A client built for schema v4 of the service, or another service.
    const v4 = defineMessages(
      { echo: { id: 0x0100, fields: {}, reply: {} } },
      { service: 'testd', version: 4 },
    );
    await assert.rejects(RpcClient.connect({ schema: v4, endpoint }), (err: BusError) => {
      assert.equal(err.kind, 'version-mismatch');
      assert.match(err.message, /is testd v3, expected testd v4/);
      return true;
    });
    const other = defineMessages(
      { x: { id: 0x0100, fields: { a: t.u8 }, reply: {} } },
      { service: 'otherd', version: 3 },
    );
    await assert.rejects(
      RpcClient.connect({ schema: other, endpoint }),
      (err: BusError) => err.kind === 'version-mismatch',
    );
  });
});

describe('rpc lifecycle', () => {
  it('times out the handshake when nobody listens', async () => {
    const dir = makeTempDir();
    await assert.rejects(
      RpcClient.connect({ schema: testSchema, endpoint: `ipc://${dir}/nobody.sock`, connectTimeoutMs: 100 }),
      (e: BusError) => e.kind === 'timeout' && /no answer from/.test(e.message),
    );
    removeDir(dir);
  });

  it('refuses to start without a handler for every request', async () => {
    const dir = makeTempDir();
    const { sum: _sum, ...partial } = handlers;
    await assert.rejects(
      RpcServer.start({
        schema: testSchema,
        handlers: partial as Handlers<T>,
        endpoints: [`ipc://${dir}/x.sock`],
      }),
      /no handler for request sum/,
    );
    removeDir(dir);
  });

  it('drains in-flight requests on close and refuses new ones', async () => {
    const dir = makeTempDir();
    const server = await RpcServer.start({
      schema: testSchema,
      handlers,
      endpoints: [`ipc://${dir}/x.sock`],
    });
    const c = await RpcClient.connect({ schema: testSchema, endpoint: server.endpoints[0] });
    const slow = c.request('sleep', { ms: 100 });
    await until(() => server.stats.inFlight === 1);
    const closing = server.close();
    assert.deepEqual(await slow, { cancelled: false });
    await closing;
    c.close();
    removeDir(dir);
  });
});
