import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { BlockPreparer, BlockRejected, type ConnectResult } from '../src/index/index.ts';
import { Syncer } from '../src/sync/syncer.ts';
import { type Blk, MemorySource, mainnet600, perBlockHash, withIndex } from './index-support.ts';

/**
 * The two-core catch-up (index/pipeline.ts: a worker prepares blocks, this thread resolves,
 * applies and commits) writes exactly what connecting block by block writes, gives the same
 * results, and refuses a bad block with the same error at the same block, the blocks before it
 * committed. `minBytes: 0` sends even genesis-era blocks through the worker.
 */
const MODERN = [840002, 840003, 840004, 840005, 840006, 840007];
const quiet = { info() {}, warn() {}, error() {} };

/** What a result says, the parsed block included (a worker-prepared one is parsed on demand). */
function summary(r: ConnectResult) {
  return {
    h: r.height,
    hash: toHex(r.hash),
    size: r.size,
    txCount: r.txCount,
    i: r.inputs,
    o: r.outputs,
    v: [...r.prevValues],
    s: r.prevScripts.map((x) => (x ? toHex(x) : '')),
    txids: r.block.txs.map((t) => toHex(t.txid())),
    txCountIsParsed: r.txCount === r.block.txs.length,
    wtxids: r.block.txs.map((t) => toHex(t.wtxid())),
    outs: r.block.txs.reduce((n, t) => n + t.outputs.length, 0),
  };
}

async function pipelined(
  blocks: Blk[],
  batchBlocks: number,
  minBytes: number,
): Promise<{ hash: string; results: ConnectResult[] }> {
  const p = new BlockPreparer({ minBytes, ahead: 4 });
  try {
    return await withIndex(async (ix) => {
      const results = await ix.connectBlocksPrepared(blocks, p, { batchBlocks });
      return { hash: ix.dumpHash(), results };
    });
  } finally {
    await p.close();
  }
}

/** Connects good blocks then a bad one; the error and the index after it. */
async function rejection(blocks: Blk[], pipelinedPath: boolean) {
  const p = new BlockPreparer({ minBytes: 0 });
  try {
    return await withIndex(async (ix) => {
      let err: unknown = null;
      try {
        if (pipelinedPath) await ix.connectBlocksPrepared(blocks, p);
        else ix.connectBlocks(blocks);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof BlockRejected, `rejected: ${err}`);
      return { code: err.code, message: err.message, tip: ix.tip()?.height, hash: ix.dumpHash() };
    });
  } finally {
    await p.close();
  }
}

describe('index: pipelined catch-up equals block by block', () => {
  it('mainnet 0-599: every block through the worker, or only big ones; batches of 16 and one', async () => {
    const blocks = mainnet600().map((raw, height) => ({ raw, height }));
    const want = await perBlockHash(blocks);
    for (const [size, minBytes] of [
      [16, 0],
      [600, 0],
      [16, 16 * 1024],
    ]) {
      const r = await pipelined(blocks, size, minBytes);
      assert.equal(r.hash, want, `batches of ${size}, minBytes ${minBytes}`);
      assert.deepEqual(
        r.results.map((x) => x.height),
        blocks.map((b) => b.height),
      );
    }
  });

  it('mainnet 840002-840007: one batch and batches of 2, the same dump and results', async () => {
    const blocks = MODERN.map((height) => ({ raw: modernBlock(height), height }));
    const want = await perBlockHash(blocks);
    const one = await withIndex((ix) => blocks.map((b) => summary(ix.connectBlock(b.raw, b.height))));
    for (const size of [6, 2]) {
      const r = await pipelined(blocks, size, 0);
      assert.equal(r.hash, want, `batches of ${size}`);
      assert.deepEqual(r.results.map(summary), one);
    }
  });

  it('a bad block: the same error at the same block, the blocks before it committed', async () => {
    const good = MODERN.slice(0, 3).map((height) => ({ raw: modernBlock(height), height }));
    const next = modernBlock(840005);
    const tamper = (at: number) => {
      const b = next.slice();
      b[at] ^= 1;
      return b;
    };
    const variants: [string, Blk][] = [
      ['decode (truncated)', { raw: next.subarray(0, next.length - 1), height: 840005 }],
      ['bad-prev (840006 in 840005’s place)', { raw: modernBlock(840006), height: 840005 }],
      ['bad-merkle (the last tx’s locktime)', { raw: tamper(next.length - 2), height: 840005 }],
      ['bad-witness-commitment (the last tx’s witness)', { raw: tamper(next.length - 10), height: 840005 }],
      ['bad-pow (the header’s nonce)', { raw: tamper(76), height: 840005 }],
      ['bad-height', { raw: next, height: 840006 }],
    ];
    const codes: string[] = [];
    for (const [what, bad] of variants) {
      const chain = [...good, bad];
      const want = await rejection(chain, false);
      assert.equal(want.tip, 840004, what);
      assert.deepEqual(await rejection(chain, true), want, what);
      codes.push(want.code);
    }
    assert.deepEqual(codes, [
      'decode',
      'bad-prev',
      'bad-merkle',
      'bad-witness-commitment',
      'bad-pow',
      'bad-height',
    ]);
  });
});

