import { join } from 'node:path';
import type { DaemonContext } from '@lnpbp/bus';
import type { Bpd, BpdConfig } from '../daemon/main.ts';
import { makeHandlers } from './handlers.ts';
import { MatchPusher, MatchWatchTable } from './match.ts';
import { bpdMessages } from './messages.ts';
import { Pusher } from './push.ts';
import { WatchTable } from './watch.ts';

/** Where persisted watch sets live. */
export function watchDir(datadir: string): string {
  return join(datadir, 'watch');
}

/**
 * Starts bpd's query API (RPC) and push publisher on the bus, before the syncer runs, so every
 * block and mempool arrival of this run is published. Persisted watch sets are loaded first.
 */
export async function installApi(bpd: Bpd, ctx: DaemonContext<BpdConfig>): Promise<void> {
  const log = ctx.log.child('api');
  const watches = new WatchTable(watchDir(ctx.datadir));
  const loaded = watches.load();
  if (loaded.sets > 0 || loaded.skipped.length > 0)
    log.info('watch sets loaded', { sets: loaded.sets, items: watches.itemCount, skipped: loaded.skipped });

  const matchWatches = new MatchWatchTable(join(ctx.datadir, 'watch-match'));
  const mloaded = matchWatches.load(bpd.index);
  if (mloaded.sets > 0 || mloaded.skipped.length > 0)
    log.info('pattern/descriptor watches loaded', { watches: mloaded.sets, skipped: mloaded.skipped });

  const pub = await ctx.publisher(bpdMessages);
  const matchPusher = new MatchPusher(bpd.index, bpd.mempool, matchWatches, pub);
  const pusher = new Pusher(bpd.index, bpd.mempool, watches, pub, matchPusher);
  pusher.attach(bpd.syncer);
  matchPusher.attach(bpd.syncer);
  ctx.onShutdown(() => pusher.close()); // its periodic `hello`, before the publisher closes

  let synced = false;
  bpd.syncer.on('synced', () => {
    synced = true;
  });
  let sourceTip: number | undefined;
  const refreshTip = () => {
    bpd.source.getTip().then(
      (t) => {
        sourceTip = t.height;
      },
      () => {},
    );
  };
  // The status reply must not wait on the source: its tip is polled here instead.
  const timer = setInterval(refreshTip, 2000);
  timer.unref();
  bpd.syncer.on('block', () => {
    if (sourceTip !== undefined && bpd.index.tip()!.height > sourceTip) sourceTip = bpd.index.tip()!.height;
  });
  ctx.onShutdown(() => clearInterval(timer));

  const handlers = makeHandlers({
    network: bpd.network,
    index: bpd.index,
    mempool: bpd.mempool,
    source: bpd.source,
    sourceName: bpd.sourceName,
    startedAt: bpd.startedAt,
    watches,
    matchWatches,
    pub,
    synced: () => synced,
    sourceTip: () => sourceTip,
  });
  await ctx.serveRpc(bpdMessages, handlers, {
    status: () => ({
      tip: bpd.index.tip()?.height ?? -1,
      mempool: bpd.mempool.size,
      watchSets: watches.sets.size,
      watchItems: watches.itemCount,
      matchWatches: matchWatches.size,
      published: pub.published,
      ...Object.fromEntries(Object.entries(pusher.counts).map(([k, v]) => [`pushed.${k}`, v])),
      ...Object.fromEntries(Object.entries(matchPusher.counts).map(([k, v]) => [`pushed.${k}`, v])),
    }),
  });
}
