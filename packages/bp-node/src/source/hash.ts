import { createHash } from 'node:crypto';

/** Double SHA-256 (block and tx hashes, P2P checksums). */
export function sha256d(data: Uint8Array): Uint8Array {
  const once = createHash('sha256').update(data).digest();
  return new Uint8Array(createHash('sha256').update(once).digest());
}
