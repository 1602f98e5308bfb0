export * from '../../src/embedded/wallet.ts';
