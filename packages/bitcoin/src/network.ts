import { ValueError } from './errors.ts';

export type NetworkName = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';
export const NETWORKS: readonly NetworkName[] = ['mainnet', 'testnet', 'testnet4', 'signet', 'regtest'];

/** P2P message start bytes, also the record marker in Core's blk*.dat files. */
export const NETWORK_MAGIC: Record<NetworkName, number> = {
  mainnet: 0xf9beb4d9,
  testnet: 0x0b110907,
  testnet4: 0x1c163f28,
  signet: 0x0a03cf40,
  regtest: 0xfabfb5da,
};

/** Genesis block hashes in display order. */
export const GENESIS_HASH: Record<NetworkName, string> = {
  mainnet: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
  testnet: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
  testnet4: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
  signet: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
  regtest: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
};

export function parseNetwork(s: string): NetworkName {
  if ((NETWORKS as readonly string[]).includes(s)) return s as NetworkName;
  if (s === 'main' || s === 'bitcoin') return 'mainnet';
  if (s === 'test' || s === 'testnet3') return 'testnet';
  throw new ValueError('network', `unknown network "${s}" (expected one of ${NETWORKS.join(', ')})`);
}

export function magicBytes(network: NetworkName): Uint8Array {
  const m = NETWORK_MAGIC[network];
  return new Uint8Array([m >>> 24, (m >>> 16) & 0xff, (m >>> 8) & 0xff, m & 0xff]);
}
