import { EventEmitter } from 'node:events';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import { Backoff, sleep } from '../backoff.ts';
import { blockTxids, checkBlock, checkTx, HEADER_SIZE, headerHash, txid } from '../block-check.ts';
import { type BlockRef, type ChainSource, type SourceBlock, SourceError } from '../types.ts';
import { HeaderChain, UnconnectedHeaders } from './header-chain.ts';
import {
  decodeHeaders,
  decodeInv,
  decodeReject,
  encodeGetHeaders,
  encodeInv,
  type InvItem,
  MAX_HEADERS,
  MSG_BLOCK,
  MSG_TX,
  MSG_WITNESS_BLOCK,
  MSG_WITNESS_TX,
  MSG_WTX,
  NODE_BLOOM,
} from './messages.ts';
import { P2P_PARAMS, type P2PNetwork } from './params.ts';
import { Peer } from './peer.ts';

export interface P2PSourceOptions {
  host: string;
  port: number;
  network: P2PNetwork;
  /** Blocks requested ahead of the one being consumed (default 16). */
  blockWindow?: number;
  handshakeTimeoutMs?: number;
  /** A peer that sends nothing for this long is dropped (default 120 s; we ping every 30 s). */
  idleTimeoutMs?: number;
  pingIntervalMs?: number;
  /** Blocks asked for and none delivered for this long: the peer is dropped (default 60 s). */
  blockTimeoutMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  maxPayload?: number;
  /**
   * getMempool over BIP35: how long to wait for the first inv of the answer before taking the
   * peer's mempool as empty. Peers send invs on a timer (bcoin every 5 s, Core trickles to
   * inbound peers about every 5 s), so the default is 7 s.
   */
  mempoolSettleMs?: number;
  /**
   * Also check each block's merkle root (default false: the indexer does, and hashing every tx
   * twice halves throughput). Header hash and exact framing are always checked.
   */
  checkMerkleRoot?: boolean;
  /** broadcast: how long to wait for the peer to ask for the tx we announced (default 10 s). */
  broadcastTimeoutMs?: number;
}

interface PendingBlock {
  hash: Uint8Array;
  promise: Promise<Uint8Array>;
  resolve: (raw: Uint8Array) => void;
  reject: (err: Error) => void;
}

/**
 * Chain source over the Bitcoin P2P protocol, against one peer (Core, bcoin, btcd, ...):
 * headers-first sync into an in-memory header chain, blocks by pipelined getdata, mempool by
 * inv/getdata and BIP35 `mempool` where the peer offers NODE_BLOOM. Reconnects with
 * exponential backoff; every fault is reported through 'error'.
 */
export class P2PSource extends EventEmitter implements ChainSource {
  readonly kind = 'p2p' as const;
  readonly where: string;
  private readonly opts: Required<P2PSourceOptions>;
  private readonly chain: HeaderChain;
  private readonly backoff: Backoff;
  private peer: Peer | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private startWait: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | null =
    null;
  private readyWaiters: Array<(p: Peer) => void> = [];
  private readonly blocks = new Map<string, PendingBlock>();
  private toRequest: Uint8Array[] = [];
  private lastBlockProgress = Date.now();
  private headersInFlight = false;
  private unconnected = 0;
  private lastTipKey = '';
  /** txid hex -> raw, for txs received and not yet seen confirmed. */
  private readonly mempool = new Map<string, Uint8Array>();
  /** Inventory hashes already asked for or held (bounded). */
  private readonly seenInv = new Set<string>();
  private readonly rejects = new Map<string, string>();
  private lastInvAt = 0;
  private announcedSince: Set<string> | null = null;
  /** Txs we announced and serve on getdata, by txid and wtxid hex. */
  private readonly outgoing = new Map<string, { raw: Uint8Array; asked: () => void }>();
  private watchdog: NodeJS.Timeout | null = null;

  constructor(options: P2PSourceOptions) {
    super();
    this.opts = {
      blockWindow: 16,
      handshakeTimeoutMs: 15_000,
      idleTimeoutMs: 120_000,
      pingIntervalMs: 30_000,
      blockTimeoutMs: 60_000,
      backoffMinMs: 250,
      backoffMaxMs: 30_000,
      maxPayload: 0x02000000,
      mempoolSettleMs: 7_000,
      broadcastTimeoutMs: 10_000,
      checkMerkleRoot: false,
      ...options,
    };
    this.where = `p2p ${options.host}:${options.port}`;
    this.chain = new HeaderChain(P2P_PARAMS[options.network].genesisHeader);
    this.backoff = new Backoff(this.opts.backoffMinMs, this.opts.backoffMaxMs);
  }

