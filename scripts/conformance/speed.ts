/**
 * Speed of the jobs the indexer/query layer repeat: lifting revealed scripts (ours vs
 * rust-miniscript WASM), computing shapes, and deriving ranged descriptors (vs @scure/bip32).
 * Usage: node --import tsx scripts/conformance/speed.ts
 */
import { Miniscript as WasmMiniscript } from '@bitgo/wasm-miniscript';
import { hex } from '@scure/base';
import { HDKey } from '@scure/bip32';
import { parseDescriptor } from '../../packages/bitcoin/src/descriptor/index.ts';
import {
  compileMiniscript,
  liftMiniscript,
  parseMiniscript,
} from '../../packages/bitcoin/src/miniscript/index.ts';
import { scriptShape } from '../../packages/bitcoin/src/pattern/index.ts';
import { msForCtx } from './checks.ts';
import { loadMiniscriptTests, loadRandomMs } from './vectors.ts';

const scripts: Uint8Array[] = [];
for (const t of loadMiniscriptTests()) {
  if (t.modes.includes('TESTMODE_INVALID')) continue;
  try {
    scripts.push(compileMiniscript(parseMiniscript(msForCtx(t.miniscript, 'p2wsh'), 'p2wsh')));
  } catch {}
}
for (const s of loadRandomMs()) scripts.push(compileMiniscript(parseMiniscript(s, 'p2wsh')));
// Non-miniscript: BOLT-3 offered HTLC and to_local (appendix C).
scripts.push(
  hex.decode(
    '76a91414011f7254d96b819c76986c277d115efce6f7b58763ac67210394854aa6eab5b2a8122cc726e9dded053a2184d88256816826d6231c068d4a5b7c820120876475527c21030d417a46946384f88d5f3337267c5e579765875dc4daca813e21734b140639e752ae67a914b43e1b38138a41b37f7cd9a1d274bc63e3a9b5d188ac6868',
  ),
  hex.decode(
    '63210212a140cd0c6539d07cd08dfe09984dec3251ea808b892efeac3ede9402bf2b1967029000b2752103fd5960528dc152014952efdb702a88f71e3c1653b2314431701ec77e57fde83c68ac',
  ),
);

function rate(label: string, n: number, f: () => void) {
  f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(48)} ${((n * 1000) / ms).toFixed(0).padStart(9)} /s`);
}
const R = 50;
rate(`lift, ours (${scripts.length} scripts x ${R})`, R, () => {
  for (const s of scripts) liftMiniscript(s, 'p2wsh');
});
rate(`lift, @bitgo/wasm-miniscript (same)`, R, () => {
  for (const s of scripts) {
    try {
      WasmMiniscript.fromBitcoinScript(s, 'segwitv0');
    } catch {}
  }
});
rate(`scriptShape (lift or template) (same)`, R, () => {
  for (const s of scripts) scriptShape(s, 'p2wsh');
});
console.log(`  (rates above are per batch of ${scripts.length} scripts; multiply for scripts/s)`);

const xpub =
  'xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL';
const N = 300;
const wpkh = parseDescriptor(`wpkh(${xpub}/0/*)`);
let i = 0;
rate('derive wpkh(xpub/0/*) scriptPubKey', N, () => wpkh.scriptPubKeys(i++));
const tr = parseDescriptor(`tr(${xpub}/0/*)`);
i = 0;
rate('derive tr(xpub/0/*) scriptPubKey', N, () => tr.scriptPubKeys(i++));
const parent = HDKey.fromExtendedKey(xpub).deriveChild(0);
i = 0;
rate('@scure/bip32 deriveChild alone', N, () => parent.deriveChild(i++).publicKey);
