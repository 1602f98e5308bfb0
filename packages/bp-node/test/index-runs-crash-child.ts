/**
 * Child process of index-runs.test.ts: connects mainnet blocks 0-599 into argv[2], one block
 * per batch written as sorted runs (so every 8th commit merges runs, every 64th cascades),
 * printing "go <tip>" once open, "m" before a commit that merges and "c" after each commit.
 * The test SIGKILLs it, aiming at the merging commits.
 */
import { openIndex } from '../src/index/index.ts';
import { FAN_IN } from '../src/index/runs.ts';
import { mainnet600 } from './index-support.ts';

const ix = openIndex(process.argv[2], 'mainnet');
const from = (ix.tip()?.height ?? -1) + 1;
process.stdout.write(`go ${from - 1}\n`);
const blocks = mainnet600();
for (let h = from; h < blocks.length; h++) {
  const b = ix.batch({ runs: true });
  b.add(blocks[h], h);
  const tier0 = ix.store.history.liveRuns().filter((r) => r.tier === 0).length;
  if (tier0 === FAN_IN - 1) process.stdout.write('m\n');
  b.commit();
  process.stdout.write('c\n');
}
await ix.close();
process.stdout.write('done\n');
