import { ValueError } from '@lnpbp/bitcoin/errors';
import { P2P_PARAMS, type P2PNetwork } from './p2p/params.ts';
import { P2PSource, type P2PSourceOptions } from './p2p/source.ts';
import { cookiePath } from './rpc/cookie.ts';
import { RpcSource, type RpcSourceOptions } from './rpc/source.ts';
import type { ChainSource } from './types.ts';

/** Core's default RPC ports. */
export const DEFAULT_RPC_PORT: Record<P2PNetwork, number> = {
  mainnet: 8332,
  testnet: 18332,
  testnet4: 48332,
  signet: 38332,
  regtest: 18443,
};

export type SourceConfig =
  | { kind: 'p2p'; host: string; port: number }
  | { kind: 'rpc'; host: string; port: number; user?: string; pass?: string; zmq: string[] }
  | { kind: 'blocks'; dir: string };

/**
 * Parses `p2p://host[:port]`, `rpc://[user:pass@]host[:port][?zmq=tcp://host:port[&zmq=...]]`
 * or `blocks:<dir>`. Ports default to Core's for the network. Throws ValueError naming the fault.
 */
export function parseSourceUrl(url: string, network: P2PNetwork): SourceConfig {
  if (url.startsWith('blocks:')) {
    const dir = url.slice('blocks:'.length);
    if (dir === '')
      throw new ValueError('source', 'blocks: needs a directory, e.g. blocks:/home/me/.bitcoin/blocks');
    return { kind: 'blocks', dir };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValueError(
      'source',
      `"${url}" is not p2p://host:port, rpc://[user:pass@]host:port[?zmq=...] or blocks:<dir>`,
    );
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new ValueError('source', `"${url}" has no host`);
  if (u.pathname !== '' && u.pathname !== '/')
    throw new ValueError('source', `"${url}": unexpected path ${u.pathname}`);
  const port = u.port === '' ? undefined : Number(u.port);
  if (u.protocol === 'p2p:') {
    if (u.username || u.search) throw new ValueError('source', `"${url}": p2p takes no user or query`);
    return { kind: 'p2p', host, port: port ?? P2P_PARAMS[network].defaultPort };
  }
  if (u.protocol === 'rpc:') {
    const zmq = u.searchParams.getAll('zmq');
    for (const key of u.searchParams.keys()) {
      if (key !== 'zmq') throw new ValueError('source', `"${url}": unknown parameter ${key} (only zmq)`);
    }
    for (const z of zmq) {
      if (!/^(tcp|ipc):\/\/.+/.test(z))
        throw new ValueError('source', `zmq endpoint "${z}" is not tcp://host:port or ipc://path`);
    }
    const cfg: SourceConfig = { kind: 'rpc', host, port: port ?? DEFAULT_RPC_PORT[network], zmq };
    if (u.username) {
      cfg.user = decodeURIComponent(u.username);
      cfg.pass = decodeURIComponent(u.password);
    }
    return cfg;
  }
  throw new ValueError('source', `unknown scheme ${u.protocol} in "${url}" (p2p:, rpc: or blocks:)`);
}

export interface CreateSourceOptions {
  network: P2PNetwork;
  /** Core's -datadir, for the RPC cookie when the URL has no user:pass. */
  bitcoinDir?: string;
  p2p?: Partial<P2PSourceOptions>;
  rpc?: Partial<RpcSourceOptions>;
}

/** Builds the P2P or RPC source a URL names (the blocks: source is built by its own module). */
export function createSource(url: string, opts: CreateSourceOptions): ChainSource {
  const cfg = parseSourceUrl(url, opts.network);
  if (cfg.kind === 'p2p')
    return new P2PSource({ ...opts.p2p, host: cfg.host, port: cfg.port, network: opts.network });
  if (cfg.kind === 'rpc') {
    const base = { ...opts.rpc, host: cfg.host, port: cfg.port, network: opts.network, zmq: cfg.zmq };
    if (cfg.user !== undefined)
      return new RpcSource({ ...base, credentials: { user: cfg.user, pass: cfg.pass ?? '' } });
    if (!opts.bitcoinDir) {
      throw new ValueError('source', 'rpc:// without user:pass needs --bitcoin-dir to find the cookie file');
    }
    return new RpcSource({ ...base, cookieFile: cookiePath(opts.bitcoinDir, opts.network) });
  }
  throw new ValueError('source', 'blocks: sources are created by the blocks-directory module');
}
