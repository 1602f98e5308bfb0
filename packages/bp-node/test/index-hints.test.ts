import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modernBlock } from '../../../test/support/fixtures.ts';
import {
  HINT_FOUND,
  HINT_FOUND_VERIFIED,
  HINT_UNKNOWN,
  HintSource,
  type ResolveHints,
} from '../src/index/hints.ts';
import { BlockPreparer, BlockRejected, type Index } from '../src/index/index.ts';
import { prepareBlock } from '../src/index/prepared.ts';
import {
  type Blk,
  ChainBuilder,
  type Coin,
  mainnet600,
  makeTx,
  perBlockHash,
  testScript,
  withIndex,
} from './index-support.ts';

/**
 * Resolve hints (index/hints.ts): the preparing worker looks inputs up in a read snapshot of the
 * index, and the writer takes a hint only when nothing committed since, nor its own batch, can
 * have changed the answer. These tests read hints on this thread at a chosen snapshot (the
 * worker's HintSource, the same code), commit more, then connect with the stale hints: the
 * index must come out exactly as without hints, and a bad block must be refused the same way.
 */
const MODERN = [840002, 840003, 840004, 840005, 840006, 840007];

/** Block `b` prepared with hints read now, from the index at `ix`'s directory. */
function withHints(ix: Index, b: Blk): { ok: ReturnType<typeof prepareBlock> } {
  const src = new HintSource(ix.store.dir, ix.store.network);
  try {
    const p = prepareBlock(b.raw, b.height);
    p.hints = src.read(p.layout, b.height, p.hi, p.txids);
    return { ok: p };
  } finally {
    src.close();
  }
}

/** Adds a block, prepared with hints read earlier, as a batch of its own. */
function connectWith(ix: Index, b: Blk, prepared: { ok: ReturnType<typeof prepareBlock> }): void {
  const batch = ix.batch();
  try {
    batch.addPrepared(b.raw, b.height, prepared);
  } catch (e) {
    batch.abort();
    throw e;
  }
  batch.commit();
}

/** Block 6 on `c`'s blocks 0-5, spending `coin` (again). */
function spendAgainAt6(c: ChainBuilder, coin: { txid: Uint8Array; vout: number }, tag: number): Blk {
  const again = new ChainBuilder(3);
  again.blocks.push(...c.blocks);
  again.hashes.push(...c.hashes);
  again.add([makeTx([coin], [{ value: 2n, script: testScript(tag) }])]);
  return { raw: again.blocks[6], height: 6 };
}

/** How `b` is refused, with the stale hints or without any; the index must not change. */
function refused(ix: Index, b: Blk, stale: { ok: ReturnType<typeof prepareBlock> }, hinted: boolean) {
  const hash = ix.dumpHash();
  let err: unknown = null;
  try {
    if (hinted) connectWith(ix, b, stale);
    else ix.connectBlock(b.raw, b.height);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof BlockRejected, `rejected: ${err}`);
  assert.equal(ix.dumpHash(), hash, 'nothing written');
  return { code: err.code, message: err.message, tip: ix.tip()?.height };
}

function counts(h: ResolveHints): Record<string, number> {
  const c = { unknown: 0, found: 0, verified: 0, none: 0 };
  for (const s of h.status) {
    if (s === HINT_UNKNOWN) c.unknown++;
    else if (s === HINT_FOUND) c.found++;
    else if (s === HINT_FOUND_VERIFIED) c.verified++;
    else c.none++;
  }
  return c;
}

/** A regtest chain: 0-3 coinbases, then block 4 spends 1's coinbase, 5 spends 2's and 4's output. */
function chain(): { c: ChainBuilder; blocks: Blk[]; coins: Coin[] } {
  const c = new ChainBuilder(3);
  const coins: Coin[] = [];
  for (let i = 0; i < 4; i++) coins.push(c.add());
  const a = makeTx([coins[1]], [{ value: 10n, script: testScript(100) }]);
  c.add([a]);
  const blocks = () => c.blocks.map((raw, height) => ({ raw, height }));
  return { c, blocks: blocks(), coins };
}

