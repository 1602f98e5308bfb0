import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlkRecords } from '@lnpbp/bitcoin/block/blkfile';
import { checkProofOfWork, parseHeader } from '@lnpbp/bitcoin/block/header';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { ByteWriter } from '@lnpbp/bitcoin/bytes/writer';
import { merkleRoot } from '@lnpbp/bitcoin/hash/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import { serializeHeader, serializeTx } from '@lnpbp/bitcoin/tx/serialize';
import { Block as BjsBlock } from 'bitcoinjs-lib';
import { readFixture } from '../../../test/support/fixtures.ts';
import { type Index, openIndex } from '../src/index/index.ts';
import type { BlockRef, ChainSource, SourceBlock } from '../src/source/types.ts';

/** Mainnet blocks 0-599 (raw), heights = file order. */
export function mainnet600(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of ['chain/blk00000.dat', 'chain/blk00001.dat']) {
    for (const r of readBlkRecords(readFixture(f), 'mainnet')) out.push(r.raw);
  }
  return out;
}

/** btcd's reorg test chain: main 0-4, side branch 3A-5A forking after block 2. */
export function btcdReorgChain(): { main: Uint8Array[]; side: Uint8Array[] } {
  const main = [...readBlkRecords(readFixture('chain/reorg-blk_0_to_4.dat'), 'mainnet')].map((r) => r.raw);
  const side = ['3A', '4A', '5A'].map(
    (n) => [...readBlkRecords(readFixture(`chain/reorg-blk_${n}.dat`), 'mainnet')][0].raw,
  );
  return { main, side };
}

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bpd-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A block at its height. */
export interface Blk {
  raw: Uint8Array;
  height: number;
}

/** Runs `f` on a fresh mainnet index in a temp datadir, closed and removed after. */
export async function withIndex<T>(f: (ix: Index) => T | Promise<T>, tag = 'index'): Promise<T> {
  const t = tempDir(tag);
  const ix = openIndex(t.dir, 'mainnet');
  try {
    return await f(ix);
  } finally {
    await ix.close();
    t.cleanup();
  }
}

/** The dump hash of `blocks` connected one by one: what every other way of indexing must equal. */
export function perBlockHash(blocks: Blk[]): Promise<string> {
  return withIndex((ix) => {
    for (const b of blocks) ix.connectBlock(b.raw, b.height);
    return ix.dumpHash();
  });
}

export interface RefSpend {
  txid: string;
  vin: number;
  height: number;
}

export interface RefHistoryEntry {
  kind: 'funding' | 'spending';
  txid: string;
  index: number;
  height: number;
  value: bigint;
}

/**
 * An independent model of what the index must answer, computed with bitcoinjs-lib and node's
 * sha256 over the same blocks: spends by outpoint, history by script hash, the UTXO set.
 */
export class Reference {
  readonly spends = new Map<string, RefSpend>();
  readonly history = new Map<string, RefHistoryEntry[]>();
  readonly utxos = new Map<string, { value: bigint; script: string }>();
  readonly outputs = new Map<string, { value: bigint; script: string }>();
  readonly txs = new Map<string, { height: number; position: number; hex: string }>();

  constructor(blocks: Uint8Array[], baseHeight = 0) {
    for (const [i, raw] of blocks.entries()) this.add(raw, baseHeight + i);
  }

