import { mkdirSync } from 'node:fs';
import {
  allowListPath,
  loadOrCreateKeyPair,
  parseCurveKey,
  readAllowList,
  serverKeyPath,
} from '../auth/keys.ts';
import { defaultEndpoint, isNetworked, parseEndpoint } from '../endpoint.ts';
import { BusError } from '../errors.ts';
import { Publisher } from '../pubsub/publisher.ts';
import { type CurveServerOptions, type Handlers, RpcServer } from '../rpc/server.ts';
import type { MessageTable, Schema } from '../schema/messages.ts';
import { ConfigError, type ConfigOf, type ConfigSpec, configHelp, loadConfig } from './config.ts';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from './log.ts';

/** Options every daemon has, merged into its own spec. */
export const daemonOptions = {
  logLevel: { type: 'string', choices: LOG_LEVELS, default: 'info', doc: 'least severe log level written' },
  rpcListen: {
    type: 'list',
    doc: 'RPC endpoints, ipc://PATH or tcp://HOST:PORT (tcp needs Curve); default ipc://<datadir>/<service>.rpc.sock',
  },
  pubListen: {
    type: 'list',
    doc: 'notification endpoints, as rpc-listen; default ipc://<datadir>/<service>.pub.sock',
  },
  curveAllow: {
    type: 'list',
    doc: 'client public keys (Z85 or hex) allowed on tcp endpoints, besides <datadir>/curve/<service>.clients',
  },
  maxFrameSize: {
    type: 'int',
    default: 1 << 20,
    min: 64,
    max: 1 << 30,
    doc: 'largest request frame in bytes',
  },
} as const satisfies ConfigSpec;

export type DaemonConfig<S extends ConfigSpec> = ConfigOf<S & typeof daemonOptions>;

export interface DaemonContext<C> {
  readonly service: string;
  readonly config: C;
  readonly datadir: string;
  readonly log: Logger;
  /** Aborted when shutdown starts. */
  readonly signal: AbortSignal;
  /** Registers cleanup; run in reverse order of registration on shutdown. */
  onShutdown(fn: () => void | Promise<void>): void;
  /** Starts the shutdown (as SIGTERM does). */
  shutdown(reason: string): void;
  /** Starts the service's RPC server on the configured endpoints (closed on shutdown). */
  serveRpc<D extends MessageTable>(
    schema: Schema<D>,
    handlers: Handlers<D>,
    options?: { status?: () => Record<string, string | number | bigint | boolean> },
  ): Promise<RpcServer<D>>;
  /** Starts the service's publisher on the configured endpoints (closed on shutdown). */
  publisher<D extends MessageTable>(schema: Schema<D>): Promise<Publisher<D>>;
}

export interface DaemonSpec<S extends ConfigSpec> {
  readonly service: string;
  readonly options: S;
  /** Sets the daemon up and returns; the daemon then runs until shutdown. */
  readonly main: (ctx: DaemonContext<DaemonConfig<S>>) => void | Promise<void>;
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly defaultDatadir?: string;
  /** Log line sink (default stderr). */
  readonly logSink?: (line: string) => void;
  /** Call process.exit with the code when done. Default true. */
  readonly exit?: boolean;
  /** Time allowed for all cleanup before exiting anyway. Default 10 s. */
  readonly shutdownTimeoutMs?: number;
}

/**
 * Runs a daemon: config (flags > env > file > defaults), datadir (mode 0700), JSON logs,
 * SIGINT/SIGTERM -> graceful shutdown running registered cleanup in reverse order; a second
 * signal exits at once. Exit codes: 0 clean shutdown, 1 bad config or a failure in main/cleanup.
 */
