/**
 * Per-network P2P constants. The start bytes are the same four bytes Core and bcoin put on the
 * wire (bcoin's lib/protocol/networks.js writes regtest's as the little-endian u32 0xdab5bffa,
 * i.e. bytes fa bf b5 da, the same as Core's regtest).
 */
export type P2PNetwork = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';

export interface P2PParams {
  magic: Uint8Array;
  defaultPort: number;
  /** Genesis block header (80 bytes, hex) so the header chain has a root to connect to. */
  genesisHeader: string;
}

const SATOSHI_MERKLE = '3ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a';
const header = (version: string, time: string, bits: string, nonce: string) =>
  `${version}${'00'.repeat(32)}${SATOSHI_MERKLE}${time}${bits}${nonce}`;

export const P2P_PARAMS: Record<P2PNetwork, P2PParams> = {
  mainnet: {
    magic: Uint8Array.of(0xf9, 0xbe, 0xb4, 0xd9),
    defaultPort: 8333,
    genesisHeader: header('01000000', '29ab5f49', 'ffff001d', '1dac2b7c'),
  },
  testnet: {
    magic: Uint8Array.of(0x0b, 0x11, 0x09, 0x07),
    defaultPort: 18333,
    genesisHeader: header('01000000', 'dae5494d', 'ffff001d', '1aa4ae18'),
  },
  testnet4: {
    magic: Uint8Array.of(0x1c, 0x16, 0x3f, 0x28),
    defaultPort: 48333,
    genesisHeader: `01000000${'00'.repeat(32)}4e7b2b9128fe0291db0693af2ae418b767e657cd407e80cb1434221eaea7a07a046f3566ffff001dbb0c7817`,
  },
  signet: {
    magic: Uint8Array.of(0x0a, 0x03, 0xcf, 0x40),
    defaultPort: 38333,
    genesisHeader: header('01000000', '008f4d5f', 'ae77031e', '8ad22203'),
  },
  regtest: {
    magic: Uint8Array.of(0xfa, 0xbf, 0xb5, 0xda),
    defaultPort: 18444,
    genesisHeader: header('01000000', 'dae5494d', 'ffff7f20', '02000000'),
  },
};
