import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as zmq from 'zeromq';
import { type Gap, type Notification, Publisher, Subscriber } from '../src/index.ts';
import { makeTempDir, removeDir, sleep, testSchema } from './helpers.ts';

type T = typeof testSchema.table;
const hash = (n: number) => new Uint8Array(32).fill(n & 0xff);

/** Publishes on `topic` until the subscriber has seen one (ZeroMQ's slow-joiner window). */
async function warmUp(
  pub: Publisher<T>,
  it: AsyncIterator<Notification<T>>,
  topic: string,
): Promise<Notification<T>> {
  const next = it.next();
  for (;;) {
    pub.publish(topic, 'block', { height: 0, hash: hash(0) });
    const r = await Promise.race([next, sleep(10).then(() => undefined)]);
    if (r) return r.value;
  }
}

describe('pub/sub', () => {
  it('numbers notifications per topic and filters by topic prefix', async () => {
    const dir = makeTempDir();
    const pub = await Publisher.start({ schema: testSchema, endpoints: [`ipc://${dir}/p.sock`] });
    const gaps: Gap[] = [];
    const sub = new Subscriber({
      schema: testSchema,
      endpoint: pub.endpoints[0],
      topics: ['block/'],
      onGap: (g) => gaps.push(g),
    });
    const it = sub[Symbol.asyncIterator]();
    const first = await warmUp(pub, it, 'block/main');
    const base = first.seq;
    // Interleave two topics we follow and one we do not.
    for (let i = 1; i <= 20; i++) {
      pub.publish('block/main', 'block', { height: i, hash: hash(i) });
      pub.publish('block/test', 'block', { height: 1000 + i, hash: hash(i) });
      pub.publish('other', 'block', { height: 9, hash: hash(9) });
    }
    const seen: Notification<T>[] = [];
    while (seen.length < 40) {
      const r = await it.next();
      if (r.value.topic === 'block/main' && r.value.body.height === 0) continue; // warm-up leftovers
      seen.push(r.value);
    }
    const main = seen.filter((n) => n.topic === 'block/main');
    const test = seen.filter((n) => n.topic === 'block/test');
    assert.deepEqual(
      main.map((n) => n.body.height),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      main.map((n) => n.seq),
      Array.from({ length: 20 }, (_, i) => pub.sequence('block/main') - 19n + BigInt(i)),
    );
    assert.deepEqual(
      test.map((n) => n.seq),
      Array.from({ length: 20 }, (_, i) => BigInt(i + 1)),
    );
    assert.ok(base >= 1n);
    assert.equal(main[0].epoch, pub.epoch);
    assert.equal(main[0].name, 'block');
    assert.deepEqual(main[0].body.hash, hash(1));
    assert.deepEqual(gaps, []);
    assert.equal(sub.stats.malformed, 0);
    sub.close();
    pub.close();
    removeDir(dir);
  });

  it('reports gaps when ZeroMQ drops notifications, and every one is either received or counted missed', async () => {
    const dir = makeTempDir();
    const pub = await Publisher.start({
      schema: testSchema,
      endpoints: [`ipc://${dir}/p.sock`],
      highWaterMark: 10,
    });
    const gaps: Gap[] = [];
    const sub = new Subscriber({
      schema: testSchema,
      endpoint: pub.endpoints[0],
      onGap: (g) => gaps.push(g),
    });
    const it = sub[Symbol.asyncIterator]();
    await warmUp(pub, it, 'g');
    const firstSeq = pub.sequence('g') + 1n;
    // A burst far above both high-water marks while the subscriber is not reading.
    for (let i = 0; i < 20_000; i++) pub.publish('g', 'block', { height: i, hash: hash(i) });
    await pub.flush();
    // Then a trickle of sentinels until the last one arrives.
    let last: bigint | undefined;
    let received = 0n;
    let got: Notification<T> | undefined;
    while (!got || got.seq !== last) {
      const next = it.next();
      for (;;) {
        const r = await Promise.race([next, sleep(20).then(() => undefined)]);
        if (r) {
          const n: Notification<T> = r.value;
          if (n.seq >= firstSeq) received++;
          got = n;
          break;
        }
        last = pub.publish('g', 'block', { height: 0xffffffff, hash: hash(1) });
      }
    }
    assert.ok(gaps.length > 0, 'a burst above the high-water marks drops something');
    assert.ok(
      gaps.every((g) => g.reason === 'gap' && g.topic === 'g' && g.missed === g.received - g.expected),
    );
    // Conservation: everything published since the burst began was received or reported missed.
    let missed = 0n;
    for (const g of gaps)
      if (g.received > firstSeq) missed += g.received - (g.expected > firstSeq ? g.expected : firstSeq);
    assert.equal(received + missed, last! - firstSeq + 1n);
    sub.close();
    pub.close();
    removeDir(dir);
  });

  /** Rounds over every topic until each has been seen, or 20 rounds (then some were lost). */
  async function topicsSeen(pub: Publisher<T>, it: AsyncIterator<Notification<T>>, topics: string[]) {
    const seen = new Set<string>();
    // One pending next() at a time: one left behind by a timeout would swallow a notification.
    let next = it.next();
    for (let round = 0; round < 20 && seen.size < topics.length; round++) {
      for (const [i, topic] of topics.entries()) pub.publish(topic, 'block', { height: i, hash: hash(i) });
      pub.publish('other', 'block', { height: 0, hash: hash(0) });
      await pub.flush();
      for (;;) {
        const r = await Promise.race([next, sleep(100).then(() => undefined)]);
        if (!r) break;
        next = it.next();
        assert.ok(r.value.topic.startsWith('w/'), 'only subscribed topics arrive');
        seen.add(r.value.topic);
        if (seen.size === topics.length) break;
      }
    }
    return seen.size;
  }

  for (const when of ['before the publisher is up', 'after it is up'] as const) {
    it(`keeps all of 5,000 topic subscriptions made ${when}, and after a publisher restart`, async () => {
      // libzmq queues subscriptions on the SUB socket's outgoing pipe and silently drops those
      // beyond its send high-water mark (1,000 by default), also when it re-sends them all after
      // a reconnect: with more topics than that, some never reached the publisher.
      const dir = makeTempDir();
      const ep = `ipc://${dir}/p.sock`;
      const topics = Array.from({ length: 5_000 }, (_, i) => `w/${i}/`);
      let pub: Publisher<T> | undefined;
      if (when === 'after it is up') pub = await Publisher.start({ schema: testSchema, endpoints: [ep] });
      const sub = new Subscriber({ schema: testSchema, endpoint: ep, topics });
      pub ??= await Publisher.start({ schema: testSchema, endpoints: [ep] });
      const it = sub[Symbol.asyncIterator]();
      assert.equal(await topicsSeen(pub, it, topics), topics.length, 'every subscription is active');
      pub.close();
      pub = await Publisher.start({ schema: testSchema, endpoints: [ep] });
      assert.equal(await topicsSeen(pub, it, topics), topics.length, 'every one again after the reconnect');
      sub.close();
      pub.close();
      removeDir(dir);
    });
  }

  it('reports a publisher restart', async () => {
    const dir = makeTempDir();
    const ep = `ipc://${dir}/p.sock`;
    const gaps: Gap[] = [];
    let pub = await Publisher.start({ schema: testSchema, endpoints: [ep] });
    const sub = new Subscriber({ schema: testSchema, endpoint: ep, onGap: (g) => gaps.push(g) });
    const it = sub[Symbol.asyncIterator]();
    await warmUp(pub, it, 'b');
    const epoch1 = pub.epoch;
    pub.close();
    pub = await Publisher.start({ schema: testSchema, endpoints: [ep] });
    assert.notEqual(pub.epoch, epoch1);
    // warmUp published every 10 ms until one arrived, so notifications of the first run may
    // still be queued: read past them to the first of the new run.
    let n = await warmUp(pub, it, 'b');
    for (let i = 0; n.epoch === epoch1 && i < 10_000; i++) n = await warmUp(pub, it, 'b');
    assert.equal(n.epoch, pub.epoch);
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].reason, 'restart');
    assert.equal(sub.stats.restarts, 1);
    sub.close();
    pub.close();
    removeDir(dir);
  });

  it('drops malformed notifications and keeps going', async () => {
    const dir = makeTempDir();
    const ep = `ipc://${dir}/raw.sock`;
    const raw = new zmq.Publisher({ linger: 0 });
    await raw.bind(ep);
    const bad: Error[] = [];
    const sub = new Subscriber({ schema: testSchema, endpoint: ep, onMalformed: (e) => bad.push(e) });
    const it = sub[Symbol.asyncIterator]();
    const good = Buffer.alloc(14 + 36);
    good.writeBigUInt64LE(1n, 0);
    good.writeUInt32LE(7, 8);
    good.writeUInt16LE(0x0200, 12);
    // Warm up with good notifications until the subscription is live.
    const first = it.next();
    let r: IteratorResult<Notification<T>> | undefined;
    while (!r) {
      await raw.send(['t', good]);
      r = await Promise.race([first, sleep(10).then(() => undefined)]);
    }
    const before = sub.stats.malformed;
    await raw.send(['t', Buffer.from([1, 2, 3])]); // short
    await raw.send(['t', Buffer.concat([good.subarray(0, 12), Buffer.from([0x99, 0x09])])]); // unknown type
    await raw.send(['t', Buffer.concat([good, Buffer.from([0])])]); // trailing byte
    await raw.send(['t']); // one frame
    await raw.send([Buffer.from([0xff]), good]); // topic not UTF-8
    good.writeBigUInt64LE(2n, 0);
    await raw.send(['t', good]);
    // Order is kept on one connection: the good one after the bad ones proves each was dropped.
    let n = await it.next();
    while (n.value.seq !== 2n) n = await it.next();
    assert.equal(n.value.body.height, 0);
    assert.equal(sub.stats.malformed - before, 5);
    assert.equal(bad.length, sub.stats.malformed);
    sub.close();
    raw.close();
    removeDir(dir);
  });
});
