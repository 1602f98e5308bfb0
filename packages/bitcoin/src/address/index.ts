export * from './address.ts';
export * from './base58.ts';
export * from './bech32.ts';
export * from './errors.ts';
export * from './networks.ts';
export * from './taproot.ts';
