import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { HDKey } from '@scure/bip32';
import * as btc from '@scure/btc-signer';
import { BCOIN_REGTEST } from './wallet.ts';

export const TESTNET_VERSIONS = { private: 0x04358394, public: 0x043587cf };

/**
 * A BIP-84 test account from a fixed seed: its receive descriptor `wpkh(xpub/0/*)` and the
 * bcoin-regtest address of receive index i, derived here with @scure/bip32 (independent of
 * bpd's own derivation, which the tests check against it).
 */
export function hdAccount(seed: Uint8Array): { descriptor: string; addressAt: (i: number) => string } {
  const account = HDKey.fromMasterSeed(sha256(seed), TESTNET_VERSIONS).derive("m/84'/1'/0'");
  return {
    descriptor: `wpkh(${account.publicExtendedKey}/0/*)`,
    addressAt: (i) =>
      btc.Address(BCOIN_REGTEST).encode({
        type: 'wpkh',
        hash: ripemd160(sha256(account.derive(`m/0/${i}`).publicKey!)),
      }),
  };
}
