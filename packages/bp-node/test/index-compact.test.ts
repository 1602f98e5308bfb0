import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { open } from 'lmdb';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { type CompactResult, type Index, openIndex } from '../src/index/index.ts';
import { Syncer } from '../src/sync/syncer.ts';
import { btcdReorgChain, MemorySource, mainnet600, tempDir } from './index-support.ts';

const MODERN = [840002, 840003, 840004, 840005, 840006, 840007];
const CHILD = join(import.meta.dirname, 'index-compact-child.ts');
const BPD = join(import.meta.dirname, '../src/bin/bpd.ts');
const quiet = { info() {}, warn() {}, error() {} };

function connectAll(ix: Index, blocks: { raw: Uint8Array; height: number }[]): void {
  for (const b of blocks) ix.connectBlock(b.raw, b.height);
}

function modern(): { raw: Uint8Array; height: number }[] {
  return MODERN.map((height) => ({ height, raw: modernBlock(height) }));
}

function dumpLines(ix: Index): string[] {
  const out: string[] = [];
  ix.dump((l) => out.push(l));
  return out;
}

/** Every query answer over the blocks' txids, outpoints and scripts, as one JSON-able value. */
function answers(ix: Index, raws: Uint8Array[], pageLimit: number): unknown[] {
  const out: unknown[] = [];
  const scripts = new Map<string, Uint8Array>();
  const big = (v: unknown) =>
    JSON.stringify(v, (_k, x) =>
      typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x,
    );
  let t = 0;
  for (const raw of raws) {
    const txs = parseBlock(raw).txs;
    for (const tx of txs) {
      // Every tx of small blocks, a sample of big ones (each answer reads blocks.dat).
      if (txs.length > 100 && t++ % 13 !== 0) continue;
      const txid = tx.txid();
      out.push(big(ix.txByTxid(txid)?.shortId ?? null));
      out.push(big(ix.outspends(txid)));
      for (const inp of tx.inputs) {
        if (tx.isCoinbase) break;
        out.push(big(ix.outspend(inp.prevTxid, inp.vout)));
        out.push(big(ix.outspends(inp.prevTxid)));
      }
      for (const o of tx.outputs) scripts.set(Buffer.from(o.scriptPubKey).toString('hex'), o.scriptPubKey);
    }
  }
  let n = 0;
  for (const script of scripts.values()) {
    // A sample of scripts with paging, so pages cross between the two levels.
    if (n++ % 7 !== 0) continue;
    const sh = sha256(script);
    let cursor: Uint8Array | null = null;
    for (;;) {
      const page = ix.history(sh, { cursor, limit: pageLimit });
      out.push(big(page.items));
      if (page.next === null) break;
      cursor = page.next;
    }
    out.push(big(ix.utxos(sh, { limit: 1000 }).items));
    out.push(big(ix.balance(sh)));
  }
  return out;
}

describe('index compaction: real blocks, answers and dump unchanged', () => {
  const blocks = modern();
  const raws = blocks.map((b) => b.raw);
  const plain = tempDir('cmp-plain');
  const mixed = tempDir('cmp-mixed');
  let a: Index;
  let b: Index;
  before(() => {
    a = openIndex(plain.dir, 'mainnet');
    connectAll(a, blocks);
    // b: compacted after 3 blocks, so its rows sit in both levels.
    b = openIndex(mixed.dir, 'mainnet');
    connectAll(b, blocks.slice(0, 3));
    const r = b.compact();
    assert.ok(r.rows.txids > 0 && r.rows.history > 0 && r.rows.extspends > 0);
    connectAll(b, blocks.slice(3));
  });
  after(async () => {
    await a.close();
    await b.close();
    plain.cleanup();
    mixed.cleanup();
  });

  it('half compacted: the same dump and the same answers as never compacted', () => {
    assert.equal(b.packedRows().level1 > 0 && b.packedRows().level0 > 0, true);
    assert.deepEqual(dumpLines(b), dumpLines(a));
    assert.deepEqual(answers(b, raws, 2), answers(a, raws, 2));
  });

  it('fully compacted: level 0 empty, same dump and answers, fewer pages', () => {
    const before = a.stats().tables;
    const hash = a.dumpHash();
    const r = a.compact();
    assert.equal(a.packedRows().level0, 0);
    assert.equal(a.dumpHash(), hash);
    assert.deepEqual(answers(a, raws, 3), answers(b, raws, 3));
    const afterT = a.stats().tables;
    for (const t of ['txids', 'history', 'extspends']) {
      assert.ok(afterT[t].pages < before[t].pages, `${t}: ${before[t].pages} -> ${afterT[t].pages}`);
      assert.equal(afterT[t].entries, r.rows[t]);
    }
    // Compacting again changes nothing.
    a.compact();
    assert.equal(a.dumpHash(), hash);
  });

  it('disconnects through compacted blocks and reconnects to the same index', () => {
    const hash = a.dumpHash();
    const fresh = tempDir('cmp-fresh');
    const f = openIndex(fresh.dir, 'mainnet');
    connectAll(f, blocks.slice(0, 2));
    for (let i = 0; i < 4; i++) a.disconnectTip();
    assert.equal(a.tip()!.height, 840003);
    assert.equal(a.dumpHash(), f.dumpHash(), 'equals a fresh index of 840002-840003');
    assert.deepEqual(answers(a, raws, 5), answers(f, raws, 5));
    connectAll(a, blocks.slice(2));
    assert.equal(a.dumpHash(), hash);
    void f.close().then(fresh.cleanup);
  });
});

