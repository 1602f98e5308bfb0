import { randomBytes } from 'node:crypto';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { type BpdMessages, bpdMessages } from '@lnpbp/bp-node/api/messages';
import { type BodyDecoders, type BodyOf, type Gap, type Notification, Subscriber } from '@lnpbp/bus';
import type { BpClient } from './client.ts';

export type BpdNotification = Notification<BpdMessages>;

type NoDecoders = Record<never, never>;

export interface SubscribeOptions<X extends BodyDecoders<BpdMessages> = NoDecoders> {
  /** Every notification on the subscribed topics, in order. */
  onNotification: (n: Notification<BpdMessages, X>) => void;
  /**
   * Readers of their own for some notifications' bodies (e.g. bpdDecoders from watch-read.ts);
   * the others are decoded by the schema.
   */
  decoders?: X;
  /**
   * Notifications were lost on a topic (ZeroMQ dropped them, or bpd restarted): re-read by query
   * whatever the notifications were keeping current.
   */
  onGap?: (gap: Gap) => void;
  /**
   * bpd restarted: a notification of another run (epoch) than the one that answered the ping
   * arrived, once per new run. `hello`, which bpd publishes every few seconds, is subscribed to
   * for this: the restart is seen within that interval, matches or not. Subscriptions made
   * with a restarted bpd that kept nothing must be made again (WatchChannel and
   * MatchSubscription do).
   */
  onRestart?: (gap: Gap) => void;
  /** How long to wait for the subscription to become active. Default 5 s. */
  readyTimeoutMs?: number;
}

/** Whether a notification's topic is one asked for: equal, or below it ("watch" takes "watch/x"). */
export function topicMatches(asked: readonly string[], topic: string): boolean {
  for (const t of asked) {
    if (t === '' || topic === t) return true;
    if (topic.startsWith(t.endsWith('/') ? t : `${t}/`)) return true;
  }
  return false;
}

/** bpd's periodic notification (TOPIC.hello in bp-node's push.ts): every Subscription hears it. */
export const HELLO_TOPIC = 'hello';

/**
 * A SUB socket on bpd's publisher. ZeroMQ applies a subscription some time after it is made
 * (the "slow joiner"), so `open` resolves only once a `pong` it asked for came through: every
 * topic subscribed before the ping topic is then active too (one connection, in order).
 */
export class Subscription<X extends BodyDecoders<BpdMessages> = NoDecoders> {
  private constructor(
    readonly subscriber: Subscriber<BpdMessages, X>,
    private readonly loop: Promise<void>,
    private readonly run: { epoch: number },
  ) {}

  /** The publisher's run: from the pong, then from the latest notification. */
  get epoch(): number {
    return this.run.epoch;
  }

  get stats() {
    return this.subscriber.stats;
  }

  static async open<X extends BodyDecoders<BpdMessages> = NoDecoders>(
    client: BpClient,
    topics: readonly string[],
    opts: SubscribeOptions<X>,
  ): Promise<Subscription<X>> {
    const token = randomBytes(8).readBigUInt64BE();
    const pingTopic = `ping/${token.toString(16).padStart(16, '0')}`;
    const sub = new Subscriber<BpdMessages, X>({
      schema: bpdMessages,
      decoders: opts.decoders,
      endpoint: client.pubEndpoint,
      curve: client.curve,
      topics: [...topics, HELLO_TOPIC, pingTopic],
      onGap: (g) => {
        if (!g.topic.startsWith('ping/') && topicMatches(topics, g.topic)) opts.onGap?.(g);
      },
    });
    let ready!: () => void;
    // 0 until the pong: notifications before it are of the run the pong will name, or older.
    const run = { epoch: 0 };
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    const loop = (async () => {
      for await (const n of sub) {
        if (n.name === 'pong') {
          if ((n.body as BodyOf<BpdMessages, 'pong'>).token === token) {
            run.epoch = n.epoch;
            ready();
          }
          continue;
        }
        if (run.epoch !== 0 && n.epoch !== run.epoch) {
          run.epoch = n.epoch;
          opts.onRestart?.({ topic: n.topic, reason: 'restart', expected: 0n, received: n.seq, missed: 0n });
        }
        if (topicMatches(topics, n.topic)) opts.onNotification(n);
      }
    })();
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 5000);
    let done = false;
    isReady.then(() => {
      done = true;
    });
    try {
      while (!done) {
        if (Date.now() > deadline)
          throw new Error(`no notification from ${client.pubEndpoint} (is bpd publishing there?)`);
        await client.ping(token);
        await Promise.race([isReady, new Promise((r) => setTimeout(r, 50))]);
      }
    } catch (e) {
      sub.close();
      throw e;
    }
    sub.unsubscribe(pingTopic);
    return new Subscription(sub, loop, run);
  }

  close(): Promise<void> {
    this.subscriber.close();
    return this.loop.catch(() => {});
  }
}

