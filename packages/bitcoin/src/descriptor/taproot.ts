/** BIP-341 output key: TapLeaf/TapBranch merkle root and the TapTweak of the internal key. */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';

const { taggedHash, lift_x } = schnorr.utils;
const N = secp256k1.Point.CURVE().n;

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
}

export function tapLeafHash(script: Uint8Array, leafVersion = 0xc0): Uint8Array {
  return taggedHash('TapLeaf', Uint8Array.of(leafVersion), compactSize(script.length), script);
}

export function tapBranchHash(a: Uint8Array, b: Uint8Array): Uint8Array {
  let lt = false;
  for (let i = 0; i < 32; i++) {
    if (a[i] !== b[i]) {
      lt = a[i] < b[i];
      break;
    }
  }
  return lt ? taggedHash('TapBranch', a, b) : taggedHash('TapBranch', b, a);
}

/** x-only output key Q = P + H_TapTweak(P || root)·G. */
export function tweakXOnly(internal: Uint8Array, merkleRoot?: Uint8Array): Uint8Array {
  const t = bytesToNumberBE(
    merkleRoot ? taggedHash('TapTweak', internal, merkleRoot) : taggedHash('TapTweak', internal),
  );
  if (t >= N) throw new Error('taproot tweak out of range');
  const P = lift_x(bytesToNumberBE(internal));
  const Q = t === 0n ? P : P.add(secp256k1.Point.BASE.multiply(t));
  return schnorr.utils.pointToBytes(Q);
}