export async function runDaemon<S extends ConfigSpec>(spec: DaemonSpec<S>): Promise<number> {
  const finish = (code: number) => {
    if (spec.exit !== false) process.exit(code);
    return code;
  };
  const fullSpec = { ...daemonOptions, ...spec.options } as S & typeof daemonOptions;
  let loaded: ReturnType<typeof loadConfig<S & typeof daemonOptions>>;
  try {
    loaded = loadConfig(fullSpec, {
      service: spec.service,
      argv: spec.argv,
      env: spec.env,
      defaultDatadir: spec.defaultDatadir,
    });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${spec.service}: config: ${e.message}\n`);
    return finish(1);
  }
  if (loaded.help) {
    process.stdout.write(`Usage: ${spec.service} [options]\n${configHelp(fullSpec, spec.service)}`);
    return finish(0);
  }
  const config = loaded.config as DaemonConfig<S>;
  // The bus's own options, seen through their concrete types (S is still generic here).
  const common = loaded.config as unknown as ConfigOf<typeof daemonOptions>;
  const { datadir } = loaded;
  const log = createLogger({
    component: spec.service,
    level: common.logLevel as LogLevel,
    sink: spec.logSink,
  });
  const cleanups: Array<() => void | Promise<void>> = [];
  const ac = new AbortController();
  let resolveDone!: (reason: string) => void;
  const stopRequested = new Promise<string>((r) => {
    resolveDone = r;
  });
  const shutdown = (reason: string) => {
    if (ac.signal.aborted) return;
    ac.abort(new BusError('closed', reason));
    resolveDone(reason);
  };
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn('second signal, exiting now', { signal: sig });
      process.exit(130);
    }
    log.info('signal received, shutting down', { signal: sig });
    shutdown(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const curveFor = (endpoints: string[]): CurveServerOptions | undefined => {
    if (!endpoints.map(parseEndpoint).some(isNetworked)) return undefined;
    const keyPair = loadOrCreateKeyPair(serverKeyPath(datadir, spec.service));
    const file = allowListPath(datadir, spec.service);
    const allow = readAllowList(file);
    for (const k of common.curveAllow) allow.set(parseCurveKey(k, 'curve-allow'), k.slice(0, 8));
    if (allow.size === 0) {
      throw new BusError(
        'insecure-endpoint',
        `tcp endpoint needs at least one client key: add it to ${file} or pass --curve-allow`,
      );
    }
    log.info('curve enabled', { serverKey: keyPair.publicKey, clients: allow.size });
    return { keyPair, allow };
  };

  const ctx: DaemonContext<DaemonConfig<S>> = {
    service: spec.service,
    config,
    datadir,
    log,
    signal: ac.signal,
    onShutdown: (fn) => cleanups.push(fn),
    shutdown,
    async serveRpc(schema, handlers, options) {
      const endpoints = common.rpcListen.length
        ? common.rpcListen
        : [defaultEndpoint(datadir, spec.service, 'rpc')];
      const server = await RpcServer.start({
        schema,
        handlers,
        endpoints,
        curve: curveFor(endpoints),
        maxFrameSize: common.maxFrameSize,
        log: log.child('rpc'),
        status: options?.status,
      });
      cleanups.push(() => server.close());
      return server;
    },
    async publisher(schema) {
      const endpoints = common.pubListen.length
        ? common.pubListen
        : [defaultEndpoint(datadir, spec.service, 'pub')];
      const pub = await Publisher.start({
        schema,
        endpoints,
        curve: curveFor(endpoints),
        log: log.child('pub'),
      });
      cleanups.push(() => pub.close());
      return pub;
    },
  };

  let code = 0;
  try {
    mkdirSync(datadir, { recursive: true, mode: 0o700 });
    log.info('starting', { datadir, configFile: loaded.configFile ?? null, pid: process.pid });
    await spec.main(ctx);
    log.info('ready');
    const reason = await stopRequested;
    log.info('stopping', { reason });
  } catch (e) {
    code = 1;
    log.error('failed', { error: e });
    shutdown('failure');
  }
  const deadline = spec.shutdownTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const cleanupAll = (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        code = 1;
        log.error('cleanup failed', { error: e });
      }
    }
  })();
  const timedOut = await Promise.race([
    cleanupAll.then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), deadline);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    code = 1;
    log.error('cleanup timed out', { ms: deadline });
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  log.info('stopped', { code });
  return finish(code);
}