export interface MatchEvent {
  subscription: string;
  txid: string;
  vin: number | null;
  vout: number | null;
  context: 'p2sh' | 'p2wsh' | 'tapscript' | 'scriptPubKey';
  script: string;
  bindings: Record<string, string | number>;
  shortId: bigint;
  /** null: seen in the mempool. */
  height: number | null;
  blockHash: string | null;
}

export interface DescriptorEvent {
  subscription: string;
  txid: string;
  kind: 'funding' | 'spending';
  index: number;
  /** null when the spent output is not known to bpd. */
  value: bigint | null;
  script: string;
  derivationIndex: number | null;
  branch: number;
  shortId: bigint;
  height: number | null;
  blockHash: string | null;
}

interface MatchCommonOptions {
  /** Subscription id; default a random one. */
  subscription?: string;
  persist?: boolean;
  onReorg?: (r: { fromHeight: number; toHeight: number; forkHash: string }) => void;
  /** Matches may have been missed (gap, bpd restart): re-read by query. */
  onResync?: (gap: Gap) => void;
  /** Errors of the automatic re-registration after a restart. */
  onError?: (e: Error) => void;
}

/**
 * A match or activity published earlier that no longer holds. With a height: it was confirmed
 * (at `height` in `blockHash`, with the short id it had there) and a reorg disconnected its
 * block; `inMempool`: its tx is back in bpd's mempool, and it is withdrawn again with `inMempool`
 * false if it leaves without confirming; one that confirms on the new branch arrives again
 * through onMatch / onActivity. Height null: a mempool match whose tx left the mempool without
 * confirming (a block confirmed a conflicting spend, a replacement, an eviction).
 */
export type Withdrawn<E> = Omit<E, 'height' | 'blockHash'> & {
  height: number | null;
  blockHash: string | null;
  inMempool: boolean;
};

export interface MatchSubscribeOptions extends MatchCommonOptions {
  onMatch: (e: MatchEvent) => void;
  onWithdrawn?: (e: Withdrawn<MatchEvent>) => void;
}

export interface DescriptorSubscribeOptions extends MatchCommonOptions {
  onActivity: (e: DescriptorEvent) => void;
  onWithdrawn?: (e: Withdrawn<DescriptorEvent>) => void;
}

const hexOf = (b: Uint8Array | undefined) => (b ? toHexReversed(b) : null);

function matchEvent(
  id: string,
  b: Omit<BodyOf<BpdMessages, 'patternMatch'>, 'height' | 'blockHash'>,
): Omit<MatchEvent, 'height' | 'blockHash'> {
  const bindings: Record<string, string | number> = {};
  for (const x of b.bindings) bindings[x.name] = x.number ? Number(x.value) : x.value;
  return {
    subscription: id,
    txid: toHexReversed(b.txid),
    vin: b.vin ?? null,
    vout: b.vout ?? null,
    context: b.context as MatchEvent['context'],
    script: toHex(b.script),
    bindings,
    shortId: b.shortId,
  };
}