  /** Resolves once connected and synced to the peer's headers; keeps retrying until then. */
  start(): Promise<void> {
    if (this.startWait) return this.startWait.promise;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.startWait = { promise, resolve, reject };
    this.running = this.run();
    this.watchdog = setInterval(() => this.checkStall(), 1000);
    return promise;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (this.watchdog) clearInterval(this.watchdog);
    this.peer?.destroy(null);
    const err = new SourceError(this.where, 'stopped', 'source stopped');
    for (const p of this.blocks.values()) p.reject(err);
    this.blocks.clear();
    this.startWait?.reject(err);
    await this.running;
  }

  async getTip(): Promise<BlockRef> {
    return { height: this.chain.height, hash: this.chain.tipHash };
  }

  async getBlockHash(height: number): Promise<Uint8Array | null> {
    return this.chain.hashAt(height);
  }

  /** The current best header chain height (no I/O). */
  get headerHeight(): number {
    return this.chain.height;
  }

  async *getBlocks(from: number, to: number): AsyncIterable<SourceBlock> {
    const queue: { height: number; hash: Uint8Array; p: Promise<Uint8Array> }[] = [];
    let next = from;
    try {
      while (next <= to || queue.length > 0) {
        while (queue.length < this.opts.blockWindow && next <= to) {
          const hash = this.chain.hashAt(next);
          if (hash === null) {
            if (queue.length > 0) break;
            throw new SourceError(
              this.where,
              'not-found',
              `no block at height ${next} (tip ${this.chain.height})`,
            );
          }
          const p = this.requestBlock(hash);
          p.catch(() => {});
          queue.push({ height: next, hash, p });
          next++;
        }
        const item = queue.shift();
        if (!item) break;
        const raw = await item.p;
        yield { height: item.height, hash: item.hash, raw };
      }
    } finally {
      // A consumer that stops early leaves nothing behind to be fetched for nobody.
      for (const q of queue) this.blocks.delete(toHex(q.hash));
    }
  }

  /**
   * The txs relayed to us since we connected that no block fetched through this source has
   * confirmed. With a peer offering NODE_BLOOM it first asks for the whole mempool (BIP35
   * `mempool`) and fetches what is new. The answer cannot be used to forget txs: bcoin leaves
   * out txs it already announced to us. Txs the peer evicts or drops for a conflict stay here
   * until the next connection, which starts from an empty view and asks again.
   */
  async getMempool(): Promise<Uint8Array[]> {
    const peer = await this.waitReady();
    if (peer.remote && (peer.remote.services & NODE_BLOOM) !== 0n) {
      const announced = new Set<string>();
      this.announcedSince = announced;
      const asked = Date.now();
      this.lastInvAt = 0;
      peer.send('mempool');
      try {
        await peer.ping();
        // The answer is one or more invs sent on the peer's inv timer: done when invs came and
        // went quiet, or none came within the settle time (an empty mempool sends nothing).
        const hardStop = asked + this.opts.mempoolSettleMs + 30_000;
        for (;;) {
          const now = Date.now();
          const gotInvs = this.lastInvAt >= asked;
          if (gotInvs && now - this.lastInvAt >= 500 && !this.txRequestsOutstanding(announced)) break;
          if (!gotInvs && now - asked >= this.opts.mempoolSettleMs) break;
          if (now > hardStop || this.stopped || peer.isClosed) break;
          await sleep(50, this.abort.signal);
        }
      } finally {
        this.announcedSince = null;
      }
    }
    return [...this.mempool.values()];
  }

  /**
   * Announces the tx (inv; MSG_WTX after wtxidrelay), serves the peer's getdata, then waits one
   * ping round trip for a BIP61 reject (bcoin sends them; Core does not). A peer that never asks
   * already has the tx or does not take txs: P2P offers no further confirmation.
   */
  async broadcast(rawTx: Uint8Array): Promise<void> {
    try {
      checkTx(rawTx);
    } catch (e) {
      throw new SourceError(this.where, 'rejected', `not a transaction: ${(e as Error).message}`);
    }
    const id = txid(rawTx);
    const wid = sha256d(rawTx);
    const k = toHex(id);
    const peer = await this.waitReady();
    this.rejects.delete(k);
    let asked!: () => void;
    const wasAsked = new Promise<boolean>((res) => {
      asked = () => res(true);
      setTimeout(() => res(false), this.opts.broadcastTimeoutMs);
    });
    const entry = { raw: rawTx, asked };
    this.outgoing.set(k, entry);
    this.outgoing.set(toHex(wid), entry);
    try {
      peer.send(
        'inv',
        encodeInv([peer.wtxidRelay ? { type: MSG_WTX, hash: wid } : { type: MSG_TX, hash: id }]),
      );
      if (await wasAsked) await peer.ping();
    } finally {
      this.outgoing.delete(k);
      this.outgoing.delete(toHex(wid));
    }
    const reason = this.rejects.get(k);
    if (reason !== undefined) {
      this.rejects.delete(k);
      throw new SourceError(this.where, 'rejected', `${toHexReversed(id)}: ${reason}`);
    }
    this.rememberInv(k);
    if (!this.mempool.has(k)) {
      this.mempool.set(k, rawTx);
      this.emit('tx', rawTx);
    }
  }

