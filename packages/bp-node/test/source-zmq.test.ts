import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fromHex, toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { Publisher } from 'zeromq';
import { RpcSource } from '../src/source/rpc/source.ts';
import { parseSequence } from '../src/source/rpc/zmq.ts';
import type { SourceError } from '../src/source/types.ts';
import { type BcoinNode, freePort, startBcoin } from './harness/bcoin.ts';
import { waitFor } from './harness/wait.ts';
import { TestWallet } from './harness/wallet.ts';

/**
 * The RPC source's ZMQ path. bcoin has no ZMQ and Core cannot be installed here, so a test
 * publisher sends Core's documented format (doc/zmq.md): three frames, the topic, the body and
 * the topic's 4-byte little-endian sequence number; `sequence` bodies are
 * <32-byte hash in display order><C|D|A|R>[<8-byte LE mempool sequence>]. Bodies are real
 * blocks and txs from bcoin.
 */
describe('RPC source ZMQ path (test publisher in Core format)', () => {
  let a: BcoinNode;
  let wallet: TestWallet;
  let pub: Publisher;
  let src: RpcSource;
  const errors: SourceError[] = [];
  const txs: Uint8Array[] = [];
  const removed: Uint8Array[] = [];
  let tips = 0;
  const seq = new Map<string, number>();

  async function send(topic: string, body: Uint8Array, sequence?: number): Promise<void> {
    const n = sequence ?? seq.get(topic) ?? 0;
    seq.set(topic, n + 1);
    const s = Buffer.alloc(4);
    s.writeUInt32LE(n >>> 0);
    await pub.send([topic, Buffer.from(body), s]);
  }

  function sequenceBody(displayHash: string, label: string, mempoolSeq?: bigint): Uint8Array {
    const tail = mempoolSeq === undefined ? Buffer.alloc(0) : Buffer.alloc(8);
    if (mempoolSeq !== undefined) tail.writeBigUInt64LE(mempoolSeq);
    return Buffer.concat([Buffer.from(displayHash, 'hex'), Buffer.from(label, 'latin1'), tail]);
  }

  before(async () => {
    a = await startBcoin();
    wallet = new TestWallet(a);
    await wallet.prepare();
    const port = await freePort();
    pub = new Publisher();
    await pub.bind(`tcp://127.0.0.1:${port}`);
    src = new RpcSource({
      host: '127.0.0.1',
      port: a.rpcPort,
      network: 'regtest',
      credentials: { user: 'bcoin', pass: a.apiKey },
      zmq: [`tcp://127.0.0.1:${port}`],
    });
    src.on('error', (e: SourceError) => errors.push(e));
    src.on('tx', (raw: Uint8Array) => txs.push(raw));
    src.on('txRemoved', (id: Uint8Array) => removed.push(id));
    src.on('tip', () => tips++);
    await src.start();
    // ZMQ's slow joiner: publish block-connected notifications until the subscriber hears one.
    const best = await a.bestHash();
    await waitFor('subscriber joined', async () => {
      await send('sequence', sequenceBody(best, 'C'));
      return tips > 0;
    });
  });

  after(async () => {
    await src?.stop();
    pub?.close();
    await a?.stop();
  });

  test('rawblock triggers tip, and getBlocks serves that block', async () => {
    tips = 0;
    const [hash] = await a.mine(1, TestWallet.randomAddress());
    const raw = await a.rawBlock(hash);
    await send('rawblock', raw);
    await waitFor('tip', () => tips > 0);
    const height = await a.height();
    const got: Uint8Array[] = [];
    for await (const blk of src.getBlocks(height, height)) got.push(blk.raw);
    assert.equal(toHex(got[0]), toHex(raw));
  });

  test('rawtx arrives as tx', async () => {
    const built = await wallet.build(TestWallet.randomAddress(), 90_000n);
    await send('rawtx', built.raw);
    await waitFor('tx', () => txs.some((t) => toHex(t) === built.hex));
  });

  test('sequence R arrives as txRemoved with the txid in internal order', async () => {
    const txid = 'aa'.repeat(31) + '01';
    await send('sequence', sequenceBody(txid, 'R', 7n));
    await waitFor('txRemoved', () => removed.some((id) => toHexReversed(id) === txid));
  });

  test('a sequence gap reports zmq-gap and triggers a re-sync (tip)', async () => {
    tips = 0;
    const n = seq.get('rawtx') ?? 0;
    const built = await wallet.build(TestWallet.randomAddress(), 60_000n);
    await send('rawtx', built.raw, n + 3); // two notifications "lost"
    await waitFor('gap error', () =>
      errors.some((e) => e.code === 'zmq-gap' && /rawtx sequence/.test(e.message)),
    );
    await waitFor('tip after gap', () => tips > 0);
  });

  test('a garbage rawblock is reported and never cached or handed on', async () => {
    const before = errors.length;
    tips = 0;
    const junk = fromHex('00'.repeat(80) + 'ff');
    await send('rawblock', junk);
    await waitFor('error', () => errors.length > before);
    assert.match(errors[errors.length - 1].message, /bad rawblock/);
    assert.equal(tips, 0);
  });

  test('parseSequence follows doc/zmq.md', () => {
    const h = '11'.repeat(31) + '22';
    const c = parseSequence(sequenceBody(h, 'C'));
    assert.equal(c?.label, 'C');
    assert.equal(toHexReversed(c?.hash as Uint8Array), h);
    const a2 = parseSequence(sequenceBody(h, 'A', 258n));
    assert.equal(a2?.mempoolSequence, 258n);
    assert.equal(parseSequence(sequenceBody(h, 'A')), null); // A needs its mempool sequence
    assert.equal(parseSequence(sequenceBody(h, 'C', 1n)), null); // C has none
    assert.equal(parseSequence(sequenceBody(h, 'X')), null);
  });
});
