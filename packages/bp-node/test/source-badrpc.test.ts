import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, describe, test } from 'node:test';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { RpcSource } from '../src/source/rpc/source.ts';
import type { SourceError } from '../src/source/types.ts';
import { regtestBlock1 } from './harness/fake-peer.ts';
import { waitFor } from './harness/wait.ts';

/** Broken or hostile JSON-RPC servers: clear errors, retries with backoff, no bad block handed on. */
type Handler = (method: string, params: unknown[], res: ServerResponse, n: number) => void;

async function rpcServer(handler: Handler) {
  let n = 0;
  const srv = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      let m = { method: '', params: [] as unknown[] };
      try {
        m = JSON.parse(body);
      } catch {}
      handler(m.method, m.params, res, n++);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    get requests() {
      return n;
    },
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

function reply(res: ServerResponse, result: unknown, error: unknown = null) {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ result, error, id: 1 }));
}

function source(port: number) {
  const src = new RpcSource({
    host: '127.0.0.1',
    port,
    network: 'regtest',
    credentials: { user: 'u', pass: 'p' },
    backoffMinMs: 10,
    backoffMaxMs: 50,
    timeoutMs: 300,
    pollMs: 60_000,
    mempoolPollMs: 0,
  });
  const errors: SourceError[] = [];
  src.on('error', (e: SourceError) => errors.push(e));
  return { src, errors };
}

describe('RPC source against bad servers', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c();
  });

  test('garbage replies: reported, retried with backoff', async () => {
    const srv = await rpcServer((_m, _p, res) => res.end('<html>not json'));
    closers.push(srv.close);
    const { src, errors } = source(srv.port);
    src.start().catch(() => {});
    await waitFor('retries', () => srv.requests >= 3);
    await src.stop();
    assert.match(errors[0].message, /not JSON/);
  });

  test('a server that never answers: timeout, retried', async () => {
    const srv = await rpcServer(() => {});
    closers.push(srv.close);
    const { src, errors } = source(srv.port);
    src.start().catch(() => {});
    await waitFor('retries', () => srv.requests >= 2);
    await waitFor('timeout error', () => errors.some((e) => /no reply within 300 ms/.test(e.message)));
    await src.stop();
  });

  test('a reply cut short', async () => {
    const srv = await rpcServer((_m, _p, res) => {
      res.setHeader('content-length', '1000');
      res.write('{"result":');
      res.destroy();
    });
    closers.push(srv.close);
    const { src, errors } = source(srv.port);
    src.start().catch(() => {});
    await waitFor('retries', () => srv.requests >= 2);
    await src.stop();
    assert.ok(
      errors.some((e) => e.code === 'disconnected' || /not JSON/.test(e.message)),
      errors.map((e) => e.message).join('\n'),
    );
  });

  test('bad getblock replies are retried and never yielded; the good block is', async () => {
    const good = regtestBlock1();
    const hash = toHexReversed(good.hash);
    const corrupt = good.raw.slice(0, good.raw.length - 2);
    const other = good.raw.slice();
    other[79] ^= 1;
    const bad = [toHex(corrupt), toHex(other), 'zz', 42];
    let getblocks = 0;
    const srv = await rpcServer((method, params, res) => {
      if (method === 'getblockchaininfo')
        return reply(res, { chain: 'regtest', blocks: 1, bestblockhash: hash });
      if (method === 'getblockhash') {
        return params[0] === 1
          ? reply(res, hash)
          : reply(res, null, { code: -8, message: 'Block height out of range' });
      }
      if (method === 'getblock')
        return reply(res, getblocks < bad.length ? bad[getblocks++] : toHex(good.raw));
      reply(res, null, { code: -32601, message: 'Method not found' });
    });
    closers.push(srv.close);
    const { src, errors } = source(srv.port);
    await src.start();
    assert.equal(await src.getBlockHash(2), null);
    const got: Uint8Array[] = [];
    for await (const blk of src.getBlocks(1, 1)) got.push(blk.raw);
    assert.deepEqual(
      got.map((g) => toHex(g)),
      [toHex(good.raw)],
    );
    assert.equal(
      errors.filter((e) => /bad-block|not a hex string/.test(e.message)).length,
      4,
      errors.map((e) => e.message).join('\n'),
    );
    await src.stop();
  });

  test('a block that stays bad makes getBlocks throw after the retries', async () => {
    const good = regtestBlock1();
    const hash = toHexReversed(good.hash);
    const srv = await rpcServer((method, _params, res) => {
      if (method === 'getblockchaininfo')
        return reply(res, { chain: 'regtest', blocks: 1, bestblockhash: hash });
      if (method === 'getblockhash') return reply(res, hash);
      if (method === 'getblock') return reply(res, toHex(good.raw.slice(0, 100)));
    });
    closers.push(srv.close);
    const { src } = source(srv.port);
    await src.start();
    await assert.rejects(async () => {
      for await (const _ of src.getBlocks(1, 1)) assert.fail('yielded a bad block');
    }, /bad-block/);
    await src.stop();
  });
});
