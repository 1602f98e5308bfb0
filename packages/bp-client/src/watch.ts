import { randomBytes } from 'node:crypto';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import type { BpdMessages } from '@lnpbp/bp-node/api/messages';
import type { BodyOf, Gap, Notification } from '@lnpbp/bus';
import type { BpClient, WatchRequest } from './client.ts';
import { Subscription, topicMatches } from './subscribe.ts';
import { bpdDecoders, type WatchMatchesView } from './watch-read.ts';

/** What a channel receives: `watchMatches` bodies come as WatchMatchesView (read by watch-read.ts). */
type ChannelNotification = Notification<BpdMessages, typeof bpdDecoders>;

/** A watched outpoint spent. */
export interface SpendEvent {
  subscription: string;
  channel: string;
  /** The watched outpoint (display-order txid). */
  txid: string;
  vout: number;
  spendingTxid: string;
  vin: number;
  shortId: bigint;
  /** null: seen in the mempool. */
  height: number | null;
  blockHash: string | null;
}

/** A tx funding (an output paying) or spending from (an input spending) a watched script. */
export interface ScriptEvent {
  subscription: string;
  channel: string;
  script: string;
  txid: string;
  kind: 'funding' | 'spending';
  index: number;
  value: bigint;
  shortId: bigint;
  height: number | null;
  blockHash: string | null;
}

/** One `watchMatches` notification as it arrived: the channel's matches in a block or a mempool tx. */
export type WatchMatches = BodyOf<BpdMessages, 'watchMatches'> & { seq: bigint };

/**
 * One set's matches taken back (`watchWithdrawn`): they came from a mempool tx (height null) and
 * that tx left the mempool without confirming. `txid` is the tx that left. `conflictHeight` and
 * `conflictBlockHash`: the block whose double spend pushed it out (its own matches follow);
 * null: the chain source dropped it (replaced, evicted, expired). A watched outpoint in `spends`
 * is unspent again unless another tx spends it (which comes as a match of its own).
 */
export interface WatchWithdrawal {
  subscription: string;
  channel: string;
  txid: string;
  spends: SpendEvent[];
  scripts: ScriptEvent[];
  conflictHeight: number | null;
  conflictBlockHash: string | null;
}

export interface WatchSubscribeOptions {
  onSpend?: (e: SpendEvent) => void;
  onScript?: (e: ScriptEvent) => void;
  /** Each batch as it arrives (raw, internal byte order), before its entries go to onSpend/onScript. */
  onMatches?: (m: WatchMatches) => void;
  /** Mempool matches taken back, per set and tx that left the mempool without confirming. */
  onWithdrawn?: (w: WatchWithdrawal) => void;
  onReorg?: (r: { fromHeight: number; toHeight: number; forkHash: string }) => void;
  onBlock?: (b: { height: number; hash: string; shortId: bigint; txCount: number }) => void;
  /**
   * Matches may have been missed: a gap in the channel's sequence (every set of the channel is
   * concerned) or a bpd restart (sets this channel registered are registered again first; the
   * restart is seen by bpd's periodic `hello` within seconds, matches or not). Re-read the
   * watched items by query.
   */
  onResync?: (gap: Gap) => void;
  /** Errors of the automatic re-registration after a restart. */
  onError?: (e: Error) => void;
}

export interface WatchChannelOptions extends WatchSubscribeOptions {
  /** The channel id (1-64 of A-Z a-z 0-9 _ . -); default a random one. */
  channel?: string;
}

const hexOrNull = (b: Uint8Array | undefined) => (b ? toHexReversed(b) : null);

/**
 * A client's channel: any number of watch sets whose matches bpd publishes together, one
 * `watchMatches` per block and per mempool tx on "watch/<channel>". The topic is subscribed (and
 * active) before any set is registered, so no match is missed. The sets registered through this
 * object are remembered, to register them again when bpd restarts (one that was not persisted
 * died with the old process).
 */