  private waitReady(): Promise<Peer> {
    if (this.stopped) return Promise.reject(new SourceError(this.where, 'stopped', 'source stopped'));
    if (this.peer?.ready && !this.peer.isClosed) return Promise.resolve(this.peer);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    const params = P2P_PARAMS[this.opts.network];
    while (!this.stopped) {
      const peer = new Peer({
        host: this.opts.host,
        port: this.opts.port,
        magic: params.magic,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
        idleTimeoutMs: this.opts.idleTimeoutMs,
        pingIntervalMs: this.opts.pingIntervalMs,
        maxPayload: this.opts.maxPayload,
      });
      peer.on('message', (command: string, payload: Uint8Array) => this.onMessage(peer, command, payload));
      const closed = new Promise<Error | null>((res) => peer.once('close', res));
      this.peer = peer;
      try {
        await peer.open();
        this.onReady(peer);
        const err = await closed;
        if (err && !this.stopped) this.reportError(err);
      } catch (e) {
        if (!this.stopped) this.reportError(e as Error);
      }
      peer.destroy(null);
      this.peer = null;
      this.headersInFlight = false;
      if (this.stopped) break;
      await sleep(this.backoff.next(), this.abort.signal);
    }
  }

  private reportError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private onReady(peer: Peer): void {
    this.unconnected = 0;
    this.mempool.clear();
    this.seenInv.clear();
    if (peer.remote && (peer.remote.services & NODE_BLOOM) !== 0n) peer.send('mempool');
    this.requestHeaders(peer);
    // Blocks asked of a previous connection are asked again.
    const again = [...this.blocks.values()].map((b) => b.hash);
    if (again.length > 0) {
      this.lastBlockProgress = Date.now();
      this.sendGetData(
        peer,
        again.map((hash) => ({ type: MSG_WITNESS_BLOCK, hash })),
      );
    }
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w(peer);
  }

  private requestHeaders(peer: Peer): void {
    this.headersInFlight = true;
    peer.send('getheaders', encodeGetHeaders(this.chain.locator()));
  }

  private sendGetData(peer: Peer, items: InvItem[]): void {
    for (let i = 0; i < items.length; i += 1000) peer.send('getdata', encodeInv(items.slice(i, i + 1000)));
  }

  private requestBlock(hash: Uint8Array): Promise<Uint8Array> {
    const k = toHex(hash);
    const existing = this.blocks.get(k);
    if (existing) return existing.promise;
    let resolve!: (raw: Uint8Array) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Uint8Array>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    if (this.stopped) {
      reject(new SourceError(this.where, 'stopped', 'source stopped'));
      return promise;
    }
    if (this.blocks.size === 0) this.lastBlockProgress = Date.now();
    this.blocks.set(k, { hash, promise, resolve, reject });
    if (this.toRequest.length === 0) queueMicrotask(() => this.flushRequests());
    this.toRequest.push(hash);
    return promise;
  }

  private flushRequests(): void {
    const hashes = this.toRequest;
    this.toRequest = [];
    const peer = this.peer;
    if (!peer?.ready || peer.isClosed) return; // onReady asks for every pending block
    this.sendGetData(
      peer,
      hashes.filter((h) => this.blocks.has(toHex(h))).map((hash) => ({ type: MSG_WITNESS_BLOCK, hash })),
    );
  }

  private checkStall(): void {
    const peer = this.peer;
    if (!peer?.ready || this.blocks.size === 0) return;
    const idle = Date.now() - this.lastBlockProgress;
    if (idle > this.opts.blockTimeoutMs) {
      peer.destroy(
        new SourceError(
          this.where,
          'timeout',
          `${this.blocks.size} blocks asked for, none delivered in ${idle} ms`,
        ),
      );
    }
  }

  private txRequestsOutstanding(announced: Set<string>): boolean {
    for (const k of announced) if (!this.mempool.has(k) && this.seenInv.has(k)) return true;
    return false;
  }

  private rememberInv(k: string): void {
    if (this.seenInv.size >= 100_000) this.seenInv.clear();
    this.seenInv.add(k);
  }

