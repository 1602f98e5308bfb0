import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  AddressError,
  type AddressErrorReason,
  addressNetworks,
  addressParams,
  addressToScript,
  base58checkDecode,
  base58Decode,
  base58Encode,
  decodeAddress,
  decodeBech32,
  decodeSegwit,
  scriptToAddress,
} from '../src/address/index.ts';
import { fromHex, toHex } from '../src/bytes/hex.ts';
import { DecodeError } from '../src/errors.ts';
import type { NetworkName } from '../src/network.ts';

const fixture = (name: string) => new URL(`../../../test/fixtures/${name}`, import.meta.url);
const json = (name: string) => JSON.parse(readFileSync(fixture(name), 'utf8'));

// Core's chain names in key_io_*.json; "test" (testnet3) does not appear in the current file.
const CHAIN: Record<string, NetworkName> = {
  main: 'mainnet',
  test: 'testnet',
  testnet4: 'testnet4',
  signet: 'signet',
  regtest: 'regtest',
};
const ALL: NetworkName[] = ['mainnet', 'testnet', 'testnet4', 'signet', 'regtest'];

/**
 * WIF private keys are not addresses and no API here takes them (a node must never receive
 * keys); Core's vectors include them, so they are checked through base58check structure only:
 * version 0x80/0xef, 32-byte key, optional 0x01 compression flag.
 */
function decodeWif(s: string, network: NetworkName): { key: string; compressed: boolean } | undefined {
  let p: Uint8Array;
  try {
    p = base58checkDecode(s);
  } catch {
    return undefined;
  }
  if (p[0] !== addressParams(network).wif) return undefined;
  if (p.length === 33) return { key: toHex(p.subarray(1)), compressed: false };
  if (p.length === 34 && p[33] === 1) return { key: toHex(p.subarray(1, 33)), compressed: true };
  return undefined;
}

function flipCase(s: string): string {
  let o = '';
  for (const c of s) o += c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
  return o;
}

describe('key_io_valid.json (Bitcoin Core)', () => {
  const rows = json('bitcoin-core/key_io_valid.json') as [string, string, Record<string, unknown>][];
  test(`${rows.length} entries`, () => {
    let addrs = 0;
    let keys = 0;
    for (const [str, payload, meta] of rows) {
      const net = CHAIN[meta.chain as string];
      assert.ok(net, `chain ${meta.chain}`);
      if (meta.isPrivkey) {
        const k = decodeWif(str, net);
        assert.deepEqual(k, { key: payload, compressed: meta.isCompressed }, str);
        assert.throws(() => decodeAddress(str, net), AddressError, `privkey ${str} accepted as address`);
        keys++;
        continue;
      }
      assert.equal(toHex(addressToScript(str, net)), payload, str);
      // Encoding back gives the canonical (lower-case for bech32) form.
      const enc = scriptToAddress(fromHex(payload), net);
      assert.equal(enc, /^(bc|tb|bcrt)1/i.test(str) ? str.toLowerCase() : str);
      // Core: a flipped-case address is valid exactly when tryCaseFlip (bech32 is case-insensitive).
      const flipped = flipCase(str);
      let flippedOk = true;
      try {
        assert.equal(toHex(addressToScript(flipped, net)), payload);
      } catch (e) {
        if (!(e instanceof AddressError)) throw e;
        flippedOk = false;
      }
      assert.equal(flippedOk, meta.tryCaseFlip === true, `case flip of ${str}`);
      assert.equal(decodeWif(str, net), undefined);
      addrs++;
    }
    console.log(`key_io_valid: ${addrs} addresses, ${keys} WIF keys (base58check structure)`);
    assert.equal(addrs + keys, rows.length);
  });
  test('wrong network is named as such', () => {
    const main = rows.find((r) => r[2].chain === 'main' && !r[2].isPrivkey && r[0].startsWith('1'));
    const seg = rows.find((r) => r[2].chain === 'regtest' && !r[2].isPrivkey && r[0].startsWith('bcrt1'));
    assert.ok(main && seg);
    const reason = (f: () => unknown): AddressErrorReason | undefined => {
      try {
        f();
      } catch (e) {
        if (e instanceof AddressError) return e.reason;
        throw e;
      }
      return undefined;
    };
    assert.equal(
      reason(() => decodeAddress(main[0], 'testnet')),
      'wrong-network',
    );
    assert.equal(
      reason(() => decodeAddress(seg[0], 'mainnet')),
      'wrong-network',
    );
    assert.deepEqual(addressNetworks(main[0]), ['mainnet']);
    assert.deepEqual(addressNetworks(seg[0]), ['regtest']);
  });
});

describe('key_io_invalid.json (Bitcoin Core)', () => {
  const rows = json('bitcoin-core/key_io_invalid.json') as [string][];
  test(`${rows.length} strings refused on every network, as address and as WIF`, () => {
    for (const [s] of rows) {
      for (const n of ALL) {
        assert.throws(() => decodeAddress(s, n), DecodeError, `${s} accepted on ${n}`);
        assert.equal(decodeWif(s, n), undefined, `${s} accepted as WIF on ${n}`);
      }
    }
  });
});

