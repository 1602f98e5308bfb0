/**
 * bpd's request handlers over a read-only index in `dir`, with an empty mempool and no chain
 * source: what bench/query.ts serves over the bus and bench/readpath.ts calls directly.
 */
import { makeHandlers } from '../../packages/bp-node/src/api/handlers.ts';
import { WatchTable } from '../../packages/bp-node/src/api/watch.ts';
import { openIndex } from '../../packages/bp-node/src/index/index.ts';
import { Mempool } from '../../packages/bp-node/src/index/mempool.ts';

export function benchHandlers(dir: string): ReturnType<typeof makeHandlers> {
  const index = openIndex(dir, 'mainnet', { readOnly: true });
  return makeHandlers({
    network: 'mainnet',
    index,
    mempool: new Mempool(index),
    source: { broadcast: async () => {}, getTip: async () => ({ height: 0, hash: new Uint8Array(32) }) },
    sourceName: 'bench',
    startedAt: Date.now(),
    watches: new WatchTable(null),
    pub: { publish: () => 0n },
    synced: () => true,
    sourceTip: () => undefined,
  });
}
