import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { concatBytes, equalBytes, fromHex } from '@lnpbp/bitcoin/bytes/hex';
import { freePort } from '../src/embedded/bcoin.ts';
import { openIndex } from '../src/index/index.ts';
import { headerHash } from '../src/source/block-check.ts';
import { decodeInv, encodeHeaders, MSG_WITNESS_BLOCK } from '../src/source/p2p/messages.ts';
import { P2P_PARAMS } from '../src/source/p2p/params.ts';
import { type BpdChild, runBpd, spawnBpd } from './bpd-harness.ts';
import { fakePeer, handshake, onMessages, send } from './harness/fake-peer.ts';
import { waitFor } from './harness/wait.ts';
import { ChainBuilder, mainnet600, makeTx, tempDir, testScript } from './index-support.ts';

/**
 * Bad input at the daemon level: the bpd binary against peers and RPC servers that send garbage,
 * truncated blocks, blocks that do not connect, or nothing; and bad setups (config values, an
 * unusable datadir) that must end in one line on stderr and exit code 1.
 */

/** Regtest genesis: its own header over the same coinbase as mainnet's genesis. */
function regtestChain(): ChainBuilder {
  const c = new ChainBuilder(7);
  const header = fromHex(P2P_PARAMS.regtest.genesisHeader);
  const genesis = concatBytes(header, mainnet600()[0].subarray(80));
  c.blocks.push(genesis);
  c.hashes.push(headerHash(header));
  return c;
}

/** A P2P peer serving `blocks` (genesis first) honestly, except what `serve` changes per block. */
function chainPeer(
  blocks: Uint8Array[],
  hashes: Uint8Array[],
  serve: (height: number, raw: Uint8Array) => Uint8Array,
) {
  return fakePeer((sock: Socket) => {
    handshake(sock);
    onMessages(sock, (command, payload) => {
      if (command === 'getheaders')
        send(sock, 'headers', encodeHeaders(blocks.slice(1).map((b) => b.subarray(0, 80))));
      if (command === 'getdata') {
        for (const it of decodeInv(payload, 'getdata')) {
          if (it.type !== MSG_WITNESS_BLOCK) continue;
          const h = hashes.findIndex((x) => equalBytes(x, it.hash));
          if (h >= 0) send(sock, 'block', serve(h, blocks[h]));
        }
      }
    });
  });
}