describe('index: resolve hints', () => {
  it("a hint read at the writer's tip resolves every stored spend, and the index equals block by block", async () => {
    const { blocks } = chain();
    const want = await perBlockHash(blocks);
    await withIndex((ix) => {
      for (const b of blocks.slice(0, 4)) ix.connectBlock(b.raw, b.height);
      const p = withHints(ix, blocks[4]);
      assert.deepEqual(counts(p.ok.hints!), { unknown: 0, found: 1, verified: 0, none: 0 });
      const before = { ...ix.store.resolved };
      connectWith(ix, blocks[4], p);
      assert.deepEqual(ix.store.resolved, { hinted: before.hinted + 1, read: before.read });
      assert.equal(ix.dumpHash(), want);
    });
  });

  it('an input spending a tx committed after the snapshot ("unknown" there) resolves through the commit log', async () => {
    const { c, coins } = chain();
    // 5 spends the tx block 4 added: a hint read at tip 3 says that txid is unknown.
    const spend = makeTx([{ txid: coinsTxid(c, 4, 1), vout: 0 }], [{ value: 5n, script: testScript(101) }]);
    c.add([spend, makeTx([coins[2]], [{ value: 7n, script: testScript(102) }])]);
    const blocks = c.blocks.map((raw, height) => ({ raw, height }));
    const want = await perBlockHash(blocks);
    await withIndex((ix) => {
      for (const b of blocks.slice(0, 4)) ix.connectBlock(b.raw, b.height);
      const stale = withHints(ix, blocks[5]);
      assert.deepEqual(counts(stale.ok.hints!), { unknown: 1, found: 1, verified: 0, none: 0 });
      ix.connectBlock(blocks[4].raw, 4);
      const before = { ...ix.store.resolved };
      connectWith(ix, blocks[5], stale);
      // The spend of 4's tx came from the commit log's copy of 4, the other from its hint.
      assert.deepEqual(ix.store.resolved, { hinted: before.hinted + 2, read: before.read });
      assert.equal(ix.dumpHash(), want);
    });
  });

  it('a hint older than a commit that spent the output cannot let a double spend in', async () => {
    const { c, coins } = chain();
    // 5 spends 2's coinbase; 6 spends it again, offered with hints read at tip 4.
    c.add([makeTx([coins[2]], [{ value: 1n, script: testScript(110) }])]);
    const main = c.blocks.map((raw, height) => ({ raw, height }));
    const double = spendAgainAt6(c, coins[2], 112);
    for (const hinted of [false, true]) {
      const got = await withIndex((ix) => {
        for (const b of main.slice(0, 5)) ix.connectBlock(b.raw, b.height);
        const stale = withHints(ix, double);
        assert.equal(counts(stale.ok.hints!).found, 1, 'the snapshot still had the output');
        ix.connectBlock(main[5].raw, 5);
        return refused(ix, double, stale, hinted);
      });
      assert.deepEqual([got.code, got.tip], ['missing-input', 5]);
      assert.match(got.message, /is spent or does not exist/);
    }
  });

  it('an output committed and spent after the snapshot cannot be spent again', async () => {
    const { c } = chain();
    const a = { txid: coinsTxid(c, 4, 1), vout: 0 };
    c.add([makeTx([a], [{ value: 1n, script: testScript(130) }])]);
    const blocks = c.blocks.map((raw, height) => ({ raw, height }));
    const double = spendAgainAt6(c, a, 131);
    for (const hinted of [false, true]) {
      const got = await withIndex((ix) => {
        for (const b of blocks.slice(0, 4)) ix.connectBlock(b.raw, b.height);
        // Read at 3: 4 (which creates a) and 5 (which spends it) are committed after.
        const stale = withHints(ix, double);
        ix.connectBlock(blocks[4].raw, 4);
        ix.connectBlock(blocks[5].raw, 5);
        return refused(ix, double, stale, hinted);
      });
      assert.deepEqual([got.code, got.tip], ['missing-input', 5]);
      assert.match(got.message, /is spent or does not exist/);
    }
  });

  it('the commit log keeps nothing once hints stop being checked (a node following the tip)', async () => {
    const { c } = chain();
    for (let i = 0; i < 12; i++) c.add();
    const blocks = c.blocks.map((raw, height) => ({ raw, height }));
    await withIndex((ix) => {
      const log = ix.store.commits;
      for (const b of blocks.slice(0, 8)) ix.connectBlock(b.raw, b.height);
      assert.equal(log.size, 8, 'recent commits kept');
      ix.connectBlock(blocks[8].raw, 8);
      assert.equal(log.size, 0, 'eight commits unread: dropped');
      ix.connectBlock(blocks[9].raw, 9);
      assert.equal(log.size, 0, 'and not kept after');
      assert.equal(log.since(8, 9), null, 'a hint from before cannot be checked');
      ix.connectBlock(blocks[10].raw, 10);
      ix.connectBlock(blocks[11].raw, 11);
      assert.equal(log.size, 2, 'kept again once hints are checked');
      assert.deepEqual(
        log.since(9, 11)?.map((x) => x.from),
        [10, 11],
      );
    });
  });

  it('hints read before a disconnect are not taken', async () => {
    const { c, coins } = chain();
    const fork = c.fork(3, 5);
    // The fork's 4 spends 1's coinbase too, in another tx; its 5 spends 2's coinbase.
    fork.add([makeTx([coins[1]], [{ value: 3n, script: testScript(120) }])]);
    fork.add([makeTx([coins[2]], [{ value: 4n, script: testScript(121) }])]);
    const forkBlocks = fork.blocks.map((raw, height) => ({ raw, height }));
    const want = await perBlockHash(forkBlocks);
    await withIndex((ix) => {
      for (const raw of c.blocks) ix.connectBlock(raw, c.blocks.indexOf(raw));
      // Read at tip 4 (the main chain's), used after 4 was replaced.
      const stale = withHints(ix, forkBlocks[5]);
      ix.disconnectTip();
      ix.connectBlock(forkBlocks[4].raw, 4);
      const before = { ...ix.store.resolved };
      connectWith(ix, forkBlocks[5], stale);
      assert.deepEqual(ix.store.resolved, { hinted: before.hinted, read: before.read + 1 });
      assert.equal(ix.dumpHash(), want);
    });
  });

  it('through the worker: 0-599 and 840002-840007 in batches, the same index, most inputs hinted', async () => {
    const sets: [Blk[], number[]][] = [
      [mainnet600().map((raw, height) => ({ raw, height })), [1, 16, 600]],
      [MODERN.map((height) => ({ raw: modernBlock(height), height })), [1, 2, 6]],
    ];
    for (const [blocks, sizes] of sets) {
      const want = await perBlockHash(blocks);
      for (const batchBlocks of sizes) {
        const p = new BlockPreparer({ minBytes: 0, ahead: 4 });
        try {
          const got = await withIndex(async (ix) => {
            await ix.connectBlocksPrepared(blocks, p, { batchBlocks });
            return { hash: ix.dumpHash(), resolved: { ...ix.store.resolved } };
          });
          assert.equal(got.hash, want, `batches of ${batchBlocks}`);
          const { hinted, read } = got.resolved;
          if (blocks.length === 6)
            assert.ok(hinted > 5 * read, `batches of ${batchBlocks}: ${hinted} hinted, ${read} read`);
        } finally {
          await p.close();
        }
      }
    }
  });
});

/** The txid of tx `pos` of block `height` in `c`. */
function coinsTxid(c: ChainBuilder, height: number, pos: number): Uint8Array {
  return prepareBlock(c.blocks[height], height).txids.slice(32 * pos, 32 * pos + 32);
}
