import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** Repository root, found from this file's location. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function fixturePath(rel: string): string {
  return join(REPO_ROOT, 'test', 'fixtures', rel);
}

/** Reads a fixture, gunzipping *.gz files. */
export function readFixture(rel: string): Uint8Array {
  const b = readFileSync(fixturePath(rel));
  return new Uint8Array(rel.endsWith('.gz') ? gunzipSync(b) : b);
}

export const MODERN_BLOCKS = [
  574200, 702861, 839999, 840002, 840003, 840004, 840005, 840006, 840007,
] as const;

export function modernBlock(height: number): Uint8Array {
  return readFixture(`chain/block-${height}.bin.gz`);
}