describe('index compaction: from genesis and across a reorg', () => {
  it('mainnet 0-599 compacted every 150 blocks equals the plain index', async () => {
    const blocks = mainnet600();
    const p = tempDir('cmp600a');
    const q = tempDir('cmp600b');
    const a = openIndex(p.dir, 'mainnet');
    const b = openIndex(q.dir, 'mainnet');
    for (const [h, raw] of blocks.entries()) {
      a.connectBlock(raw, h);
      b.connectBlock(raw, h);
      if (h % 150 === 149) b.compact();
    }
    assert.equal(b.dumpHash(), a.dumpHash());
    assert.deepEqual(answers(b, blocks, 2), answers(a, blocks, 2));
    await a.close();
    await b.close();
    p.cleanup();
    q.cleanup();
  });

  it('a reorg below the compaction point equals a fresh index of the new chain', async () => {
    const { main, side } = btcdReorgChain();
    const p = tempDir('cmpreorg');
    const q = tempDir('cmpreorgfresh');
    const ix = openIndex(p.dir, 'mainnet');
    for (const [h, raw] of main.entries()) ix.connectBlock(raw, h);
    ix.compact();
    ix.disconnectTip();
    ix.disconnectTip();
    for (const [i, raw] of side.entries()) ix.connectBlock(raw, 3 + i);
    const fresh = openIndex(q.dir, 'mainnet');
    for (const [h, raw] of [...main.slice(0, 3), ...side].entries()) fresh.connectBlock(raw, h);
    assert.deepEqual(dumpLines(ix), dumpLines(fresh));
    const all = [...main, ...side];
    assert.deepEqual(answers(ix, all, 1), answers(fresh, all, 1));
    await ix.close();
    await fresh.close();
    p.cleanup();
    q.cleanup();
  });
});

