import { fromHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { headerHash } from '../block-check.ts';

/**
 * The best header chain in memory, plus the side branches seen recently, for headers-first sync.
 * Each header's proof of work is checked against its own nBits and each must connect to one we
 * hold; the branch with the most cumulative work is best (the first seen wins a tie, as in Core).
 * Contextual rules (retargeting, timestamps) are the peer's business: the P2P source trusts the
 * node it is pointed at for those.
 *
 * Memory: 32 bytes + 4 bytes of nBits per best-chain header in flat arrays, plus one map entry;
 * about 90 bytes per header, ~80 MB for mainnet.
 */
export class HeaderChain {
  private hashes: Uint8Array;
  private bits: Uint32Array;
  private byHash = new Map<string, number>();
  /** Headers off the best chain, keyed by hash. */
  private side = new Map<string, SideEntry>();
  height = 0;

  constructor(genesisHeaderHex: string) {
    const genesis = fromHex(genesisHeaderHex, 'genesis');
    this.hashes = new Uint8Array(32 * 1024);
    this.bits = new Uint32Array(1024);
    const hash = headerHash(genesis);
    this.hashes.set(hash, 0);
    this.bits[0] = readBits(genesis);
    this.byHash.set(key(hash), 0);
  }

  get tipHash(): Uint8Array {
    return this.hashAt(this.height) as Uint8Array;
  }

  hashAt(height: number): Uint8Array | null {
    if (!Number.isInteger(height) || height < 0 || height > this.height) return null;
    return this.hashes.slice(height * 32, height * 32 + 32);
  }

  heightOf(hash: Uint8Array): number | undefined {
    return this.byHash.get(key(hash));
  }

  has(hash: Uint8Array): boolean {
    const k = key(hash);
    return this.byHash.has(k) || this.side.has(k);
  }

  /**
   * Block locator: the last 10 heights, then doubling steps back, always ending at genesis.
   */
  locator(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let step = 1;
    for (let h = this.height; h > 0; h -= step) {
      out.push(this.hashAt(h) as Uint8Array);
      if (out.length >= 10) step *= 2;
    }
    out.push(this.hashAt(0) as Uint8Array);
    return out;
  }

  /**
   * Adds headers (in the order a peer sent them). Returns whether the best tip changed and the
   * lowest height whose best-chain hash changed, or throws DecodeError for a header failing its
   * proof of work, and UnconnectedHeaders when one does not connect to anything held.
   */
  add(headers: Uint8Array[]): { changed: boolean; forkHeight: number } {
    let changed = false;
    let forkHeight = Number.POSITIVE_INFINITY;
    for (let i = 0; i < headers.length; i++) {
      const raw = headers[i];
      const hash = headerHash(raw);
      const k = key(hash);
      if (this.byHash.has(k) || this.side.has(k)) continue;
      const bits = readBits(raw);
      if (!checkPow(hash, bits)) {
        throw new DecodeError(
          'invalid-value',
          `headers[${i}]`,
          0,
          `proof of work of ${toHexReversed(hash)} does not meet its nBits`,
        );
      }
      const prev = raw.subarray(4, 36);
      const pk = key(prev);
      const prevHeight = this.byHash.get(pk);
      if (prevHeight === this.height) {
        this.append(hash, bits);
        changed = true;
        forkHeight = Math.min(forkHeight, this.height);
        continue;
      }
      const prevSide = this.side.get(pk);
      if (prevHeight === undefined && prevSide === undefined) throw new UnconnectedHeaders(prev);
      const height = prevHeight !== undefined ? prevHeight + 1 : (prevSide as SideEntry).height + 1;
      this.side.set(k, { hash, prev: pk, height, bits });
      const fork = this.maybeReorg(k);
      if (fork !== null) {
        changed = true;
        forkHeight = Math.min(forkHeight, fork + 1);
      }
    }
    this.pruneSide();
    return { changed, forkHeight };
  }

  private append(hash: Uint8Array, bits: number): void {
    const h = this.height + 1;
    if (h * 32 + 32 > this.hashes.length) {
      const next = new Uint8Array(this.hashes.length * 2);
      next.set(this.hashes);
      this.hashes = next;
      const nb = new Uint32Array(this.bits.length * 2);
      nb.set(this.bits);
      this.bits = nb;
    }
    this.hashes.set(hash, h * 32);
    this.bits[h] = bits;
    this.byHash.set(key(hash), h);
    this.height = h;
  }

  /** Switches to the branch ending at side entry `k` if it has more work; returns the fork height. */
  private maybeReorg(k: string): number | null {
    const branch: SideEntry[] = [];
    let cur: string = k;
    let forkHeight: number | undefined;
    for (;;) {
      const e = this.side.get(cur);
      if (e === undefined) {
        forkHeight = this.byHash.get(cur);
        break;
      }
      branch.push(e);
      cur = e.prev;
    }
    if (forkHeight === undefined) return null;
    let branchWork = 0n;
    for (const e of branch) branchWork += blockWork(e.bits);
    let bestWork = 0n;
    for (let h = forkHeight + 1; h <= this.height; h++) bestWork += blockWork(this.bits[h]);
    if (branchWork <= bestWork) return null;
    // Move the replaced best-chain headers to the side map so a later switch back can find them.
    for (let h = this.height; h > forkHeight; h--) {
      const hash = this.hashAt(h) as Uint8Array;
      const hk = key(hash);
      this.byHash.delete(hk);
      this.side.set(hk, { hash, prev: key(this.hashAt(h - 1) as Uint8Array), height: h, bits: this.bits[h] });
    }
    this.height = forkHeight;
    for (let i = branch.length - 1; i >= 0; i--) {
      const e = branch[i];
      this.side.delete(key(e.hash));
      this.append(e.hash, e.bits);
    }
    return forkHeight;
  }

  /** Side branches far below the tip can no longer win; forget them to bound memory. */
  private pruneSide(): void {
    if (this.side.size < 5000) return;
    const floor = this.height - 2000;
    for (const [k, e] of this.side) if (e.height < floor) this.side.delete(k);
  }
}

interface SideEntry {
  hash: Uint8Array;
  prev: string;
  height: number;
  bits: number;
}

export class UnconnectedHeaders extends Error {
  override readonly name = 'UnconnectedHeaders';
  constructor(readonly prev: Uint8Array) {
    super(`header does not connect: unknown previous block ${toHexReversed(prev)}`);
  }
}

function key(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, 32).toString('latin1');
}

function readBits(header: Uint8Array): number {
  return (header[72] | (header[73] << 8) | (header[74] << 16) | (header[75] << 24)) >>> 0;
}

/** nBits to target; null where Core's SetCompact reports negative or overflow. */
export function targetFromBits(bits: number): bigint | null {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  if (bits & 0x00800000 && mantissa !== 0) return null;
  if (
    mantissa !== 0 &&
    (exponent > 34 || (mantissa > 0xff && exponent > 33) || (mantissa > 0xffff && exponent > 32))
  ) {
    return null;
  }
  if (exponent <= 3) return BigInt(mantissa >>> (8 * (3 - exponent)));
  return BigInt(mantissa) << BigInt(8 * (exponent - 3));
}

export function checkPow(hash: Uint8Array, bits: number): boolean {
  const target = targetFromBits(bits);
  if (target === null || target === 0n) return false;
  let v = 0n;
  for (let i = 31; i >= 0; i--) v = (v << 8n) | BigInt(hash[i]);
  return v <= target;
}

export function blockWork(bits: number): bigint {
  const target = targetFromBits(bits);
  if (target === null || target === 0n) return 0n;
  return (1n << 256n) / (target + 1n);
}
