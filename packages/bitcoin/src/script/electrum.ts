import { sha256 } from '@noble/hashes/sha2.js';
import { toHexReversed } from '../bytes/hex.ts';

/**
 * Electrum protocol script hash: sha256 of the scriptPubKey. `sha256` is the digest as computed
 * (what an index stores); `hex` is the byte-reversed hex Electrum clients send and display.
 */
export function electrumScriptHash(scriptPubKey: Uint8Array): { sha256: Uint8Array; hex: string } {
  const d = sha256(scriptPubKey);
  return { sha256: d, hex: toHexReversed(d) };
}
