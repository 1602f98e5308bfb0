// The embedded bcoin node doubles as the tests' real node.
export * from '../../src/embedded/bcoin.ts';