  private add(raw: Uint8Array, height: number): void {
    const b = BjsBlock.fromBuffer(Buffer.from(raw));
    for (const [pos, tx] of b.transactions!.entries()) {
      const txid = tx.getId();
      this.txs.set(txid, { height, position: pos, hex: tx.toHex() });
      if (pos > 0) {
        for (const [vin, inp] of tx.ins.entries()) {
          const prev = `${Buffer.from(inp.hash).reverse().toString('hex')}:${inp.index}`;
          this.spends.set(prev, { txid, vin, height });
          const o = this.outputs.get(prev);
          this.utxos.delete(prev);
          if (o) this.push(o.script, { kind: 'spending', txid, index: vin, height, value: o.value });
        }
      }
      for (const [vout, out] of tx.outs.entries()) {
        const script = Buffer.from(out.script).toString('hex');
        const value = BigInt(out.value);
        this.outputs.set(`${txid}:${vout}`, { value, script });
        if (!(out.script.length > 0 && out.script[0] === 0x6a))
          this.utxos.set(`${txid}:${vout}`, { value, script });
        this.push(script, { kind: 'funding', txid, index: vout, height, value });
      }
    }
  }

  private push(scriptHex: string, e: RefHistoryEntry): void {
    const key = scriptHashHex(scriptHex);
    let l = this.history.get(key);
    if (!l) {
      l = [];
      this.history.set(key, l);
    }
    l.push(e);
  }
}

/** sha256(script) as hex of the digest bytes (internal order, as the index keys it). */
export function scriptHashHex(scriptHex: string): string {
  return createHash('sha256').update(Buffer.from(scriptHex, 'hex')).digest('hex');
}

/** A spendable output of a synthetic regtest chain. */
export interface Coin {
  txid: Uint8Array;
  vout: number;
  value: bigint;
  script: Uint8Array;
}

/** OP_TRUE-style scripts distinct per tag, so each test output has its own history. */
export function testScript(tag: number): Uint8Array {
  return Uint8Array.from([0x51, 0x04, tag >>> 24, (tag >>> 16) & 0xff, (tag >>> 8) & 0xff, tag & 0xff, 0x75]);
}

/** A legacy tx spending `ins` into `outs` (no scripts are checked by the index). */
export function makeTx(
  ins: { txid: Uint8Array; vout: number }[],
  outs: { value: bigint; script: Uint8Array }[],
  lock = 0,
): Uint8Array {
  return serializeTx({
    version: 2,
    inputs: ins.map((i) => ({
      prevTxid: i.txid,
      vout: i.vout,
      scriptSig: new Uint8Array(0),
      sequence: 0xffffffff,
      witness: [],
    })),
    outputs: outs.map((o) => ({ value: o.value, scriptPubKey: o.script })),
    locktime: lock,
  });
}

export function coinbase(height: number, outs: { value: bigint; script: Uint8Array }[], tag = 0): Uint8Array {
  const sig = Uint8Array.from([
    4,
    height & 0xff,
    (height >>> 8) & 0xff,
    (height >>> 16) & 0xff,
    height >>> 24,
    1,
    tag & 0xff,
  ]);
  return serializeTx({
    version: 1,
    inputs: [
      { prevTxid: new Uint8Array(32), vout: 0xffffffff, scriptSig: sig, sequence: 0xffffffff, witness: [] },
    ],
    outputs: outs.map((o) => ({ value: o.value, scriptPubKey: o.script })),
    locktime: 0,
  });
}

export function txidOf(raw: Uint8Array): Uint8Array {
  return parseTx(raw).txid();
}

/** A block on `prevHash` holding `txs` (coinbase first), mined at regtest difficulty. */
export function mineBlock(prevHash: Uint8Array, txs: Uint8Array[], time: number): Uint8Array {
  const ids = new Uint8Array(32 * txs.length);
  txs.forEach((t, i) => {
    ids.set(txidOf(t), 32 * i);
  });
  const root = merkleRoot(ids, txs.length);
  const w = new ByteWriter(1024);
  for (let nonce = 0; ; nonce++) {
    const header = serializeHeader({
      version: 0x20000000,
      prevHash,
      merkleRoot: root,
      time,
      bits: 0x207fffff,
      nonce,
    });
    if (!checkProofOfWork(parseHeader(header))) continue;
    w.bytes(header).compactSize(txs.length);
    for (const t of txs) w.bytes(t);
    return w.finish();
  }
}

