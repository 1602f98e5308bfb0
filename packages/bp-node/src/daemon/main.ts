import { join } from 'node:path';
import { toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { type DaemonConfig, type DaemonContext, type Logger, runDaemon } from '@lnpbp/bus';
import { startEmbeddedChain } from '../embedded/chain.ts';
import { type Index, openIndex } from '../index/index.ts';
import { Mempool } from '../index/mempool.ts';
import { BlocksSource } from '../source/blocks/source.ts';
import type { ChainSource } from '../source/types.ts';
import { createSource } from '../source/url.ts';
import { Syncer } from '../sync/syncer.ts';
import { bpdOptions, progressIntervalMs } from './options.ts';

export type BpdConfig = DaemonConfig<typeof bpdOptions>;

/** What a running bpd holds; the query API and push are built on it. */
export interface Bpd {
  readonly network: NetworkName;
  readonly index: Index;
  readonly mempool: Mempool;
  readonly syncer: Syncer;
  readonly source: ChainSource;
  readonly sourceName: string;
  readonly startedAt: number;
}

/** Extra services started once the node is up (the query API, push). */
export type BpdPlugin = (bpd: Bpd, ctx: DaemonContext<BpdConfig>) => Promise<void> | void;

/** Where openIndex(datadir) keeps the LMDB environment and blocks.dat. */
export function indexDir(datadir: string): string {
  return join(datadir, 'index');
}

function makeSource(cfg: BpdConfig, network: NetworkName, url: string): ChainSource {
  if (url.startsWith('blocks:')) {
    const dir = url.slice('blocks:'.length);
    const live = cfg.liveSource
      ? createSource(cfg.liveSource, { network, bitcoinDir: cfg.bitcoinDir })
      : undefined;
    return new BlocksSource({ dir, network, live });
  }
  return createSource(url, { network, bitcoinDir: cfg.bitcoinDir });
}

/** Hides passwords in URLs written to logs and status. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}

async function main(ctx: DaemonContext<BpdConfig>, plugins: BpdPlugin[]): Promise<void> {
  const { config: cfg, log } = ctx;
  let network: NetworkName;
  let sourceUrl = cfg.source;
  const embedded = cfg.embeddedNode || !sourceUrl;
  if (embedded) {
    if (cfg.network && cfg.network !== 'regtest') {
      throw new Error(`no --source given for ${cfg.network}; the embedded node runs regtest only`);
    }
    if (cfg.source) throw new Error('--embedded-node and --source exclude each other');
    network = 'regtest';
  } else {
    network = cfg.network ?? 'mainnet';
  }

  // A bad source URL is a config error: refuse it before touching the datadir.
  let source = sourceUrl ? makeSource(cfg, network, sourceUrl) : undefined;
  const index = openIndex(ctx.datadir, network);
  ctx.onShutdown(() => index.close());
  const tip = index.tip();
  log.info('index opened', {
    network,
    dir: indexDir(ctx.datadir),
    tipHeight: tip?.height ?? null,
    tipHash: tip ? toHexReversed(tip.hash) : null,
  });

  if (embedded) {
    log.info('no chain source configured: starting the embedded bcoin regtest node');
    const chain = await startEmbeddedChain({
      log: log.child('embedded'),
      blockIntervalMs: cfg.exitAtTip ? 0 : cfg.embeddedBlockInterval * 1000,
    });
    ctx.onShutdown(() => chain.stop());
    sourceUrl = chain.sourceUrl;
    source = makeSource(cfg, network, sourceUrl);
  }
  if (!source || !sourceUrl) throw new Error('no chain source');
  const mempool = new Mempool(index);
  const syncer = new Syncer(index, source, syncLogger(log.child('sync')), {
    mempool: cfg.exitAtTip ? undefined : mempool,
    startHeight: cfg.startHeight,
    progressMs: progressIntervalMs(cfg.progressInterval),
  });
  const bpd: Bpd = {
    network,
    index,
    mempool,
    syncer,
    source,
    sourceName: `${source.kind} ${redactUrl(sourceUrl)}`,
    startedAt: Date.now(),
  };
  for (const plugin of plugins) await plugin(bpd, ctx);

  ctx.onShutdown(() => syncer.stop());
  syncer.on('block', (r: { height: number }) => log.debug('block connected', { height: r.height }));
  syncer.on('reorg', (r: { fromHeight: number; toHeight: number }) => log.info('reorg', r));
  const run = syncer.run({ exitAtTip: cfg.exitAtTip });
  run.then(
    () => {
      if (cfg.exitAtTip) {
        const t = index.tip();
        log.info('at tip, exiting', { height: t?.height ?? null, hash: t ? toHexReversed(t.hash) : null });
        ctx.shutdown('exit-at-tip');
      }
    },
    (e) => {
      log.error('sync failed', { error: e });
      ctx.shutdown('sync failed');
      process.exitCode = 1;
    },
  );
}

function syncLogger(log: Logger) {
  return {
    info: (m: string, f?: Record<string, unknown>) => log.info(m, f),
    warn: (m: string, f?: Record<string, unknown>) => log.warn(m, f),
    error: (m: string, f?: Record<string, unknown>) => log.error(m, f),
  };
}

export function runBpd(argv: readonly string[], plugins: BpdPlugin[] = []): Promise<number> {
  return runDaemon({
    service: 'bpd',
    options: bpdOptions,
    argv,
    main: (ctx) => main(ctx, plugins),
  });
}
