/**
 * Descriptor scan over the index with gap 1,000: a ranged wpkh and a tr descriptor over the
 * real-block index (mainnet 840002-840007; none of the derived scripts is used, so the scan
 * derives exactly 1,000 indexes and looks each up), beside @scure/bip32 deriving alone.
 *
 * Run: node --import tsx bench/descriptor.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HDKey } from '@scure/bip32';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { modernBlock } from '../test/support/fixtures.ts';

const root = HDKey.fromMasterSeed(new Uint8Array(32).fill(11));
const wxpub = root.derive("m/84'/0'/0'").publicExtendedKey;
const txpub = root.derive("m/86'/0'/0'").publicExtendedKey;
const GAP = 1000;

const dir = mkdtempSync(join(tmpdir(), 'bench-desc-'));
const ix = openIndex(dir, 'mainnet', { durability: 'os' });
for (const [i, h] of [840002, 840003, 840004, 840005, 840006, 840007].entries())
  ix.connectBlock(modernBlock(h), 840002 + i);

{
  const parent = HDKey.fromExtendedKey(wxpub).deriveChild(0);
  const t = performance.now();
  for (let i = 0; i < GAP; i++) parent.deriveChild(i).publicKey;
  const ms = performance.now() - t;
  console.log(
    `@scure/bip32 deriveChild alone: ${GAP} in ${ms.toFixed(0)} ms = ${((GAP * 1000) / ms).toFixed(0)} /s`,
  );
}
for (const [name, desc] of [
  ['wpkh', `wpkh(${wxpub}/0/*)`],
  ['tr', `tr(${txpub}/0/*)`],
]) {
  let t = performance.now();
  const b = ix.descriptorBalance(desc, { gap: GAP });
  const cold = performance.now() - t;
  t = performance.now();
  ix.descriptorBalance(desc, { gap: GAP });
  const warm = performance.now() - t;
  console.log(
    `${name} gap ${GAP}: ${b.derivedScripts} scripts derived and looked up in ${cold.toFixed(0)} ms = ${((b.derivedScripts * 1000) / cold).toFixed(0)} derivations/s; again with the derivation cache: ${warm.toFixed(1)} ms (lookups only)`,
  );
}
await ix.close();
rmSync(dir, { recursive: true, force: true });
