import { EventEmitter } from 'node:events';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import {
  blockChecksum,
  inputLo,
  offchainInputId,
  offchainOutputId,
  onchainHi,
  outputLo,
  shortIdFromParts,
} from '@lnpbp/bitcoin/shortid/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import type { BodyOf, NotificationName } from '@lnpbp/bus';
import type { ConnectResult, Index } from '../index/index.ts';
import type { AddResult, Mempool, MempoolEntry, RemoveReason } from '../index/mempool.ts';
import type { BpdMessages } from './messages.ts';
import type { WatchTable } from './watch.ts';
import { WatchBatch } from './watch-batch.ts';

/** What push needs of a publisher (the bus's Publisher fits; tests may record instead). */
export interface Publish {
  publish<N extends NotificationName<BpdMessages>>(
    topic: string,
    name: N,
    body: BodyOf<BpdMessages, N>,
  ): unknown;
}

/** The Pusher's: also bodies it encoded itself (watchMatches, see WatchBatch). */
export interface PublishEncoded extends Publish {
  publishEncoded(topic: string, name: NotificationName<BpdMessages>, body: Uint8Array): unknown;
}

export const TOPIC = {
  block: 'block',
  reorg: 'reorg',
  tx: 'tx',
  hello: 'hello',
  watch: (channel: string) => `watch/${channel}`,
  ping: (token: bigint) => `ping/${token.toString(16).padStart(16, '0')}`,
} as const;

/** Pattern and descriptor subscriptions (api/match.ts MatchPusher), matched after the watch sets. */
export interface MatchPush {
  mempoolAdded(e: MempoolEntry): void;
  /** A tx left the mempool without confirming (never called for `confirmed`). */
  mempoolRemoved(e: MempoolEntry, why: RemoveReason): void;
  blockConnected(r: ConnectResult): void;
}

/** How often `hello` is published (docs/bpd-api.md, Push: a restart is seen within this). */
export const HELLO_INTERVAL_MS = 5_000;
/**
 * `hello` also goes out this long after start: subscribers of the previous run reconnect within
 * ZeroMQ's reconnect interval (100 ms by default) and miss the first one.
 */
const HELLO_EARLY_MS = [300, 1_000, 2_500];

export interface PusherOptions {
  helloIntervalMs?: number;
  /** Unix seconds, for `hello`; default when the Pusher is made. */
  startedAt?: number;
}

interface SyncEvents {
  on(event: 'block', cb: (r: ConnectResult) => void): unknown;
  on(
    event: 'reorg',
    cb: (r: { fromHeight: number; toHeight: number; forkHash: Uint8Array }) => void,
  ): unknown;
}

/**
 * Turns index and mempool changes into notifications: every connected block (`block`), every
 * reorg (`reorg`), every mempool arrival (`tx`), and the matches against the watch table, one
 * `watchMatches` per channel per block or tx (`watch/<channel>`); a mempool tx that leaves
 * without confirming takes its matches back (`watchWithdrawn`, matched again from the entry as
 * it arrived). The Mempool has no arrival event, so its `add` is wrapped on this instance (txs
 * that come back from disconnected blocks go through `add` too, so they are announced again);
 * exits come through its `onRemove`, the one place every path of removal passes. `hello` goes
 * out at start and every few seconds, so clients see a restart without waiting for a match.
 */