  /** Throws to have the peer dropped for a protocol fault. */
  private onMessage(peer: Peer, command: string, payload: Uint8Array): void {
    switch (command) {
      case 'headers':
        this.onHeaders(peer, decodeHeaders(payload));
        return;
      case 'inv':
        this.onInv(peer, decodeInv(payload));
        return;
      case 'block':
        this.onBlock(peer, payload);
        return;
      case 'tx':
        this.onTx(payload);
        return;
      case 'getdata':
        this.onGetData(peer, decodeInv(payload, 'getdata'));
        return;
      case 'notfound':
        this.onNotFound(decodeInv(payload, 'notfound'));
        return;
      case 'reject': {
        const r = decodeReject(payload);
        if (r.message === 'tx' && r.hash) this.rejects.set(toHex(r.hash), `${r.reason} (code ${r.code})`);
        return;
      }
      default:
        // getheaders, addr, sendcmpct, feefilter, ...: nothing to serve or use.
        return;
    }
  }

  private onHeaders(peer: Peer, headers: Uint8Array[]): void {
    let result: { changed: boolean; forkHeight: number };
    try {
      result = this.chain.add(headers);
      this.unconnected = 0;
    } catch (e) {
      if (!(e instanceof UnconnectedHeaders)) throw e;
      // An announcement on top of blocks we have not heard of: ask for the gap (BIP130).
      if (++this.unconnected > 10)
        throw new SourceError(this.where, 'protocol', 'repeatedly sent headers that do not connect');
      this.requestHeaders(peer);
      return;
    }
    if (headers.length === MAX_HEADERS && result.changed) {
      this.requestHeaders(peer);
      return;
    }
    this.headersInFlight = false;
    this.backoff.reset();
    const tipKey = toHex(this.chain.tipHash);
    if (this.startWait && !this.stopped) this.startWait.resolve();
    if (tipKey !== this.lastTipKey) {
      this.lastTipKey = tipKey;
      this.emit('tip');
    }
  }

  private onInv(peer: Peer, items: InvItem[]): void {
    const want: InvItem[] = [];
    let newBlock = false;
    for (const it of items) {
      const type = it.type & ~0x40000000;
      if (type === MSG_BLOCK) {
        if (!this.chain.has(it.hash)) newBlock = true;
      } else if (type === MSG_TX || type === MSG_WTX) {
        const k = toHex(it.hash);
        this.lastInvAt = Date.now();
        this.announcedSince?.add(k);
        if (this.seenInv.has(k) || this.mempool.has(k)) continue;
        this.rememberInv(k);
        want.push({ type: type === MSG_WTX ? MSG_WTX : MSG_WITNESS_TX, hash: it.hash });
      }
    }
    if (newBlock && !this.headersInFlight) this.requestHeaders(peer);
    if (want.length > 0) this.sendGetData(peer, want);
  }

  private onBlock(peer: Peer, raw: Uint8Array): void {
    if (raw.length < HEADER_SIZE) throw new DecodeError('truncated', 'block', 0, `${raw.length} bytes`);
    const hash = headerHash(raw);
    const k = toHex(hash);
    const pending = this.blocks.get(k);
    if (!pending) {
      // Unsolicited: take it as an announcement of its header only.
      if (!this.chain.has(hash) && !this.headersInFlight) this.requestHeaders(peer);
      return;
    }
    try {
      checkBlock(raw, hash, { merkleRoot: this.opts.checkMerkleRoot });
    } catch (e) {
      throw new SourceError(this.where, 'bad-block', `block ${toHexReversed(hash)}: ${(e as Error).message}`);
    }
    this.blocks.delete(k);
    this.lastBlockProgress = Date.now();
    if (this.mempool.size > 0) {
      for (const id of blockTxids(raw)) this.mempool.delete(toHex(id));
    }
    pending.resolve(raw);
  }

  private onTx(raw: Uint8Array): void {
    try {
      checkTx(raw);
    } catch (e) {
      throw new SourceError(this.where, 'protocol', `bad tx: ${(e as Error).message}`);
    }
    const k = toHex(txid(raw));
    this.rememberInv(k);
    if (this.mempool.has(k)) return;
    if (this.mempool.size >= 300_000) return; // bounded: getMempool over BIP35 refreshes it
    this.mempool.set(k, raw);
    this.emit('tx', raw);
  }

  private onGetData(peer: Peer, items: InvItem[]): void {
    for (const it of items) {
      const type = it.type & ~0x40000000;
      if (type !== MSG_TX && type !== MSG_WTX) continue;
      const out = this.outgoing.get(toHex(it.hash));
      if (!out) continue;
      peer.send('tx', out.raw);
      out.asked();
    }
  }

  private onNotFound(items: InvItem[]): void {
    for (const it of items) {
      const k = toHex(it.hash);
      const pending = this.blocks.get(k);
      if (pending && (it.type & ~0x40000000) === MSG_BLOCK) {
        this.blocks.delete(k);
        pending.reject(
          new SourceError(this.where, 'not-found', `peer does not have block ${toHexReversed(it.hash)}`),
        );
      } else {
        this.seenInv.delete(k);
      }
    }
  }
}
