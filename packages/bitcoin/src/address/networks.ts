import type { NetworkName } from '../network.ts';

/** Address encoding parameters of a chain (Core's chainparams base58Prefixes / bech32_hrp). */
export interface AddressParams {
  readonly p2pkh: number;
  readonly p2sh: number;
  /** WIF private key version byte (for recognising, never accepting, private keys). */
  readonly wif: number;
  /** Bech32/bech32m human-readable part, lower case. */
  readonly hrp: string;
}

export const ADDRESS_PARAMS: Readonly<Record<NetworkName, AddressParams>> = {
  mainnet: { p2pkh: 0x00, p2sh: 0x05, wif: 0x80, hrp: 'bc' },
  testnet: { p2pkh: 0x6f, p2sh: 0xc4, wif: 0xef, hrp: 'tb' },
  testnet4: { p2pkh: 0x6f, p2sh: 0xc4, wif: 0xef, hrp: 'tb' },
  signet: { p2pkh: 0x6f, p2sh: 0xc4, wif: 0xef, hrp: 'tb' },
  regtest: { p2pkh: 0x6f, p2sh: 0xc4, wif: 0xef, hrp: 'bcrt' },
};

/** A network name, or explicit parameters (e.g. bcoin's regtest, which uses hrp "rb"). */
export type AddressNetwork = NetworkName | AddressParams;

/**
 * Parameters of a network with the bech32 hrp replaced: `addressParams('regtest', { hrp: 'rb' })`
 * for bcoin regtest.
 */
export function addressParams(network: AddressNetwork, override: { hrp?: string } = {}): AddressParams {
  const p = typeof network === 'string' ? ADDRESS_PARAMS[network] : network;
  if (!p) throw new TypeError(`unknown network ${String(network)}`);
  return override.hrp ? { ...p, hrp: override.hrp.toLowerCase() } : p;
}