export class WatchChannel {
  private readonly requests = new Map<string, WatchRequest[]>();
  private reregistering: Promise<void> | undefined;
  /** Re-registrations done after restarts (each new bpd run seen). */
  restarts = 0;

  private constructor(
    readonly id: string,
    readonly subscription: Subscription<typeof bpdDecoders>,
    private readonly client: BpClient,
  ) {}

  get topic(): string {
    return `watch/${this.id}`;
  }

  /** Subscription ids of the sets registered through this channel object. */
  get subscriptions(): string[] {
    return [...this.requests.keys()];
  }

  static async open(client: BpClient, o: WatchChannelOptions): Promise<WatchChannel> {
    const id = o.channel ?? randomBytes(8).toString('hex');
    const topic = `watch/${id}`;
    const topics = [topic, 'reorg', 'block'];
    let ch: WatchChannel | undefined;
    const early: ChannelNotification[] = [];
    let earlyRestart: Gap | undefined;
    const onNotification = (n: ChannelNotification) => {
      if (ch) ch.accept(n, o);
      else early.push(n);
    };
    const subscription = await Subscription.open(client, topics, {
      onNotification,
      // The block's matches for the channel, thousands of entries: read without the schema decoder.
      decoders: bpdDecoders,
      onGap: (g) => {
        // Restarts come through onRestart; a prefix-colliding topic ("watch/<id>x") is not ours.
        if (g.reason === 'gap' && topicMatches(topics, g.topic)) o.onResync?.(g);
      },
      onRestart: (g) => {
        if (ch) ch.restarted(o, g);
        else earlyRestart = g;
      },
    });
    ch = new WatchChannel(id, subscription, client);
    for (const n of early) ch.accept(n, o);
    if (earlyRestart) ch.restarted(o, earlyRestart);
    return ch;
  }

  private accept(n: ChannelNotification, o: WatchSubscribeOptions): void {
    if (n.name === 'watchMatches') {
      if (n.topic !== this.topic) return;
      const b = n.body;
      if (o.onMatches) o.onMatches({ ...b.toBody(), seq: n.seq });
      const height = b.height ?? null;
      const blockHash = hexOrNull(b.blockHash);
      for (let s = 0; s < b.setCount; s++) {
        if (o.onSpend) eachSpend(b, s, height, blockHash, o.onSpend);
        if (o.onScript) eachScript(b, s, height, blockHash, o.onScript);
      }
    } else if (n.name === 'watchWithdrawn') {
      if (n.topic !== this.topic || !o.onWithdrawn) return;
      const b = n.body;
      const conflictHeight = b.height ?? null;
      const conflictBlockHash = hexOrNull(b.blockHash);
      for (let s = 0; s < b.setCount; s++) {
        const spends: SpendEvent[] = [];
        const scripts: ScriptEvent[] = [];
        eachSpend(b, s, null, null, (e) => spends.push(e));
        eachScript(b, s, null, null, (e) => scripts.push(e));
        // One tx per message: every entry names it.
        const txid = spends[0]?.spendingTxid ?? scripts[0]?.txid;
        if (txid === undefined) continue;
        o.onWithdrawn({
          subscription: b.ids[s],
          channel: b.channel,
          txid,
          spends,
          scripts,
          conflictHeight,
          conflictBlockHash,
        });
      }
    } else if (n.name === 'reorg') {
      o.onReorg?.({ ...n.body, forkHash: toHexReversed(n.body.forkHash) });
    } else if (n.name === 'blockConnected') {
      o.onBlock?.({ ...n.body, hash: toHexReversed(n.body.hash) });
    }
  }

  /** A new bpd process: register this channel's sets again, then tell the app to resync. */
  private restarted(o: WatchSubscribeOptions, g: Gap): void {
    if (this.reregistering) return;
    this.reregistering = (async () => {
      try {
        for (const reqs of this.requests.values()) for (const r of reqs) await this.client.watch(r);
        this.restarts++;
        o.onResync?.(g);
      } catch (e) {
        o.onError?.(e as Error);
      } finally {
        this.reregistering = undefined;
      }
    })();
  }