describe('base58_encode_decode.json (Bitcoin Core)', () => {
  const rows = json('bitcoin-core/base58_encode_decode.json') as [string, string][];
  test(`${rows.length} pairs`, () => {
    for (const [hex, b58] of rows) {
      assert.equal(base58Encode(fromHex(hex)), b58);
      assert.equal(toHex(base58Decode(b58)), hex.toLowerCase());
    }
  });
  test('bad characters are refused with their position', () => {
    assert.throws(
      () => base58Decode('3mJr0'),
      (e: unknown) => e instanceof DecodeError && e.offset === 4,
    );
    assert.throws(() => base58Decode('I'), DecodeError);
  });
});

interface BipVectors {
  encoding: 'bech32' | 'bech32m';
  validStrings: string[];
  invalidStrings: { string: string; reason: string }[];
  validAddresses: { string: string; scriptPubKey: string }[];
  invalidAddresses: { string: string; reason: string }[];
}

const HRP_NET: Record<string, NetworkName> = { bc: 'mainnet', tb: 'testnet' };

for (const [bip, name] of [
  ['bip173', 'BIP-173'],
  ['bip350', 'BIP-350'],
] as const) {
  describe(`${name} vectors`, () => {
    const v = json('bips/bip173-bip350-vectors.json')[bip] as BipVectors;
    test(`${v.validStrings.length} valid ${v.encoding} strings`, () => {
      for (const s of v.validStrings) assert.equal(decodeBech32(s).encoding, v.encoding, s);
    });
    test(`${v.invalidStrings.length} invalid ${v.encoding} strings`, () => {
      for (const { string: s, reason } of v.invalidStrings) {
        let ok = false;
        try {
          ok = decodeBech32(s).encoding === v.encoding;
        } catch (e) {
          assert.ok(e instanceof AddressError, `${JSON.stringify(s)}: ${e}`);
        }
        assert.equal(ok, false, `${JSON.stringify(s)} (${reason}) accepted`);
      }
    });
    test(`${v.validAddresses.length} valid addresses <-> scriptPubKey`, () => {
      for (const { string: s, scriptPubKey } of v.validAddresses) {
        const net = HRP_NET[s.slice(0, 2).toLowerCase()];
        if (bip === 'bip173' && !scriptPubKey.startsWith('00')) {
          // BIP-350 replaced BIP-173 for versions 1-16: these bech32 forms must now be refused.
          assert.throws(
            () => decodeAddress(s, net),
            (e: unknown) => e instanceof AddressError && e.reason === 'bad-checksum',
            s,
          );
          continue;
        }
        assert.equal(toHex(addressToScript(s, net)), scriptPubKey, s);
        assert.equal(scriptToAddress(fromHex(scriptPubKey), net), s.toLowerCase());
      }
    });
    test(`${v.invalidAddresses.length} invalid addresses refused on mainnet and testnet`, () => {
      for (const { string: s, reason } of v.invalidAddresses) {
        for (const n of ['mainnet', 'testnet'] as const) {
          assert.throws(() => decodeAddress(s, n), AddressError, `${s} (${reason}) accepted on ${n}`);
        }
      }
    });
  });
}

describe('error reasons', () => {
  const reasonOf = (s: string, n: NetworkName = 'mainnet') => {
    try {
      decodeAddress(s, n);
    } catch (e) {
      if (e instanceof AddressError) return e.reason;
      throw e;
    }
    return 'accepted';
  };
  test('checksum, length, padding, version, case', () => {
    assert.equal(reasonOf('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5'), 'bad-checksum');
    assert.equal(reasonOf('bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd'), 'bad-checksum');
    assert.equal(reasonOf('bc1pw5dgrnzv'), 'bad-length');
    assert.equal(reasonOf('BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P'), 'bad-length');
    assert.equal(reasonOf('bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du'), 'bad-padding');
    assert.equal(reasonOf('BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R'), 'bad-version');
    assert.equal(
      reasonOf('tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq', 'testnet'),
      'bad-character',
    );
    assert.equal(reasonOf('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb'), 'bad-checksum');
    assert.equal(reasonOf('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'), 'accepted');
    assert.equal(reasonOf('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'signet'), 'wrong-network');
    assert.equal(reasonOf('tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty'), 'bad-format');
  });
  test('an explicit hrp override (bcoin regtest uses "rb")', () => {
    const rb = addressParams('regtest', { hrp: 'rb' });
    const spk = fromHex('0014751e76e8199196d454941c45d1b3a323f1433bd6');
    const a = scriptToAddress(spk, rb);
    assert.ok(a?.startsWith('rb1q'));
    assert.equal(toHex(addressToScript(a as string, rb)), toHex(spk));
    assert.throws(() => addressToScript(a as string, 'regtest'), AddressError);
    assert.equal(decodeSegwit(a as string).hrp, 'rb');
  });
  test('scripts without an address', () => {
    assert.equal(scriptToAddress(fromHex('6a0401020304'), 'mainnet'), undefined);
    assert.equal(scriptToAddress(fromHex('0015' + '00'.repeat(21)), 'mainnet'), undefined);
    assert.equal(scriptToAddress(fromHex('51024e73'), 'mainnet'), 'bc1pfeessrawgf');
  });
});