describe('index: the preparing worker lost', () => {
  it('blocks it had and all after are prepared on the calling thread, to the same dump', async () => {
    const blocks = MODERN.map((height) => ({ raw: modernBlock(height), height }));
    const want = await perBlockHash(blocks);
    const p = new BlockPreparer({ minBytes: 0, ahead: 6 });
    try {
      const got = await withIndex(async (ix) => {
        const first = await ix.connectBlocksPrepared(blocks.slice(0, 2), p);
        for (const b of blocks.slice(2)) p.push(b.raw, b.height);
        // As if it crashed with four blocks posted to it.
        await (p as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
        assert.match(p.lostReason ?? '', /exited/);
        const b = ix.batch();
        while (p.size > 0) {
          const x = await p.take();
          b.addPrepared(x.raw, x.height, x.prepared);
        }
        b.commit();
        return { n: first.length, hash: ix.dumpHash() };
      });
      assert.deepEqual(got, { n: 2, hash: want });
    } finally {
      await p.close();
    }
  });
});

describe('index: closing the preparing worker', () => {
  it('close() lets a busy worker stop after its message (no terminate), hints on, the rest of its queue dropped', async () => {
    const blocks = MODERN.map((height) => ({ raw: modernBlock(height), height }));
    const p = new BlockPreparer({ minBytes: 0, ahead: 6 });
    let clean = false;
    await withIndex(async (ix) => {
      await ix.connectBlocksPrepared(blocks.slice(0, 1), p);
      // Five blocks posted to the worker, hints on (it reads the index for them); one taken.
      for (const b of blocks.slice(1)) p.push(b.raw, b.height);
      const x = await p.take();
      assert.ok('ok' in x.prepared && x.prepared.ok.hints !== null, 'prepared with hints');
      clean = await p.close();
    });
    assert.equal(clean, true, 'the worker ended by itself');
    assert.equal(p.lostReason, null);
    await assert.rejects(async () => p.push(blocks[0].raw, blocks[0].height), /closed/);
  });
});

describe('index: the preparing worker and process exit', () => {
  it('an idle worker does not hold the process open, even unclosed; one with work does until done', () => {
    const pipeline = new URL('../src/index/pipeline.ts', import.meta.url).href;
    const fixtures = new URL('../../../test/support/fixtures.ts', import.meta.url).href;
    const code = `
      import { BlockPreparer } from ${JSON.stringify(pipeline)};
      import { modernBlock } from ${JSON.stringify(fixtures)};
      const p = new BlockPreparer({ minBytes: 0 });
      p.push(modernBlock(840002), 840002);
      p.push(modernBlock(840003), 840003);
      // Nothing but the worker keeps the event loop alive while these are awaited.
      for (let i = 0; i < 2; i++) console.log(Object.keys((await p.take()).prepared)[0]);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      timeout: 60_000,
      encoding: 'utf8',
    });
    assert.equal(r.signal, null, 'exited by itself');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ok\nok\n');
  });
});

describe('sync: catch-up through the worker', () => {
  it('indexes 0-599 through the worker to the same dump; a corrupt block is refused as without it', async () => {
    const blocks = mainnet600();
    const want = await perBlockHash(blocks.map((raw, height) => ({ raw, height })));
    for (const prepare of [{ minBytes: 0, ahead: 5 }, false] as const) {
      const got = await withIndex(async (ix) => {
        const src = new MemorySource(blocks);
        const bad = blocks[300].slice();
        bad[bad.length - 5] ^= 1;
        src.corrupt.set(300, bad);
        const s = new Syncer(ix, src, quiet, { prepare, backoffMinMs: 1, backoffMaxMs: 5 });
        const refused: string[] = [];
        s.log.error = (msg: string, f?: Record<string, unknown>) => refused.push(`${msg}: ${f?.err}`);
        const run = s.run({ exitAtTip: true });
        // Retried until the source serves the real block again.
        while (refused.length === 0) await new Promise((r) => setTimeout(r, 5));
        const tipAtRefusal = ix.tip()?.height;
        src.corrupt.clear();
        await run;
        return { refused: refused[0], tipAtRefusal, hash: ix.dumpHash() };
      });
      assert.match(got.refused, /height 300 rejected: bad-merkle/, `prepare ${JSON.stringify(prepare)}`);
      assert.equal(got.tipAtRefusal, 299);
      assert.equal(got.hash, want);
    }
  });
});