  /**
   * Creates or extends a watch set in this channel (a set of another channel moves here).
   * Returns bpd's reply: the subscription id (made by bpd when not given) and the set's totals.
   */
  async watch(w: WatchRequest) {
    const r = await this.client.watch({ ...w, channel: this.id });
    const req = { ...w, subscription: r.subscription, channel: this.id };
    const list = this.requests.get(r.subscription);
    if (list) list.push(req);
    else this.requests.set(r.subscription, [req]);
    return r;
  }

  /** Drops a set from bpd (and from what this object registers again after a restart). */
  async unwatch(subscription: string): Promise<boolean> {
    this.requests.delete(subscription);
    return this.client.unwatch(subscription);
  }

  /** Stops listening; with `drop`, also removes the sets registered through it from bpd. */
  async close(drop = false): Promise<void> {
    if (drop) for (const id of [...this.requests.keys()]) await this.unwatch(id).catch(() => false);
    await this.subscription.close();
  }
}

/** Set `s`'s spends in a watchMatches/watchWithdrawn body, as events (a callback: a block's message holds thousands). */
function eachSpend(
  b: WatchMatchesView,
  s: number,
  height: number | null,
  blockHash: string | null,
  fn: (e: SpendEvent) => void,
): void {
  const subscription = b.ids[s];
  for (let i = b.firstSpend(s), end = b.firstSpend(s + 1); i < end; i++) {
    const m = b.spend(i);
    fn({
      subscription,
      channel: b.channel,
      txid: toHexReversed(m.txid),
      vout: m.vout,
      spendingTxid: toHexReversed(m.spendingTxid),
      vin: m.vin,
      shortId: m.shortId,
      height,
      blockHash,
    });
  }
}

/** Set `s`'s script entries in a watchMatches/watchWithdrawn body, as events. */
function eachScript(
  b: WatchMatchesView,
  s: number,
  height: number | null,
  blockHash: string | null,
  fn: (e: ScriptEvent) => void,
): void {
  const subscription = b.ids[s];
  for (let i = b.firstScript(s), end = b.firstScript(s + 1); i < end; i++) {
    const m = b.script(i);
    fn({
      subscription,
      channel: b.channel,
      script: toHex(m.script),
      txid: toHexReversed(m.txid),
      kind: m.kind === 0 ? 'funding' : 'spending',
      index: m.index,
      value: m.value,
      shortId: m.shortId,
      height,
      blockHash,
    });
  }
}

/** One watch set on a channel of its own (the channel id is the subscription id); see BpClient.watchSubscribe. */
export class WatchSubscription {
  private constructor(
    readonly id: string,
    readonly channel: WatchChannel,
  ) {}

  get subscription(): Subscription<typeof bpdDecoders> {
    return this.channel.subscription;
  }

  static async open(client: BpClient, w: WatchRequest, o: WatchSubscribeOptions): Promise<WatchSubscription> {
    const id = w.subscription ?? randomBytes(8).toString('hex');
    // On a shared channel, only this set's matches.
    const channel = await WatchChannel.open(client, {
      ...o,
      channel: w.channel ?? id,
      onSpend: o.onSpend && ((e) => e.subscription === id && o.onSpend!(e)),
      onScript: o.onScript && ((e) => e.subscription === id && o.onScript!(e)),
      onWithdrawn: o.onWithdrawn && ((w) => w.subscription === id && o.onWithdrawn!(w)),
    });
    try {
      await channel.watch({ ...w, subscription: id });
    } catch (e) {
      await channel.close();
      throw e;
    }
    return new WatchSubscription(id, channel);
  }

  /** Stops listening; with `drop`, also removes the set from bpd. */
  async close(drop = false): Promise<void> {
    await this.channel.close(drop);
  }
}
