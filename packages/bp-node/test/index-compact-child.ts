/**
 * Child process of index-compact.test.ts: compacts the index in argv[2] over and over, printing
 * "go" before the first and "compacted" after each. The test SIGKILLs it at random moments.
 */
import { openIndex } from '../src/index/index.ts';

const ix = openIndex(process.argv[2], 'mainnet');
process.stdout.write('go\n');
for (;;) {
  ix.compact();
  process.stdout.write('compacted\n');
}
