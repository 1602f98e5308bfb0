import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BusError,
  createLogger,
  curveKeyHex,
  generateKeyPair,
  type Handlers,
  loadOrCreateKeyPair,
  Publisher,
  parseCurveKey,
  RpcClient,
  RpcServer,
  readAllowList,
  Subscriber,
  z85Decode,
  z85Encode,
} from '../src/index.ts';
import { makeTempDir, removeDir, sleep, testSchema } from './helpers.ts';

type T = typeof testSchema.table;
const handlers: Handlers<T> = {
  echo: (b) => b,
  sleep: () => ({ cancelled: false }),
  fail: () => ({}),
  sum: ({ xs }) => ({ total: xs.reduce((a, b) => a + b, 0n) }),
};

describe('curve keys', () => {
  it('encodes Z85 as RFC 32 says', () => {
    // The test vector of ZeroMQ RFC 32.
    const raw = Uint8Array.of(0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b);
    assert.equal(z85Encode(raw), 'HelloWorld');
    assert.deepEqual(z85Decode('HelloWorld'), raw);
  });

  it('writes a server keypair with mode 0600 and reads it back; refuses a readable one', () => {
    const dir = makeTempDir();
    const path = join(dir, 'curve', 'testd.key');
    const kp = loadOrCreateKeyPair(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(readFileSync(`${path}.pub`, 'utf8').trim(), kp.publicKey);
    assert.deepEqual(loadOrCreateKeyPair(path), kp);
    chmodSync(path, 0o644);
    assert.throws(() => loadOrCreateKeyPair(path), /must be 0600/);
    removeDir(dir);
  });

  it('accepts keys as Z85 or hex, and reads allow-lists', () => {
    const kp = generateKeyPair();
    const hex = curveKeyHex(kp.publicKey);
    assert.equal(hex.length, 64);
    assert.equal(parseCurveKey(hex), kp.publicKey);
    assert.throws(
      () => parseCurveKey('abc'),
      (e: BusError) => e.kind === 'bad-key',
    );
    const dir = makeTempDir();
    const file = join(dir, 'clients');
    writeFileSync(file, `# clients\n${kp.publicKey} alice\n\n${hex}   # same key as hex\n`);
    assert.deepEqual([...readAllowList(file)], [[kp.publicKey, kp.publicKey.slice(0, 8)]]);
    writeFileSync(file, 'nonsense\n');
    assert.throws(() => readAllowList(file), /clients:1/);
    removeDir(dir);
  });
});

describe('curve over tcp', () => {
  it('serves an allowed key, refuses and logs an unknown one', async () => {
    const serverKeys = generateKeyPair();
    const alice = generateKeyPair();
    const mallory = generateKeyPair();
    const lines: string[] = [];
    const log = createLogger({ component: 'testd', sink: (l) => lines.push(l) });
    const server = await RpcServer.start({
      schema: testSchema,
      handlers,
      endpoints: ['tcp://127.0.0.1:*'],
      curve: { keyPair: serverKeys, allow: new Map([[alice.publicKey, 'alice']]) },
      log,
    });
    const endpoint = server.endpoints[0];
    assert.match(endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);

    const c = await RpcClient.connect({
      schema: testSchema,
      endpoint,
      curve: { serverKey: serverKeys.publicKey, keyPair: alice },
    });
    assert.deepEqual(await c.request('sum', { xs: [2n, 3n] }), { total: 5n });
    c.close();

    await assert.rejects(
      RpcClient.connect({
        schema: testSchema,
        endpoint,
        curve: { serverKey: serverKeys.publicKey, keyPair: mallory },
      }),
      (e: BusError) => e instanceof BusError && e.kind === 'refused',
    );
    const refused = lines.map((l) => JSON.parse(l)).find((r) => r.msg === 'curve client refused');
    assert.equal(refused.level, 'warn');
    assert.equal(refused.component, 'testd.zap');
    assert.equal(refused.key, mallory.publicKey);
    assert.ok(
      lines.some((l) => JSON.parse(l).msg === 'curve client allowed' && JSON.parse(l).client === 'alice'),
    );

    // Wrong server key: the handshake never completes.
    await assert.rejects(
      RpcClient.connect({
        schema: testSchema,
        endpoint,
        curve: { serverKey: generateKeyPair().publicKey, keyPair: alice },
        connectTimeoutMs: 300,
      }),
      (e: BusError) => e.kind === 'timeout',
    );
    await server.close();
  });

  it('refuses to start a tcp endpoint without Curve keys, and a tcp client without them', async () => {
    await assert.rejects(
      RpcServer.start({ schema: testSchema, handlers, endpoints: ['tcp://127.0.0.1:*'] }),
      (e: BusError) => e.kind === 'insecure-endpoint' && /require CurveZMQ/.test(e.message),
    );
    await assert.rejects(
      Publisher.start({ schema: testSchema, endpoints: ['tcp://127.0.0.1:*'] }),
      (e: BusError) => e.kind === 'insecure-endpoint',
    );
    await assert.rejects(
      RpcClient.connect({ schema: testSchema, endpoint: 'tcp://127.0.0.1:1' }),
      (e: BusError) => e.kind === 'insecure-endpoint',
    );
    assert.throws(
      () => new Subscriber({ schema: testSchema, endpoint: 'tcp://127.0.0.1:1' }),
      (e: BusError) => e.kind === 'insecure-endpoint',
    );
  });

  it('serves plain ipc and Curve tcp from one server', async () => {
    const dir = makeTempDir();
    const serverKeys = generateKeyPair();
    const alice = generateKeyPair();
    const server = await RpcServer.start({
      schema: testSchema,
      handlers,
      endpoints: [`ipc://${dir}/s.sock`, 'tcp://127.0.0.1:*'],
      curve: { keyPair: serverKeys, allow: [alice.publicKey] },
    });
    const [ipc, tcp] = server.endpoints;
    const a = await RpcClient.connect({ schema: testSchema, endpoint: ipc });
    const b = await RpcClient.connect({
      schema: testSchema,
      endpoint: tcp,
      curve: { serverKey: serverKeys.publicKey, keyPair: alice },
    });
    const [ra, rb] = await Promise.all([a.request('sum', { xs: [1n] }), b.request('sum', { xs: [2n] })]);
    assert.deepEqual([ra.total, rb.total], [1n, 2n]);
    a.close();
    b.close();
    await server.close();
    removeDir(dir);
  });

  it('carries notifications over Curve to allowed subscribers only', async () => {
    const serverKeys = generateKeyPair();
    const alice = generateKeyPair();
    const mallory = generateKeyPair();
    const pub = await Publisher.start({
      schema: testSchema,
      endpoints: ['tcp://127.0.0.1:*'],
      curve: { keyPair: serverKeys, allow: [alice.publicKey] },
    });
    const ep = pub.endpoints[0];
    const good = new Subscriber({
      schema: testSchema,
      endpoint: ep,
      curve: { serverKey: serverKeys.publicKey, keyPair: alice },
    });
    const bad = new Subscriber({
      schema: testSchema,
      endpoint: ep,
      curve: { serverKey: serverKeys.publicKey, keyPair: mallory },
    });
    const g = good[Symbol.asyncIterator]();
    const b = bad[Symbol.asyncIterator]();
    const gNext = g.next();
    let badGot = false;
    void b.next().then((r) => {
      if (!r.done) badGot = true;
    });
    let r: unknown;
    while (!r) {
      pub.publish('block', 'block', { height: 7, hash: new Uint8Array(32) });
      r = await Promise.race([gNext, sleep(10).then(() => undefined)]);
    }
    // The refused subscriber saw nothing while the allowed one got its first notification.
    for (let i = 0; i < 10; i++) {
      pub.publish('block', 'block', { height: 8, hash: new Uint8Array(32) });
      await sleep(5);
    }
    assert.equal(badGot, false);
    good.close();
    bad.close();
    pub.close();
  });
});
