import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BpClient } from '@lnpbp/bp-client';
import { BusError, generateKeyPair } from '@lnpbp/bus';
import * as zmq from 'zeromq';
import { type BpdProcess, bpdAtTip, bpdDatadir, bpdReady, removeDir, startBpd } from './api-support.ts';
import { type BcoinNode, freePort, startBcoin } from './harness/bcoin.ts';
import { TestWallet } from './harness/wallet.ts';

/** The real bpd API under hostile input, and its Curve (tcp) endpoints. */
describe('bpd API: garbage flood', () => {
  let a: BcoinNode;
  let bpd: BpdProcess;

  before(async () => {
    a = await startBcoin();
    await a.mine(20, TestWallet.randomAddress());
    bpd = await startBpd(a.p2pUrl);
    await bpdReady(bpd);
  });

  after(async () => {
    await bpd?.stop();
    if (bpd) removeDir(bpd.datadir);
    await a?.stop();
  });

  test('random frames, unknown ids, bad bodies and huge frames from 32 clients; valid queries still answer', async () => {
    const c = await bpd.client();
    await bpdAtTip(c, await a.bestHash());
    const endpoint = `ipc://${join(bpd.datadir, 'bpd.rpc.sock')}`;
    const dealers = Array.from({ length: 32 }, () => {
      const d = new zmq.Dealer({ linger: 0 });
      d.connect(endpoint);
      return d;
    });
    const frame = (id: number, type: number, body: Uint8Array) => {
      const f = Buffer.alloc(6 + body.length);
      f.writeUInt32LE(id, 0);
      f.writeUInt16LE(type, 4);
      f.set(body, 6);
      return f;
    };
    let sent = 0;
    const sends: Promise<void>[] = [];
    for (const [k, d] of dealers.entries()) {
      sends.push(
        (async () => {
          for (let i = 0; i < 60; i++) {
            const r = (k * 60 + i) % 6;
            if (r === 0) await d.send(randomBytes(1 + (i % 40)));
            else if (r === 1)
              await d.send(frame(i + 1, 0x7000 + i, randomBytes(i))); // unknown ids
            else if (r === 2)
              await d.send(frame(i + 1, 0x0104, randomBytes(i % 50))); // outspend, bad body
            else if (r === 3)
              await d.send(frame(i + 1, 0x0106, randomBytes(200))); // history, garbage
            else if (r === 4)
              await d.send([randomBytes(8), randomBytes(8)]); // two frames
            else await d.send(frame(i + 1, 0x0103, randomBytes(i % 2 ? 33 : 41))); // tx, wrong sizes
            sent++;
          }
          if (k < 2) {
            await d.send(frame(9999, 0x010e, randomBytes(2 << 20))); // above maxFrameSize: error reply
            sent++;
          }
        })(),
      );
    }
    // Above the hard limit ZeroMQ drops the connection (and any replies still queued for it):
    // a client of its own sends that one.
    const huge = new zmq.Dealer({ linger: 0 });
    huge.connect(endpoint);
    sends.push(huge.send(frame(9998, 0x010e, randomBytes(6 << 20))));
    await Promise.all(sends);
    // Every refused request that ZeroMQ delivered gets an error reply.
    let replies = 0;
    await Promise.all(
      dealers.map(async (d, k) => {
        const want = 60 + (k < 2 ? 1 : 0);
        d.receiveTimeout = 10_000;
        for (let i = 0; i < want; i++) {
          const [f] = await d.receive();
          assert.equal(f.readUInt16LE(4), 0xffff, 'error reply type');
          replies++;
        }
      }),
    );
    assert.equal(replies, sent);
    for (const d of dealers) d.close();
    huge.close();
    const st = await c.busStatus();
    assert.ok(st.rejected >= BigInt(sent), `${st.rejected} rejects`);
    // Valid queries after the flood answer correctly.
    const h = await c.header(10);
    assert.equal(h.hash, await a.blockHash(10));
    const info = await c.getinfo();
    assert.equal(info.tip!.height, 20);
    const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => c.header(i % 21)));
    for (const [i, o] of outs.entries()) assert.equal(o.height, i % 21);
    c.close();
  });
});

describe('bpd API: Curve on tcp', () => {
  let a: BcoinNode;
  const dirs: string[] = [];

  before(async () => {
    a = await startBcoin();
    await a.mine(3, TestWallet.randomAddress());
  });

  after(async () => {
    for (const d of dirs) removeDir(d);
    await a?.stop();
  });

  test('an allowed client key is served, an unknown one refused and logged', async () => {
    const alice = generateKeyPair();
    const mallory = generateKeyPair();
    const [rpc, pub] = [await freePort(), await freePort()];
    const datadir = bpdDatadir();
    dirs.push(datadir);
    const bpd = await startBpd(
      a.p2pUrl,
      [
        '--rpc-listen',
        `tcp://127.0.0.1:${rpc}`,
        '--pub-listen',
        `tcp://127.0.0.1:${pub}`,
        '--curve-allow',
        alice.publicKey,
      ],
      datadir,
    );
    try {
      await bpdReady(bpd);
      const serverKey = readFileSync(join(datadir, 'curve', 'bpd.key.pub'), 'utf8').trim();
      const opts = { endpoint: `tcp://127.0.0.1:${rpc}`, pubEndpoint: `tcp://127.0.0.1:${pub}` };
      const ok = await BpClient.connect({ ...opts, curve: { serverKey, keyPair: alice } });
      await bpdAtTip(ok, await a.bestHash());
      const seen: string[] = [];
      const s = await ok.subscribe(['block'], { onNotification: (n) => seen.push(n.name) });
      await s.close();
      ok.close();
      await assert.rejects(
        BpClient.connect({ ...opts, curve: { serverKey, keyPair: mallory }, timeoutMs: 3000 }),
        (e: Error) => e instanceof BusError && (e.kind === 'refused' || e.kind === 'timeout'),
      );
      await assert.rejects(
        BpClient.connect(opts),
        (e: Error) => e instanceof BusError && e.kind === 'insecure-endpoint',
      );
      assert.match(bpd.log(), /"msg":"curve client refused"[^\n]*"key":"/);
      assert.ok(bpd.log().includes(mallory.publicKey));
    } finally {
      assert.equal(await bpd.stop(), 0);
    }
  });

  test('a tcp endpoint without client keys refuses to start', async () => {
    const datadir = bpdDatadir();
    dirs.push(datadir);
    const bpd = await startBpd(a.p2pUrl, ['--rpc-listen', `tcp://127.0.0.1:${await freePort()}`], datadir);
    assert.equal(await bpd.exited, 1);
    assert.match(bpd.log(), /tcp endpoint needs at least one client key/);
  });
});