export class Pusher extends EventEmitter {
  /** Published by kind, for status: spend and script count match entries, watchMatches messages. */
  readonly counts = {
    block: 0,
    reorg: 0,
    tx: 0,
    spend: 0,
    script: 0,
    watchMatches: 0,
    watchWithdrawn: 0,
    hello: 0,
  };
  private readonly topics = new Map<string, string>();
  private readonly batch = new WatchBatch();
  /** Txs a block's double spend pushed out, withdrawn when that block is reported (it names them). */
  private readonly conflicts: MempoolEntry[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly helloMs: number;
  private readonly startedAt: number;

  constructor(
    private readonly index: Index,
    private readonly mempool: Mempool,
    private readonly watches: WatchTable,
    private readonly pub: PublishEncoded,
    private readonly matches?: MatchPush,
    opts: PusherOptions = {},
  ) {
    super();
    this.helloMs = opts.helloIntervalMs ?? HELLO_INTERVAL_MS;
    this.startedAt = opts.startedAt ?? Math.floor(Date.now() / 1000);
  }

  attach(syncer: SyncEvents): void {
    const mp = this.mempool;
    const add = mp.add.bind(mp);
    mp.add = (raw: Uint8Array, time?: number): AddResult => {
      const r = add(raw, time);
      if (r === 'added') {
        const e = mp.get(parseTx(raw).txid());
        if (e) this.mempoolAdded(e);
      }
      return r;
    };
    const before = mp.onRemove;
    mp.onRemove = (e, why) => {
      before?.(e, why);
      if (why !== 'confirmed') this.mempoolRemoved(e, why);
    };
    syncer.on('block', (r) => this.blockConnected(r));
    syncer.on('reorg', (r) => {
      this.counts.reorg++;
      this.pub.publish(TOPIC.reorg, 'reorg', r);
      this.emit('published');
    });
    this.startHello();
  }

  /** `hello` now, a few times early, then every interval (timers unref'd: they keep nothing alive). */
  private startHello(): void {
    if (this.helloMs <= 0 || this.timers.length > 0) return;
    const say = () => {
      this.counts.hello++;
      this.pub.publish(TOPIC.hello, 'hello', { startedAt: this.startedAt, intervalMs: this.helloMs });
    };
    say();
    for (const ms of HELLO_EARLY_MS) if (ms < this.helloMs) this.timers.push(setTimeout(say, ms).unref());
    this.timers.push(setInterval(say, this.helloMs).unref());
  }

  /** Stops `hello` (before the publisher closes). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
  }

  private publishBatch(
    b: WatchBatch,
    block?: { height: number; hash: Uint8Array },
    name: 'watchMatches' | 'watchWithdrawn' = 'watchMatches',
  ): void {
    if (b.empty) return;
    if (name === 'watchMatches') {
      this.counts.spend += b.spends;
      this.counts.script += b.scripts;
    }
    for (const p of b.bodies(block)) {
      let topic = this.topics.get(p.channel);
      if (topic === undefined) {
        topic = TOPIC.watch(p.channel);
        // Bounded by the channels that ever matched; a channel is a client's, not a set's.
        if (this.topics.size > 100_000) this.topics.clear();
        this.topics.set(p.channel, topic);
      }
      this.counts[name]++;
      this.pub.publishEncoded(topic, name, p.body);
    }
  }

  mempoolAdded(e: MempoolEntry): void {
    if (this.conflicts.length > 0) this.withdrawConflicts(this.index.tip() ?? undefined);
    this.counts.tx++;
    this.pub.publish(TOPIC.tx, 'mempoolTx', {
      txid: e.txid,
      shortId: e.shortId,
      vsize: e.vsize,
      fee: e.fee ?? undefined,
    });
    this.publishBatch(this.matchEntry(e));
    this.matches?.mempoolAdded(e);
    this.emit('published');
  }

  /**
   * A tx left the mempool without confirming: its matches, as `mempoolAdded` found them (the
   * entry keeps what its inputs spent), withdrawn. A conflict names the block that caused it:
   * the Syncer updates the mempool with a block just before it reports the block (`block`), so
   * those wait for that report (the index's tip is not that block when a batch of blocks was
   * committed at once).
   */
  mempoolRemoved(e: MempoolEntry, why: RemoveReason): void {
    if (why === 'conflict') this.conflicts.push(e);
    else this.publishBatch(this.matchEntry(e), undefined, 'watchWithdrawn');
    this.matches?.mempoolRemoved(e, why);
    this.emit('published');
  }

  private withdrawConflicts(block?: { height: number; hash: Uint8Array }): void {
    for (const e of this.conflicts) this.publishBatch(this.matchEntry(e), block, 'watchWithdrawn');
    this.conflicts.length = 0;
  }

  /** The watch-set matches of one mempool entry, in the batch. */
  private matchEntry(e: MempoolEntry): WatchBatch {
    const w = this.watches;
    const b = this.batch;
    b.reset(w.slotCount);
    if (w.hasOutpoints) {
      for (const [vin, inp] of e.tx.inputs.entries()) {
        const sets = w.watchersOfOutpoint(inp.prevTxid, inp.vout);
        if (!sets) continue;
        const [hi, lo] = halves(offchainInputId(e.txid, vin));
        for (const set of sets) b.spend(set, inp.prevTxid, inp.vout, e.txid, vin, hi, lo);
      }
    }
    if (w.hasScripts) {
      for (const [vin, hash] of e.spentScripts.entries()) {
        const sets = hash === null ? undefined : w.watchersOfScript(hash);
        if (!sets || hash === null) continue;
        const value = e.spent[vin]?.value ?? 0n;
        const [hi, lo] = halves(offchainInputId(e.txid, vin));
        for (const set of sets) b.script(set, set.scripts.get(hash)!, e.txid, 1, vin, value, hi, lo);
      }
      for (const [vout, hash] of e.outScripts.entries()) {
        const sets = w.watchersOfScript(hash);
        if (!sets) continue;
        const { value } = e.tx.outputs[vout];
        const [hi, lo] = halves(offchainOutputId(e.txid, vout));
        for (const set of sets) b.script(set, set.scripts.get(hash)!, e.txid, 0, vout, value, hi, lo);
      }
    }
    return b;
  }

  blockConnected(r: ConnectResult): void {
    // Not r.block: a block a worker prepared is parsed only if a watch needs its txs.
    const { height, hash } = r;
    // Before the block's own matches, which carry the double spends.
    if (this.conflicts.length > 0) this.withdrawConflicts({ height, hash });
    const hi = onchainHi(height, blockChecksum(hash));
    this.counts.block++;
    this.pub.publish(TOPIC.block, 'blockConnected', {
      height,
      hash,
      shortId: shortIdFromParts(hi, 0),
      txCount: r.txCount,
    });
    const w = this.watches;
    const b = this.batch;
    b.reset(w.slotCount);
    if (w.hasOutpoints) this.blockSpends(r, hi, b);
    if (w.hasScripts) this.blockScripts(r, hi, b);
    this.publishBatch(b, { height, hash });
    this.matches?.blockConnected(r);
    this.emit('published');
  }

  private blockSpends({ block }: ConnectResult, hi: number, b: WatchBatch): void {
    const w = this.watches;
    const txs = block.txs;
    for (let p = 1; p < txs.length; p++) {
      const tx = txs[p];
      const inputs = tx.inputs;
      for (let vin = 0; vin < inputs.length; vin++) {
        const inp = inputs[vin];
        const sets = w.watchersOfOutpoint(inp.prevTxid, inp.vout);
        if (!sets) continue;
        const lo = inputLo(p, vin);
        for (const set of sets) b.spend(set, inp.prevTxid, inp.vout, tx.txid(), vin, hi, lo);
      }
    }
  }

  /**
   * Funding: the block's output scripts hashed and looked up. Spending: the spent outputs'
   * scripts and values as connectBlock resolved them for the undo record (none for an output
   * below the index's base: its script is not known).
   */
  private blockScripts(r: ConnectResult, hi: number, b: WatchBatch): void {
    const w = this.watches;
    const txs = r.block.txs;
    let k = 0;
    for (let p = 0; p < txs.length; p++) {
      const tx = txs[p];
      if (p > 0) {
        for (let vin = 0; vin < tx.inputs.length; vin++, k++) {
          const prev = r.prevScripts[k];
          if (prev === undefined) continue;
          const h = toHex(sha256(prev));
          const sets = w.watchersOfScript(h);
          if (!sets) continue;
          const value = r.prevValues[k];
          const lo = inputLo(p, vin);
          for (const set of sets) b.script(set, set.scripts.get(h)!, tx.txid(), 1, vin, value, hi, lo);
        }
      }
      for (let vout = 0; vout < tx.outputs.length; vout++) {
        const o = tx.outputs[vout];
        const h = toHex(sha256(o.scriptPubKey));
        const sets = w.watchersOfScript(h);
        if (!sets) continue;
        const lo = outputLo(p, vout);
        for (const set of sets) b.script(set, set.scripts.get(h)!, tx.txid(), 0, vout, o.value, hi, lo);
      }
    }
  }
}

/** A u64 short id as the [hi, lo] u32 halves the batch writes. */
function halves(id: bigint): [number, number] {
  return [Number(id >> 32n), Number(id & 0xffffffffn)];
}