const children: BpdChild[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

function start(datadir: string, source: string): BpdChild {
  const c = spawnBpd([
    '--datadir',
    datadir,
    '--network',
    'regtest',
    '--source',
    source,
    '--progress-interval',
    '0',
  ]);
  children.push(c);
  return c;
}

async function stopAndTip(c: BpdChild, datadir: string) {
  c.kill('SIGTERM');
  const { code } = await c.exited;
  assert.equal(code, 0, c.stderr());
  const ix = openIndex(datadir, 'regtest', { readOnly: true });
  const tip = ix.tip();
  const hash = ix.dumpHash();
  await ix.close();
  return { tip, hash };
}

const errMatching = (re: RegExp) => (l: { level: string; msg: string; err?: unknown; error?: unknown }) =>
  (l.level === 'warn' || l.level === 'error') && re.test(String(l.err ?? l.error ?? ''));

describe('bpd against bad peers and servers', { concurrency: true }, () => {
  const t = tempDir('bpdbad');
  after(() => t.cleanup());
  const chain = regtestChain();
  chain.add();
  const good1 = chain.hashes[1];

  test('garbage bytes: clear error, backoff, reconnect, nothing written', async () => {
    const peer = await fakePeer((sock) => sock.write(randomBytes(300)));
    const d = `${t.dir}/garbage`;
    const c = start(d, `p2p://127.0.0.1:${peer.port}`);
    await c.waitLine('a bad-magic error', errMatching(/bad-magic/));
    await waitFor('reconnects', () => peer.connections >= 3, 30_000);
    const { tip } = await stopAndTip(c, d);
    assert.equal(tip, null);
    await peer.close();
  });

  test('a peer that sends nothing: handshake timeout, reconnect', async () => {
    const peer = await fakePeer(() => {});
    const d = `${t.dir}/silent`;
    const c = start(d, `p2p://127.0.0.1:${peer.port}`);
    await c.waitLine('a handshake timeout', errMatching(/no handshake within/), 40_000);
    await waitFor('reconnects', () => peer.connections >= 2, 30_000);
    const { tip } = await stopAndTip(c, d);
    assert.equal(tip, null);
    await peer.close();
  });

  test('nobody listening: connect errors, retried with growing delays', async () => {
    const port = await freePort();
    const d = `${t.dir}/refused`;
    const c = start(d, `p2p://127.0.0.1:${port}`);
    await c.waitLine('connect error', errMatching(/ECONNREFUSED|connect/));
    await waitFor(
      'several attempts',
      () => c.lines.filter(errMatching(/ECONNREFUSED|connect/)).length >= 3,
      30_000,
    );
    const { tip } = await stopAndTip(c, d);
    assert.equal(tip, null);
  });

  test('a truncated block: the peer is dropped, the block asked again, never written', async () => {
    const b2 = chain.fork(chain.height, 8);
    b2.add();
    const peer = await chainPeer(b2.blocks, b2.hashes, (h, raw) =>
      h === 2 ? raw.subarray(0, raw.length - 7) : raw,
    );
    const d = `${t.dir}/truncated`;
    const c = start(d, `p2p://127.0.0.1:${peer.port}`);
    await c.waitLine('a bad-block error', errMatching(/bad-block|truncated|framing|end of/i));
    await waitFor('reconnects', () => peer.connections >= 3, 30_000);
    const { tip } = await stopAndTip(c, d);
    assert.equal(tip?.height, 1);
    assert.ok(equalBytes(tip!.hash, good1));
    await peer.close();
  });

  for (const [name, code, makeBad] of [
    [
      'a block spending an output that does not exist',
      /missing-input/,
      (c: ChainBuilder) =>
        c.add([makeTx([{ txid: randomBytes(32), vout: 0 }], [{ value: 1000n, script: testScript(9) }])]),
    ],
    ['a block whose header connects but whose txs do not match its merkle root', /bad-merkle/, null],
  ] as const) {
    test(`${name}: rejected by the indexer, retried with backoff, never written`, async () => {
      const b = chain.fork(chain.height, 9);
      if (makeBad) makeBad(b);
      else b.add();
      const serve = (h: number, raw: Uint8Array) => {
        if (h !== 2 || makeBad) return raw;
        const bad = raw.slice();
        bad[bad.length - 5] ^= 0x01; // an output script byte: frames fine, merkle root differs
        return bad;
      };
      const peer = await chainPeer(b.blocks, b.hashes, serve);
      const d = `${t.dir}/${makeBad ? 'missing' : 'merkle'}`;
      const c = start(d, `p2p://127.0.0.1:${peer.port}`);
      await c.waitLine(
        `a ${code} rejection`,
        (l) => l.msg === 'sync failed; retrying' && code.test(String(l.err)),
      );
      await waitFor(
        'three retries',
        () => c.lines.filter((l) => l.msg === 'sync failed; retrying').length >= 3,
        30_000,
      );
      const retries = c.lines
        .filter((l) => l.msg === 'sync failed; retrying')
        .map((l) => l.retryMs as number);
      // Backoff: the delays grow (jittered doubling from 250 ms).
      assert.ok(retries[2] > retries[0], retries.join(','));
      const { tip, hash } = await stopAndTip(c, d);
      assert.equal(tip?.height, 1);
      assert.ok(equalBytes(tip!.hash, good1));
      // What is there is exactly genesis + block 1.
      const ref = openIndex(`${d}-ref`, 'regtest');
      ref.connectBlock(chain.blocks[0], 0);
      ref.connectBlock(chain.blocks[1], 1);
      assert.equal(hash, ref.dumpHash());
      await ref.close();
      await peer.close();
    });
  }

  test('an RPC server that answers garbage: clear error, retried, nothing written', async () => {
    let requests = 0;
    const srv = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>not json');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const d = `${t.dir}/rpcgarbage`;
    const c = start(d, `rpc://u:p@127.0.0.1:${port}`);
    await c.waitLine('an RPC error', errMatching(/json|JSON|parse|protocol/));
    await waitFor('retries', () => requests >= 3, 30_000);
    const { tip } = await stopAndTip(c, d);
    assert.equal(tip, null);
    await new Promise((r) => srv.close(r));
  });
});

describe('bpd: bad setup is one line on stderr and exit code 1', { concurrency: 4 }, () => {
  const t = tempDir('bpdcfg');
  after(() => t.cleanup());
  const file = `${t.dir}/a-file`;
  writeFileSync(file, 'x');
  mkdirSync(`${t.dir}/ok`);
  writeFileSync(`${t.dir}/badconf.conf`, 'network = regtest\nthis is not a setting\n');
  mkdirSync(`${t.dir}/withfile`);
  writeFileSync(`${t.dir}/withfile/index`, 'not a directory');
  const p2p = ['--source', 'p2p://127.0.0.1:1'];
  const cases: [string, string[], RegExp][] = [
    ['unknown network', ['--datadir', `${t.dir}/ok`, '--network', 'moonnet', ...p2p], /--network.*moonnet/],
    ['a file as the datadir', ['--datadir', file, '--network', 'regtest', ...p2p], /not a directory/],
    [
      'a datadir under a regular file',
      ['--datadir', `${file}/sub`, '--network', 'regtest', ...p2p],
      /is a file/,
    ],
    [
      'the index dir is a file',
      ['--datadir', `${t.dir}/withfile`, '--network', 'regtest', ...p2p],
      /index dir.*not a directory/,
    ],
    [
      'an unknown source scheme',
      ['--datadir', `${t.dir}/ok`, '--network', 'regtest', '--source', 'ftp://x'],
      /unknown scheme/,
    ],
    [
      'a source with a path',
      ['--datadir', `${t.dir}/ok`, '--network', 'regtest', '--source', 'p2p://h:1/x'],
      /path/,
    ],
    [
      'a missing blocks dir',
      ['--datadir', `${t.dir}/ok`, '--network', 'mainnet', '--source', `blocks:${t.dir}/none`],
      /blocks dir.*does not exist/,
    ],
    ['an unknown option', ['--datadir', `${t.dir}/ok`, '--netwrk', 'regtest'], /unknown option/],
    [
      'a bad integer',
      ['--datadir', `${t.dir}/ok`, '--network', 'regtest', ...p2p, '--start-height', '-4'],
      /start-height/,
    ],
    [
      'a bad progress interval',
      ['--datadir', `${t.dir}/ok`, '--network', 'regtest', ...p2p, '--progress-interval', 'soon'],
      /progress-interval/,
    ],
    [
      'mainnet without a source',
      ['--datadir', `${t.dir}/ok`, '--network', 'mainnet'],
      /embedded node runs regtest only/,
    ],
    [
      'a bad config file line',
      ['--datadir', `${t.dir}/ok`, '--conf', `${t.dir}/badconf.conf`],
      /badconf\.conf:2/,
    ],
  ];
  for (const [name, args, re] of cases) {
    test(name, async () => {
      const r = await runBpd(args);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^bpd: /);
      assert.match(lines[0], re);
    });
  }

  test('a datadir in use by another bpd; free again once it exits, also after a SIGKILL', async () => {
    const d = `${t.dir}/inuse`;
    const port = await freePort();
    const args = ['--datadir', d, '--network', 'regtest', '--source', `p2p://127.0.0.1:${port}`];
    const first = spawnBpd(args);
    children.push(first);
    await first.waitLine('ready', (l) => l.msg === 'ready');
    const r = await runBpd(args);
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`in use by bpd pid ${first.proc.pid}`));
    first.kill('SIGKILL'); // leaves a stale lock behind
    await first.exited;
    const second = spawnBpd(args);
    children.push(second);
    await second.waitLine('ready', (l) => l.msg === 'ready');
    second.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  });

  test('an index of another network in the datadir', async () => {
    const d = `${t.dir}/othernet`;
    const ix = openIndex(d, 'mainnet');
    ix.connectBlock(mainnet600()[0], 0);
    await ix.close();
    const r = await runBpd(['--datadir', d, '--network', 'regtest', ...p2p]);
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /mainnet/);
  });
});
