import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NETWORK_MAGIC, type NetworkName } from '@lnpbp/bitcoin/network';
import { openIndex } from '../src/index/index.ts';
import { BlocksSource } from '../src/source/blocks/source.ts';
import { Syncer, type SyncLogger } from '../src/sync/syncer.ts';
import { btcdReorgChain, ChainBuilder, MemorySource, mainnet600, tempDir } from './index-support.ts';

const quiet: SyncLogger = { info() {}, warn() {}, error() {} };

/** Core's record framing: magic (BE) | size (LE) | block. */
function record(raw: Uint8Array, network: NetworkName): Uint8Array {
  const r = new Uint8Array(8 + raw.length);
  const v = new DataView(r.buffer);
  v.setUint32(0, NETWORK_MAGIC[network], false);
  v.setUint32(4, raw.length, true);
  r.set(raw, 8);
  return r;
}

/** Writes blocks into blk files in the given order, `perFile` each, XORed with `key` like Core 28. */
function writeBlocksDir(
  dir: string,
  blocks: Uint8Array[],
  network: NetworkName,
  perFile: number,
  key: Uint8Array | null,
): void {
  if (key) writeFileSync(join(dir, 'xor.dat'), key);
  for (let f = 0; f * perFile < blocks.length; f++) {
    const parts = blocks.slice(f * perFile, (f + 1) * perFile).map((b) => record(b, network));
    const size = parts.reduce((n, p) => n + p.length, 0);
    // Core preallocates: a zeroed tail after the last record.
    const file = new Uint8Array(size + 4096);
    let o = 0;
    for (const p of parts) {
      file.set(p, o);
      o += p.length;
    }
    if (key) for (let i = 0; i < file.length; i++) file[i] ^= key[i & 7];
    writeFileSync(join(dir, `blk${String(f).padStart(5, '0')}.dat`), file);
  }
}

/** A deterministic shuffle (blocks arrive out of order in Core's files). */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function dumpOf(network: NetworkName, blocks: Uint8Array[]): Promise<string> {
  const t = tempDir('blkref');
  const ix = openIndex(t.dir, network);
  for (const [h, raw] of blocks.entries()) ix.connectBlock(raw, h);
  const hash = ix.dumpHash();
  await ix.close();
  t.cleanup();
  return hash;
}

describe('sync from a blocks dir', () => {
  it('reassembles shuffled, XOR-obfuscated mainnet blk files with stale branches into the best chain', async () => {
    const blocks = mainnet600();
    const { main, side } = btcdReorgChain();
    // btcd's test chain forks from mainnet genesis at height 1: a lighter stale branch here.
    const all = shuffled([...blocks, ...main.slice(1), ...side], 7);
    const d = tempDir('blkdir');
    const data = tempDir('blkdata');
    writeBlocksDir(
      d.dir,
      all,
      'mainnet',
      211,
      Uint8Array.from([0x13, 0x57, 0x9b, 0xdf, 0x02, 0x46, 0x8a, 0xce]),
    );
    const src = new BlocksSource({ dir: d.dir, network: 'mainnet', pollMs: 0 });
    const ix = openIndex(data.dir, 'mainnet');
    await new Syncer(ix, src, quiet).run({ exitAtTip: true });
    assert.equal(src.blk.byHash.size, 600 + 4 + 3);
    assert.equal(ix.tip()!.height, 599);
    assert.equal(ix.dumpHash(), await dumpOf('mainnet', blocks));
    await ix.close();
    d.cleanup();
    data.cleanup();
  });

  it('refuses files of another network with a clear error', async () => {
    const d = tempDir('blknet');
    writeBlocksDir(d.dir, mainnet600().slice(0, 3), 'mainnet', 10, null);
    const src = new BlocksSource({ dir: d.dir, network: 'testnet', pollMs: 0 });
    await assert.rejects(src.start(), /bad-magic/);
    d.cleanup();
  });

  it('hands over to the live source past the files, and where the files hold a stale branch', async () => {
    const a = new ChainBuilder(1);
    for (let i = 0; i < 30; i++) a.add();
    const b = a.fork(24, 2);
    for (let i = 0; i < 15; i++) b.add();
    // Core's files hold branch A up to 29 (stale from 25 on); the live node follows B to 39.
    const d = tempDir('blklive');
    const data = tempDir('blklivedata');
    writeBlocksDir(d.dir, shuffled(a.blocks, 3), 'regtest', 7, null);
    const live = new MemorySource(b.blocks);
    const src = new BlocksSource({ dir: d.dir, network: 'regtest', live });
    const ix = openIndex(data.dir, 'regtest');
    await new Syncer(ix, src, quiet).run({ exitAtTip: true });
    assert.equal(ix.tip()!.height, 39);
    assert.equal(ix.dumpHash(), await dumpOf('regtest', b.blocks));
    assert.equal(live.served, 15, 'heights 25-39 from the live source, 0-24 from the files');
    await ix.close();
    d.cleanup();
    data.cleanup();
  });

  it('without a live source, follows blocks Core appends to its files', async () => {
    const c = new ChainBuilder(4);
    for (let i = 0; i < 12; i++) c.add();
    const d = tempDir('blkpoll');
    const data = tempDir('blkpolldata');
    writeBlocksDir(d.dir, c.blocks.slice(0, 10), 'regtest', 100, null);
    const src = new BlocksSource({ dir: d.dir, network: 'regtest', pollMs: 20 });
    const ix = openIndex(data.dir, 'regtest');
    const s = new Syncer(ix, src, quiet);
    const first = new Promise((r) => s.once('synced', r));
    const running = s.run();
    await first;
    assert.equal(ix.tip()!.height, 9);
    const reached = new Promise<void>((resolve) =>
      s.on('block', (r: { height: number }) => {
        if (r.height === 11) resolve();
      }),
    );
    // A new file, as Core opens blk00001.dat when blk00000.dat is full.
    appendFileSync(join(d.dir, 'blk00001.dat'), record(c.blocks[10], 'regtest'));
    appendFileSync(join(d.dir, 'blk00001.dat'), record(c.blocks[11], 'regtest'));
    await reached;
    assert.equal(ix.dumpHash(), await dumpOf('regtest', c.blocks));
    await s.stop();
    await running;
    await ix.close();
    d.cleanup();
    data.cleanup();
  });
});
