import { EventEmitter } from 'node:events';
import { fromHex, fromHexReversed, toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { Backoff, sleep } from '../backoff.ts';
import { checkBlock, checkTx, headerHash } from '../block-check.ts';
import type { P2PNetwork } from '../p2p/params.ts';
import { type BlockRef, type ChainSource, type SourceBlock, SourceError } from '../types.ts';
import { RpcClient, RpcError } from './client.ts';
import type { RpcCredentials } from './cookie.ts';
import { parseSequence, ZmqListener } from './zmq.ts';

export interface RpcSourceOptions {
  host: string;
  port: number;
  network: P2PNetwork;
  credentials?: RpcCredentials;
  /** Core's .cookie (see cookiePath); used when no credentials are given. */
  cookieFile?: string;
  /** ZMQ endpoints publishing rawblock, rawtx and sequence (e.g. tcp://127.0.0.1:28332). */
  zmq?: string[];
  /** Block requests in flight in getBlocks (default 8). */
  concurrency?: number;
  /** getbestblockhash polling: default 1 s without ZMQ, 30 s with (a safety net). */
  pollMs?: number;
  /** getrawmempool polling when there is no ZMQ (default 2 s; 0 turns it off). */
  mempoolPollMs?: number;
  /** How often a failed call is retried before it throws (default 5), with backoff. */
  retries?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  timeoutMs?: number;
  /** Also check each block's merkle root (default false; the indexer does). */
  checkMerkleRoot?: boolean;
}

/** Core's `chain` names (getblockchaininfo) per network; bcoin says 'main'/'test' too. */
const CHAIN_NAMES: Record<P2PNetwork, string[]> = {
  mainnet: ['main'],
  testnet: ['test'],
  testnet4: ['testnet4'],
  signet: ['signet'],
  regtest: ['regtest'],
};

/** Core's RPC_INVALID_PARAMETER, which getblockhash returns above the tip. */
const RPC_INVALID_PARAMETER = -8;
const RPC_INVALID_ADDRESS_OR_KEY = -5;

/**
 * Chain source over Bitcoin Core's JSON-RPC (catch-up: pipelined getblockhash + getblock <hash> 0)
 * and ZMQ (live: rawblock, rawtx, sequence), polling getbestblockhash and getrawmempool when
 * ZMQ is not configured.
 */
export class RpcSource extends EventEmitter implements ChainSource {
  readonly kind = 'rpc' as const;
  readonly where: string;
  readonly client: RpcClient;
  private readonly opts: RpcSourceOptions &
    Required<Pick<RpcSourceOptions, 'concurrency' | 'retries' | 'backoffMinMs' | 'backoffMaxMs'>>;
  private readonly zmq: ZmqListener | null;
  private stopped = false;
  private started: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private pollers: Promise<void>[] = [];
  private lastBest = '';
  private tipScheduled = false;
  /** Blocks that arrived by ZMQ rawblock, by hash hex, so getBlocks need not fetch them again. */
  private readonly recentBlocks = new Map<string, Uint8Array>();
  /** txid hex of the mempool as last polled (no-ZMQ mode). */
  private knownMempool: Set<string> | null = null;

  constructor(options: RpcSourceOptions) {
    super();
    this.opts = { concurrency: 8, retries: 5, backoffMinMs: 250, backoffMaxMs: 10_000, ...options };
    this.where = `rpc ${options.host}:${options.port}`;
    this.client = new RpcClient({
      host: options.host,
      port: options.port,
      credentials: options.credentials,
      cookieFile: options.cookieFile,
      maxSockets: this.opts.concurrency,
      timeoutMs: options.timeoutMs,
    });
    this.zmq = options.zmq && options.zmq.length > 0 ? new ZmqListener(options.zmq) : null;
  }

  /** Reaches the node (retrying with backoff), checks its chain, then starts ZMQ and polling. */
  start(): Promise<void> {
    if (!this.started) this.started = this.doStart();
    return this.started;
  }

  private async doStart(): Promise<void> {
    const backoff = new Backoff(this.opts.backoffMinMs, this.opts.backoffMaxMs);
    let info: { chain: string; bestblockhash: string };
    for (;;) {
      if (this.stopped) throw new SourceError(this.where, 'stopped', 'source stopped');
      try {
        info = await this.client.call('getblockchaininfo');
        break;
      } catch (e) {
        if (e instanceof SourceError && e.code === 'auth') throw e;
        this.reportError(e as Error);
        await sleep(backoff.next(), this.abort.signal);
      }
    }
    if (!CHAIN_NAMES[this.opts.network].includes(info.chain)) {
      throw new SourceError(
        this.where,
        'protocol',
        `node is on chain "${info.chain}", not ${this.opts.network}`,
      );
    }
    this.lastBest = info.bestblockhash;
    if (this.zmq) {
      this.zmq.on('message', (topic: string, body: Uint8Array) => this.onZmq(topic, body));
      this.zmq.on('gap', (err: Error) => {
        this.reportError(err);
        this.emitTip();
      });
      this.zmq.on('error', (err: Error) => this.reportError(err));
      this.zmq.start();
    }
    const pollMs = this.opts.pollMs ?? (this.zmq ? 30_000 : 1_000);
    this.pollers.push(this.every(pollMs, () => this.pollTip()));
    const mempoolPollMs = this.opts.mempoolPollMs ?? 2_000;
    if (!this.zmq && mempoolPollMs > 0)
      this.pollers.push(this.every(mempoolPollMs, () => this.pollMempool()));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.started?.catch(() => {});
    await this.zmq?.stop();
    await Promise.all(this.pollers);
    this.client.close();
  }

  async getTip(): Promise<BlockRef> {
    // One call, so height and hash come from the same moment.
    const info = await this.call<{ blocks: number; bestblockhash: string }>('getblockchaininfo');
    return { height: info.blocks, hash: this.hash(info.bestblockhash, 'getblockchaininfo') };
  }

  async getBlockHash(height: number): Promise<Uint8Array | null> {
    if (!Number.isInteger(height) || height < 0) return null;
    try {
      return this.hash(await this.call<string>('getblockhash', [height]), 'getblockhash');
    } catch (e) {
      if (e instanceof RpcError && e.code === RPC_INVALID_PARAMETER) return null;
      throw e;
    }
  }

  async *getBlocks(from: number, to: number): AsyncIterable<SourceBlock> {
    const queue: { height: number; p: Promise<{ hash: Uint8Array; raw: Uint8Array }> }[] = [];
    let next = from;
    while (next <= to || queue.length > 0) {
      while (queue.length < this.opts.concurrency && next <= to) {
        const p = this.fetchBlock(next);
        p.catch(() => {});
        queue.push({ height: next, p });
        next++;
      }
      const item = queue.shift();
      if (!item) break;
      const { hash, raw } = await item.p;
      yield { height: item.height, hash, raw };
    }
  }

  private async fetchBlock(height: number): Promise<{ hash: Uint8Array; raw: Uint8Array }> {
    const hash = await this.getBlockHash(height);
    if (hash === null) throw new SourceError(this.where, 'not-found', `no block at height ${height}`);
    const k = toHex(hash);
    const cached = this.recentBlocks.get(k);
    if (cached) return { hash, raw: cached };
    // A reply that is not the block asked for is retried like a transport fault, then thrown.
    const raw = await this.retry(`getblock ${toHexReversed(hash)}`, async () => {
      const hex = await this.client.call<string>('getblock', [toHexReversed(hash), 0]);
      if (typeof hex !== 'string')
        throw new SourceError(this.where, 'protocol', 'getblock: result is not a hex string');
      let raw: Uint8Array;
      try {
        raw = fromHex(hex, 'getblock');
        checkBlock(raw, hash, { merkleRoot: this.opts.checkMerkleRoot });
      } catch (e) {
        throw new SourceError(
          this.where,
          'bad-block',
          `block ${toHexReversed(hash)} at ${height}: ${(e as Error).message}`,
        );
      }
      return raw;
    });
    return { hash, raw };
  }

  async getMempool(): Promise<Uint8Array[]> {
    const ids = await this.call<string[]>('getrawmempool');
    if (!Array.isArray(ids)) throw new SourceError(this.where, 'protocol', 'getrawmempool: not an array');
    return (await this.fetchTxs(ids)).map((t) => t.raw);
  }

  /** Raw txs by display txid, several in flight; txs gone meanwhile are left out. */
  private async fetchTxs(ids: string[]): Promise<{ id: string; raw: Uint8Array }[]> {
    const out: { id: string; raw: Uint8Array }[] = [];
    let i = 0;
    const worker = async () => {
      while (i < ids.length) {
        const id = ids[i++];
        try {
          const hex = await this.call<string>('getrawtransaction', [id]);
          const raw = fromHex(hex, 'getrawtransaction');
          checkTx(raw);
          out.push({ id, raw });
        } catch (e) {
          if (
            e instanceof RpcError &&
            (e.code === RPC_INVALID_ADDRESS_OR_KEY || /not found/i.test(e.message))
          )
            continue;
          throw e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, ids.length) }, worker));
    return out;
  }

  async broadcast(rawTx: Uint8Array): Promise<void> {
    try {
      await this.client.call('sendrawtransaction', [toHex(rawTx)]);
    } catch (e) {
      if (e instanceof RpcError) throw new SourceError(this.where, 'rejected', e.message);
      throw e;
    }
  }

  private onZmq(topic: string, body: Uint8Array): void {
    try {
      if (topic === 'rawblock') {
        const hash = headerHash(body);
        checkBlock(body, hash, { merkleRoot: this.opts.checkMerkleRoot });
        this.recentBlocks.set(toHex(hash), body.slice());
        while (this.recentBlocks.size > 8)
          this.recentBlocks.delete(this.recentBlocks.keys().next().value as string);
        this.emitTip();
      } else if (topic === 'rawtx') {
        checkTx(body);
        this.emit('tx', body.slice());
      } else if (topic === 'sequence') {
        const ev = parseSequence(body);
        if (!ev) throw new Error(`malformed sequence body of ${body.length} bytes`);
        if (ev.label === 'C' || ev.label === 'D') this.emitTip();
        else if (ev.label === 'R') this.emit('txRemoved', ev.hash);
      }
    } catch (e) {
      this.reportError(
        new SourceError(this.zmq?.where ?? this.where, 'protocol', `bad ${topic}: ${(e as Error).message}`),
      );
    }
  }

  /** Coalesces the several notifications one block brings (rawblock, sequence C) into one 'tip'. */
  private emitTip(): void {
    if (this.tipScheduled) return;
    this.tipScheduled = true;
    setImmediate(() => {
      this.tipScheduled = false;
      if (!this.stopped) this.emit('tip');
    });
  }

  private async pollTip(): Promise<void> {
    const best = await this.client.call<string>('getbestblockhash');
    if (best !== this.lastBest) {
      this.lastBest = best;
      this.emitTip();
    }
  }

  private async pollMempool(): Promise<void> {
    const ids = await this.client.call<string[]>('getrawmempool');
    const now = new Set(ids);
    const known = this.knownMempool;
    this.knownMempool = now;
    if (known === null) return; // the first poll is the baseline; getMempool serves it
    const added = ids.filter((id) => !known.has(id));
    for (const { raw } of await this.fetchTxs(added)) this.emit('tx', raw);
    // Without ZMQ the reason is unknown: confirmed txs are reported removed too.
    for (const id of known) if (!now.has(id)) this.emit('txRemoved', fromHexReversed(id));
  }

  private async every(ms: number, fn: () => Promise<void>): Promise<void> {
    const backoff = new Backoff(this.opts.backoffMinMs, this.opts.backoffMaxMs);
    while (!this.stopped) {
      await sleep(ms, this.abort.signal);
      if (this.stopped) break;
      try {
        await fn();
        backoff.reset();
      } catch (e) {
        if (this.stopped) break;
        this.reportError(e as Error);
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  /** A call retried on transport faults (node down, connection reset, garbage) with backoff. */
  private call<T>(method: string, params: unknown[] = []): Promise<T> {
    return this.retry(method, () => this.client.call<T>(method, params));
  }

  private async retry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const backoff = new Backoff(this.opts.backoffMinMs, this.opts.backoffMaxMs);
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new SourceError(this.where, 'stopped', 'source stopped');
      try {
        return await fn();
      } catch (e) {
        const transient = e instanceof SourceError && e.code !== 'auth' && e.code !== 'stopped';
        if (!transient || attempt >= this.opts.retries) throw e;
        this.reportError(
          new SourceError(
            this.where,
            (e as SourceError).code,
            `${what} failed, retrying: ${(e as Error).message}`,
          ),
        );
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  private hash(display: unknown, what: string): Uint8Array {
    if (typeof display !== 'string' || !/^[0-9a-f]{64}$/i.test(display)) {
      throw new SourceError(
        this.where,
        'protocol',
        `${what}: not a 32-byte hash: ${JSON.stringify(display).slice(0, 80)}`,
      );
    }
    return fromHexReversed(display);
  }

  private reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
