import { schnorr } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { ValueError } from '../errors.ts';
import type { ControlBlock } from '../script/controlblock.ts';

/** BIP-342 tapscript leaf version. */
export const TAPSCRIPT_LEAF_VERSION = 0xc0;

const N = schnorr.Point.Fn.ORDER;

function compactSizePrefix(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
}

/** BIP-341 tagged hash of a leaf: TapLeaf(leafVersion || compactSize(len) || script). */
export function tapLeafHash(script: Uint8Array, leafVersion = TAPSCRIPT_LEAF_VERSION): Uint8Array {
  if ((leafVersion & 0xfe) !== leafVersion)
    throw new ValueError('leaf version', `0x${leafVersion.toString(16)} is odd`);
  return schnorr.utils.taggedHash(
    'TapLeaf',
    Uint8Array.of(leafVersion),
    compactSizePrefix(script.length),
    script,
  );
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** BIP-341 TapBranch: the two child hashes in lexicographic order. */
export function tapBranchHash(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compare(a, b) <= 0
    ? schnorr.utils.taggedHash('TapBranch', a, b)
    : schnorr.utils.taggedHash('TapBranch', b, a);
}

export interface TapLeaf {
  readonly script: Uint8Array;
  /** Default 0xc0 (tapscript). */
  readonly leafVersion?: number;
}

/** A script tree as in the BIP-341 wallet vectors: a leaf, or a pair of subtrees. */
export type TapTree = TapLeaf | readonly [TapTree, TapTree];

export interface TapLeafInfo {
  readonly script: Uint8Array;
  readonly leafVersion: number;
  readonly leafHash: Uint8Array;
  /** Sibling hashes from the leaf up to the root: the control block's path. */
  readonly path: Uint8Array[];
}

/** Merkle root of a script tree and every leaf with its hash and path, leaves in left-to-right order. */
export function tapTree(tree: TapTree): { merkleRoot: Uint8Array; leaves: TapLeafInfo[] } {
  const leaves: TapLeafInfo[] = [];
  const walk = (t: TapTree, depth: number): { hash: Uint8Array; leaves: TapLeafInfo[] } => {
    if (depth > 128) throw new ValueError('script tree', 'deeper than 128 levels (BIP-341 limit)');
    if (Array.isArray(t)) {
      const [l, r] = t as readonly [TapTree, TapTree];
      const a = walk(l, depth + 1);
      const b = walk(r, depth + 1);
      // Each side's leaves gain the other side's hash as their next path element.
      for (const x of a.leaves) x.path.push(b.hash);
      for (const x of b.leaves) x.path.push(a.hash);
      return { hash: tapBranchHash(a.hash, b.hash), leaves: [...a.leaves, ...b.leaves] };
    }
    const leaf = t as TapLeaf;
    const leafVersion = leaf.leafVersion ?? TAPSCRIPT_LEAF_VERSION;
    const info = {
      script: leaf.script,
      leafVersion,
      leafHash: tapLeafHash(leaf.script, leafVersion),
      path: [],
    };
    leaves.push(info);
    return { hash: info.leafHash, leaves: [info] };
  };
  const root = walk(tree, 0);
  return { merkleRoot: root.hash, leaves };
}

export function tapMerkleRoot(tree: TapTree): Uint8Array {
  return tapTree(tree).merkleRoot;
}

/** BIP-341 TapTweak hash t = hashTapTweak(P || merkleRoot), merkleRoot omitted for key-path-only outputs. */
export function taprootTweak(internalKey: Uint8Array, merkleRoot?: Uint8Array): Uint8Array {
  checkLength(internalKey, 32, 'internal key');
  if (merkleRoot) checkLength(merkleRoot, 32, 'merkle root');
  return merkleRoot
    ? schnorr.utils.taggedHash('TapTweak', internalKey, merkleRoot)
    : schnorr.utils.taggedHash('TapTweak', internalKey);
}

export interface TaprootOutput {
  /** x-only output key Q (the P2TR witness program). */
  readonly outputKey: Uint8Array;
  /** Parity of Q's Y coordinate (the control block's low bit). */
  readonly parity: 0 | 1;
  readonly tweak: Uint8Array;
}

/**
 * BIP-341 taproot_tweak_pubkey: Q = lift_x(P) + int(t)G. Throws ValueError when P is not an x
 * coordinate on the curve or t >= n (negligible for real keys).
 */
export function taprootOutputKey(internalKey: Uint8Array, merkleRoot?: Uint8Array): TaprootOutput {
  const tweak = taprootTweak(internalKey, merkleRoot);
  const t = bytesToNumberBE(tweak);
  if (t >= N) throw new ValueError('taproot tweak', 'tweak is not below the curve order');
  let P: ReturnType<typeof schnorr.utils.lift_x>;
  try {
    P = schnorr.utils.lift_x(bytesToNumberBE(internalKey));
  } catch {
    throw new ValueError('internal key', 'not the x coordinate of a curve point');
  }
  const Q = t === 0n ? P : P.add(schnorr.Point.BASE.multiply(t));
  if (Q.is0()) throw new ValueError('taproot tweak', 'output key is the point at infinity');
  const c = Q.toBytes(true);
  return { outputKey: c.subarray(1), parity: (c[0] & 1) as 0 | 1, tweak };
}

/** Merkle root a control block proves for a leaf hash (BIP-341 script path, step by step up the path). */
export function controlBlockMerkleRoot(leafHash: Uint8Array, path: readonly Uint8Array[]): Uint8Array {
  let k = leafHash;
  for (const e of path) k = tapBranchHash(k, e);
  return k;
}

/**
 * Full BIP-341 script-path commitment check: the leaf and control block commit to outputKey
 * (x coordinate and parity). What consensus checks before running a tapscript.
 */
export function verifyTaprootCommitment(
  outputKey: Uint8Array,
  script: Uint8Array,
  cb: ControlBlock,
): boolean {
  const root = controlBlockMerkleRoot(tapLeafHash(script, cb.leafVersion), cb.path);
  let q: TaprootOutput;
  try {
    q = taprootOutputKey(cb.internalKey, root);
  } catch {
    return false;
  }
  if (q.parity !== cb.outputKeyParity || outputKey.length !== 32) return false;
  return compare(q.outputKey, outputKey) === 0;
}

function checkLength(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new ValueError(what, `expected ${n} bytes, got ${b.length}`);
}
