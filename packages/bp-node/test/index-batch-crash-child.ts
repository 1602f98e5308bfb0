/**
 * Child process of index-batch-crash.test.ts: syncs mainnet blocks 0-599 into argv[2] from an
 * in-memory source in batches of 8 blocks per LMDB transaction, printing "go <tip>" once the
 * index is open. The test SIGKILLs it at random moments.
 */
import { openIndex } from '../src/index/index.ts';
import { Syncer } from '../src/sync/syncer.ts';
import { MemorySource, mainnet600 } from './index-support.ts';

const ix = openIndex(process.argv[2], 'mainnet');
process.stdout.write(`go ${ix.tip()?.height ?? -1}\n`);
const quiet = { info() {}, warn() {}, error() {} };
const src = new MemorySource(mainnet600());
await new Syncer(ix, src, quiet, { batchCatchUp: 2, batchBlocks: 8, batchMs: 60_000 }).run({
  exitAtTip: true,
});
await ix.close();
process.stdout.write('done\n');