function descriptorEvent(
  id: string,
  b: Omit<BodyOf<BpdMessages, 'descriptorActivity'>, 'height' | 'blockHash'>,
): Omit<DescriptorEvent, 'height' | 'blockHash'> {
  return {
    subscription: id,
    txid: toHexReversed(b.txid),
    kind: b.kind === 0 ? 'funding' : 'spending',
    index: b.index,
    value: b.value ?? null,
    script: toHex(b.script),
    derivationIndex: b.derivationIndex ?? null,
    branch: b.branch,
    shortId: b.shortId,
  };
}

type MatchTarget = { kind: 'pattern'; text: string } | { kind: 'descriptor'; text: string; gap?: number };

/** A pattern or descriptor subscription with its live matches; see BpClient.subscribeMatch. */
export class MatchSubscription {
  private constructor(
    readonly id: string,
    readonly subscription: Subscription,
    private readonly client: BpClient,
  ) {}

  static async open(
    client: BpClient,
    target: MatchTarget,
    o: (MatchSubscribeOptions | DescriptorSubscribeOptions) & { gap?: number },
  ): Promise<MatchSubscription> {
    const id = o.subscription ?? randomBytes(8).toString('hex');
    const register = () =>
      target.kind === 'pattern'
        ? client.watchPattern(target.text, { subscription: id, persist: o.persist })
        : client.watchDescriptor(target.text, { subscription: id, gap: target.gap, persist: o.persist });
    // Restarts come once per new run through onRestart (also without matches: `hello`).
    const onGap = (g: Gap) => {
      if (g.reason === 'gap') o.onResync?.(g);
    };
    const onRestart = (g: Gap) => {
      register().then(
        () => o.onResync?.(g),
        (e) => o.onError?.(e as Error),
      );
    };
    const onNotification = (n: BpdNotification) => {
      if (n.name === 'patternMatch' && 'onMatch' in o) {
        const b = n.body;
        if (b.subscription !== id) return;
        o.onMatch({ ...matchEvent(id, b), height: b.height ?? null, blockHash: hexOf(b.blockHash) });
      } else if (n.name === 'patternWithdrawn' && 'onMatch' in o) {
        const b = n.body;
        if (b.subscription !== id) return;
        const { inMempool } = b;
        o.onWithdrawn?.({
          ...matchEvent(id, b),
          height: b.height ?? null,
          blockHash: hexOf(b.blockHash),
          inMempool,
        });
      } else if (n.name === 'descriptorActivity' && 'onActivity' in o) {
        const b = n.body;
        if (b.subscription !== id) return;
        o.onActivity({ ...descriptorEvent(id, b), height: b.height ?? null, blockHash: hexOf(b.blockHash) });
      } else if (n.name === 'descriptorWithdrawn' && 'onActivity' in o) {
        const b = n.body;
        if (b.subscription !== id) return;
        o.onWithdrawn?.({
          ...descriptorEvent(id, b),
          height: b.height ?? null,
          blockHash: hexOf(b.blockHash),
          inMempool: b.inMempool,
        });
      } else if (n.name === 'reorg') {
        o.onReorg?.({ ...n.body, forkHash: toHexReversed(n.body.forkHash) });
      }
    };
    const topic = target.kind === 'pattern' ? `match/${id}` : `descriptor/${id}`;
    const subscription = await Subscription.open(client, [topic, 'reorg'], {
      onNotification,
      onGap,
      onRestart,
    });
    try {
      await register();
    } catch (e) {
      await subscription.close();
      throw e;
    }
    return new MatchSubscription(id, subscription, client);
  }

  /** Stops listening; with `drop`, also removes the subscription from bpd. */
  async close(drop = false): Promise<void> {
    if (drop) await this.client.unwatch(this.id).catch(() => false);
    await this.subscription.close();
  }
}