/** Builds regtest chains block by block, tracking coins for the tests to spend. */
export class ChainBuilder {
  readonly blocks: Uint8Array[] = [];
  readonly hashes: Uint8Array[] = [];
  private time = 1_700_000_000;

  constructor(readonly tag = 0) {}

  get height(): number {
    return this.blocks.length - 1;
  }

  get tipHash(): Uint8Array {
    return this.hashes.length ? this.hashes[this.hashes.length - 1] : new Uint8Array(32);
  }

  /** Appends a block with a coinbase paying `script` plus `txs`; returns the coinbase coin. */
  add(txs: Uint8Array[] = [], script = testScript(this.blocks.length)): Coin {
    const height = this.blocks.length;
    const cb = coinbase(height, [{ value: 50n * 100_000_000n, script }], this.tag);
    const raw = mineBlock(this.tipHash, [cb, ...txs], this.time++);
    this.blocks.push(raw);
    this.hashes.push(parseBlock(raw).header.hash());
    return { txid: txidOf(cb), vout: 0, value: 50n * 100_000_000n, script };
  }

  /** A copy sharing blocks up to `height`, for a competing branch. */
  fork(height: number, tag: number): ChainBuilder {
    const c = new ChainBuilder(tag);
    c.blocks.push(...this.blocks.slice(0, height + 1));
    c.hashes.push(...this.hashes.slice(0, height + 1));
    c.time = this.time + 1000;
    return c;
  }
}

/** A ChainSource over blocks held in memory, whose chain and mempool a test can change. */
export class MemorySource extends EventEmitter implements ChainSource {
  readonly kind = 'p2p' as const;
  private blocks: Uint8Array[] = [];
  private hashes: Uint8Array[] = [];
  mempool: Uint8Array[] = [];
  /** Served instead of the real block at that height (a lying peer). */
  readonly corrupt = new Map<number, Uint8Array>();
  /** getTip calls that fail before one succeeds. */
  failures = 0;
  served = 0;

  constructor(blocks: Uint8Array[] = []) {
    super();
    this.setChain(blocks, false);
  }

  setChain(blocks: Uint8Array[], announce = true): void {
    this.blocks = blocks.slice();
    this.hashes = blocks.map((b) => parseBlock(b).header.hash());
    if (announce) this.emit('tip');
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async getTip(): Promise<BlockRef> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('source unavailable (test)');
    }
    const h = this.blocks.length - 1;
    return { height: h, hash: this.hashes[h] };
  }

  async getBlockHash(height: number): Promise<Uint8Array | null> {
    return this.hashes[height] ?? null;
  }

  async *getBlocks(from: number, to: number): AsyncIterable<SourceBlock> {
    for (let h = from; h <= to; h++) {
      this.served++;
      yield { height: h, hash: this.hashes[h], raw: this.corrupt.get(h) ?? this.blocks[h] };
    }
  }

  async getMempool(): Promise<Uint8Array[]> {
    return this.mempool.slice();
  }

  async broadcast(raw: Uint8Array): Promise<void> {
    this.mempool.push(raw);
    this.emit('tx', raw);
  }
}

/**
 * Runs a crash-test child (`<child> <dir>` under tsx) and SIGKILLs it `killAfterMs` after it
 * printed `go <height>` (the height it starts from; null = let it finish). Resolves with whether
 * it was killed and that height (-2 when it was killed before saying it).
 */
export function runCrashChild(
  child: string,
  dir: string,
  killAfterMs: number | null,
): Promise<{ killed: boolean; start: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let start = -2;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /go (-?\d+)/.exec(out);
      if (m && start === -2) {
        start = Number(m[1]);
        if (killAfterMs !== null) setTimeout(() => p.kill('SIGKILL'), killAfterMs);
      }
    });
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, start });
      else if (code === 0) resolve({ killed: false, start });
      else reject(new Error(`child exited ${code}`));
    });
  });
}
