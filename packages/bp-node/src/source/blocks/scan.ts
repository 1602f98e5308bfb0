import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_BLOCK_SERIALIZED_SIZE } from '@lnpbp/bitcoin/block/blkfile';
import { blockWork } from '@lnpbp/bitcoin/block/header';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import { NETWORK_MAGIC, type NetworkName } from '@lnpbp/bitcoin/network';

/** Where a block sits in Core's blocks dir, and its place in the header tree. */
export interface BlkEntry {
  hash: Uint8Array;
  prev: string;
  file: number;
  /** Offset of the block bytes (after the 8-byte record header). */
  offset: number;
  size: number;
  bits: number;
  /** -1 until linked to the genesis side of the tree. */
  height: number;
  work: bigint;
}

const ZERO = '00'.repeat(32);
const BLK = /^blk(\d{5})\.dat$/;

/**
 * Core's blocks dir read record by record: blk*.dat files are a series of
 * [magic][size u32 LE][block]; Core writes blocks as they arrive, so they are out of order and
 * include stale branches; since Core 28 every byte is XORed with the 8-byte key in xor.dat
 * (key[filePos % 8]). Only the 88-byte record head of each block is read while scanning; the
 * best chain is the one with the most work linked to a block whose prev hash is zero.
 */
export class BlkIndex {
  readonly key: Uint8Array | null;
  readonly byHash = new Map<string, BlkEntry>();
  /** Best chain by height (entries). */
  chain: BlkEntry[] = [];
  /** Per file: how far records were read (the rest is Core's zero preallocation or unwritten). */
  private readonly scanned = new Map<number, number>();
  private readonly magic: number;

  constructor(
    readonly dir: string,
    readonly network: NetworkName,
  ) {
    this.magic = NETWORK_MAGIC[network];
    const xor = join(dir, 'xor.dat');
    if (existsSync(xor)) {
      const k = new Uint8Array(readFileSync(xor));
      if (k.length !== 8)
        throw new DecodeError('invalid-value', 'xor.dat', 0, `key is ${k.length} bytes, expected 8`);
      this.key = k.every((b) => b === 0) ? null : k;
    } else this.key = null;
  }

  files(): number[] {
    return readdirSync(this.dir)
      .map((n) => BLK.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  fileName(n: number): string {
    return join(this.dir, `blk${String(n).padStart(5, '0')}.dat`);
  }

  /** Reads `length` bytes at `pos` of file n, de-obfuscated. */
  read(file: number, pos: number, length: number): Uint8Array {
    const fd = openSync(this.fileName(file), 'r');
    try {
      return this.readFd(fd, pos, length);
    } finally {
      closeSync(fd);
    }
  }

  private readFd(fd: number, pos: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, pos + done);
      if (n === 0)
        throw new DecodeError('truncated', 'blk file', pos + done, `${length - done} bytes missing`);
      done += n;
    }
    if (this.key) for (let i = 0; i < length; i++) out[i] ^= this.key[(pos + i) & 7];
    return out;
  }

  /** Reads records not seen yet; returns how many new blocks were found. */
  scan(): number {
    let added = 0;
    for (const f of this.files()) {
      const size = statSync(this.fileName(f)).size;
      let pos = this.scanned.get(f) ?? 0;
      if (pos >= size) continue;
      const fd = openSync(this.fileName(f), 'r');
      try {
        while (pos + 88 <= size) {
          const head = this.readFd(fd, pos, 88);
          const v = new DataView(head.buffer);
          const magic = v.getUint32(0, false);
          if (magic === 0) break; // preallocated, not yet written
          if (magic !== this.magic) {
            throw new DecodeError(
              'bad-magic',
              `blk${f}`,
              pos,
              `magic ${magic.toString(16)}, expected ${this.magic.toString(16)}`,
            );
          }
          const len = v.getUint32(4, true);
          if (len < 81 || len > MAX_BLOCK_SERIALIZED_SIZE)
            throw new DecodeError('oversized', `blk${f}`, pos + 4, `size ${len}`);
          if (pos + 8 + len > size) break; // being written
          const header = head.subarray(8, 88);
          const hash = sha256d(header);
          const key = toHex(hash);
          if (!this.byHash.has(key)) {
            this.byHash.set(key, {
              hash,
              prev: toHex(header.subarray(4, 36)),
              file: f,
              offset: pos + 8,
              size: len,
              bits: v.getUint32(8 + 72, true),
              height: -1,
              work: 0n,
            });
            added++;
          }
          pos += 8 + len;
        }
      } finally {
        closeSync(fd);
      }
      this.scanned.set(f, pos);
    }
    if (added > 0) this.link();
    return added;
  }

  /** Heights and cumulative work for every block connected to a root; picks the best chain. */
  private link(): void {
    let best: BlkEntry | null = this.chain.length ? this.chain[this.chain.length - 1] : null;
    for (const e of this.byHash.values()) {
      if (e.height >= 0) continue;
      // Walk up to a linked ancestor (or a root), then fill heights back down.
      const path: BlkEntry[] = [];
      let cur: BlkEntry | undefined = e;
      while (cur && cur.height < 0) {
        path.push(cur);
        if (cur.prev === ZERO) {
          cur = undefined;
          break;
        }
        cur = this.byHash.get(cur.prev);
      }
      const top = path[path.length - 1];
      if (cur === undefined && top.prev !== ZERO) continue; // orphan: its parent is not here (yet)
      let height = cur ? cur.height : -1;
      let work = cur ? cur.work : 0n;
      for (let i = path.length - 1; i >= 0; i--) {
        height++;
        work += blockWork(path[i].bits);
        path[i].height = height;
        path[i].work = work;
        if (best === null || path[i].work > best.work) best = path[i];
      }
    }
    if (best === null) return;
    const chain: BlkEntry[] = new Array(best.height + 1);
    for (let c: BlkEntry | undefined = best; c; c = c.prev === ZERO ? undefined : this.byHash.get(c.prev)) {
      chain[c.height] = c;
    }
    this.chain = chain;
  }

  get tip(): BlkEntry | null {
    return this.chain.length ? this.chain[this.chain.length - 1] : null;
  }

  /** The block bytes of a best-chain entry, checked against its hash. */
  block(e: BlkEntry): Uint8Array {
    const raw = this.read(e.file, e.offset, e.size);
    if (toHex(sha256d(raw.subarray(0, 80))) !== toHex(e.hash)) {
      throw new DecodeError('invalid-value', `blk${e.file}`, e.offset, 'block changed under the scan');
    }
    return raw;
  }
}
