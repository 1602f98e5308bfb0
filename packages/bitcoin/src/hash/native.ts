/**
 * Loads the N-API addon built from packages/bitcoin/native (SHA-NI with a portable C core).
 * Absent, unloadable, failing its self-test, or disabled with BP_NO_NATIVE=1: `nativeImpl` is
 * null and callers use the JS implementation; nothing is printed.
 */
import { createRequire } from 'node:module';
import { checkMerkleArgs, type HashImpl } from './types.ts';

interface Addon {
  sha256(data: Uint8Array, out: Uint8Array): void;
  sha256d(data: Uint8Array, out: Uint8Array): void;
  sha256dBatch(data: Uint8Array, segments: Uint32Array, counts: Uint32Array, out: Uint8Array): void;
  /** Absent from addons built before it was added (the caller falls back to one call per range). */
  sha256Ranges?(data: Uint8Array, segments: Uint32Array, out: Uint8Array): void;
  merkleRoot(hashes: Uint8Array, n: number, out: Uint8Array): void;
  /** "sha-ni" or "portable": the compression core in use. */
  impl(): string;
  /** Switches every call to the portable core (on) or back to CPU detection (off). */
  forcePortable(on: boolean): void;
}

const ADDON_PATH = '../../native/build/Release/bp_hash.node';

/** sha256("abc"), FIPS 180-2 appendix B.1. */
const ABC_DIGEST = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

function load(): Addon | null {
  if (process.env.BP_NO_NATIVE === '1') return null;
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
    const out = new Uint8Array(32);
    addon.sha256(new TextEncoder().encode('abc'), out);
    return Buffer.from(out).toString('hex') === ABC_DIGEST ? addon : null;
  } catch {
    return null;
  }
}

export const addon: Addon | null = load();

/**
 * V8 keeps typed arrays of <= 64 bytes inside the JS heap; the first time N-API touches one it
 * moves it out (~1 us, ten times the hash). So small inputs are copied into a long-lived
 * off-heap scratch, results land in a long-lived off-heap scratch, and a `slice()` (cheap,
 * on-heap) hands the caller its own copy.
 */
const ON_HEAP_MAX = 64;

function wrap(a: Addon): HashImpl {
  const scratchIn = new Uint8Array(new ArrayBuffer(ON_HEAP_MAX));
  const scratchOut = new Uint8Array(new ArrayBuffer(32));
  const input = (data: Uint8Array): Uint8Array => {
    if (data.length > ON_HEAP_MAX) return data;
    scratchIn.set(data);
    return scratchIn.subarray(0, data.length);
  };
  return {
    name: 'native',
    sha256(data) {
      a.sha256(input(data), scratchOut);
      return scratchOut.slice();
    },
    sha256d(data) {
      a.sha256d(input(data), scratchOut);
      return scratchOut.slice();
    },
    sha256dBatch: a.sha256dBatch,
    merkleRoot(hashes, n) {
      // Checked here too: the addon's uint32 conversion would wrap a negative or fractional n.
      checkMerkleArgs(hashes, n);
      a.merkleRoot(hashes, n, scratchOut);
      return scratchOut.slice();
    },
  };
}

export const nativeImpl: HashImpl | null = addon ? wrap(addon) : null;

/**
 * sha256 of `data` written into `out` at `offset`, with no allocation (hot loops hash one
 * script per output). Null when the addon is not in use.
 */
export const nativeSha256Into: ((data: Uint8Array, out: Uint8Array, offset: number) => void) | null = addon
  ? (() => {
      const a = addon;
      const scratchIn = new Uint8Array(new ArrayBuffer(ON_HEAP_MAX));
      const scratchOut = new Uint8Array(new ArrayBuffer(32));
      return (data: Uint8Array, out: Uint8Array, offset: number) => {
        let d = data;
        if (data.length <= ON_HEAP_MAX) {
          scratchIn.set(data);
          d = scratchIn.subarray(0, data.length);
        }
        a.sha256(d, scratchOut);
        out.set(scratchOut, offset);
      };
    })()
  : null;