/** Runs the child (compacting in a loop) and SIGKILLs it `ms` after it starts compacting. */
function killDuringCompaction(dir: string, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let armed = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!armed && out.includes('go')) {
        armed = true;
        setTimeout(() => p.kill('SIGKILL'), ms);
      }
    });
    p.on('error', reject);
    p.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child ended without being killed: ${out}`));
      else resolve((out.match(/compacted/g) ?? []).length);
    });
  });
}

describe('index compaction: kill -9 during compaction', () => {
  it('loses nothing and changes nothing, whenever it is killed', async () => {
    const blocks = modern();
    const t = tempDir('cmpcrash');
    const ix = openIndex(t.dir, 'mainnet');
    connectAll(ix, blocks.slice(0, 5));
    const hash = ix.dumpHash();
    await ix.close();
    let seed = 4242;
    for (let round = 0; round < 8; round++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      // Kills land inside a compaction's transaction (one takes ~0.3 s) or between two.
      await killDuringCompaction(t.dir, 30 + (seed % 700));
      const again = openIndex(t.dir, 'mainnet');
      assert.equal(again.dumpHash(), hash, `round ${round}`);
      await again.close();
    }
    const ix2 = openIndex(t.dir, 'mainnet');
    ix2.connectBlock(blocks[5].raw, blocks[5].height);
    const ref = tempDir('cmpcrashref');
    const clean = openIndex(ref.dir, 'mainnet');
    connectAll(clean, blocks);
    assert.equal(ix2.dumpHash(), clean.dumpHash());
    await ix2.close();
    await clean.close();
    t.cleanup();
    ref.cleanup();
  });
});

describe('index compaction: the Syncer and bpd compact', () => {
  it('the Syncer compacts after a long catch-up; the dump equals a plain index', async () => {
    const blocks = mainnet600();
    const p = tempDir('cmpsync');
    const q = tempDir('cmpsyncplain');
    const ix = openIndex(p.dir, 'mainnet');
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(m), warn() {}, error() {} };
    const syncer = new Syncer(ix, new MemorySource(blocks), log, { compactCatchUp: 500 });
    let compacted: CompactResult | null = null;
    syncer.on('compacted', (r: CompactResult) => (compacted = r));
    await syncer.run({ exitAtTip: true });
    assert.ok(compacted !== null, logs.join('\n'));
    assert.equal(ix.packedRows().level0, 0);
    assert.ok(ix.packedRows().level1 > 1268);
    const plain = openIndex(q.dir, 'mainnet');
    for (const [h, raw] of blocks.entries()) plain.connectBlock(raw, h);
    assert.equal(ix.dumpHash(), plain.dumpHash());
    await ix.close();
    await plain.close();
    p.cleanup();
    q.cleanup();
  });

  it('a short catch-up does not compact', async () => {
    const p = tempDir('cmpsyncshort');
    const ix = openIndex(p.dir, 'mainnet');
    const syncer = new Syncer(ix, new MemorySource(mainnet600().slice(0, 50)), quiet, {
      compactCatchUp: 500,
    });
    await syncer.run({ exitAtTip: true });
    assert.equal(ix.packedRows().level1, 0);
    assert.ok(ix.packedRows().level0 > 0);
    await ix.close();
    p.cleanup();
  });

  it('bpd compact --datadir D compacts in place; a missing index is a one-line error', () => {
    const p = tempDir('cmpcli');
    const ix = openIndex(p.dir, 'mainnet');
    for (const b of modern().slice(0, 2)) ix.connectBlock(b.raw, b.height);
    const hash = ix.dumpHash();
    void ix.close();
    const r = spawnSync(process.execPath, ['--import', 'tsx', BPD, 'compact', '--datadir', p.dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^compacted \d+ new rows into level 1 \(txids \d+, spends \d+, extspends \d+, history \d+\)/,
    );
    const again = openIndex(p.dir, 'mainnet');
    assert.equal(again.packedRows().level0, 0);
    assert.equal(again.dumpHash(), hash);
    void again.close();
    const bad = spawnSync(
      process.execPath,
      ['--import', 'tsx', BPD, 'compact', '--datadir', join(p.dir, 'nope')],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^bpd compact: no index in .*nope\n$/);
    p.cleanup();
  });
});

describe('index: an index of another schema version', () => {
  it('upgrades a version-3 index in place when opened for writing (version 4 only added sorted runs)', async () => {
    const p = tempDir('schema3');
    const fresh = tempDir('schema3-fresh');
    // A version-3 index: what this build writes per block (no sorted runs), numbered 3.
    const ix = openIndex(p.dir, 'mainnet', { durability: 'os' });
    const f = openIndex(fresh.dir, 'mainnet', { durability: 'os' });
    for (let h = 840002; h <= 840004; h++) {
      ix.connectBlock(modernBlock(h), h);
      f.connectBlock(modernBlock(h), h);
    }
    await ix.close();
    const env = open({ path: join(p.dir, 'index'), maxDbs: 32, pageSize: 4096 });
    const meta = env.openDB({ name: 'meta', encoding: 'binary' });
    await env.transaction(() => meta.put('version', Uint8Array.of(0, 0, 0, 3)));
    await env.close();
    // A reader cannot upgrade it: refused until a writer has opened it once.
    assert.throws(
      () => openIndex(p.dir, 'mainnet', { readOnly: true }),
      /has schema version 3; this build reads 4/,
    );
    const up = openIndex(p.dir, 'mainnet', { durability: 'os' });
    up.connectBlock(modernBlock(840005), 840005);
    f.connectBlock(modernBlock(840005), 840005);
    assert.equal(up.dumpHash(), f.dumpHash());
    await up.close();
    await f.close();
    const again = openIndex(p.dir, 'mainnet', { readOnly: true });
    await again.close();
    p.cleanup();
    fresh.cleanup();
  });

  it('is refused with a clear error before any table is opened with the new flags', async () => {
    const p = tempDir('schema2');
    // What schema 2 left: meta version 2, and `extspends` a plain (not dupSort) table.
    const env = open({ path: join(p.dir, 'index'), maxDbs: 32, pageSize: 4096 });
    const meta = env.openDB({ name: 'meta', encoding: 'binary' });
    const ext = env.openDB({ name: 'extspends', keyEncoding: 'binary', encoding: 'binary' });
    await env.transaction(() => {
      meta.put('network', new TextEncoder().encode('mainnet'));
      meta.put('version', Uint8Array.of(0, 0, 0, 2));
      ext.put(new Uint8Array(36), new Uint8Array(8));
    });
    await env.close();
    for (const readOnly of [false, true]) {
      assert.throws(
        () => openIndex(p.dir, 'mainnet', { readOnly }),
        /has schema version 2; this build reads 4/,
      );
    }
    p.cleanup();
  });
});
