import * as zmq from 'zeromq';
import { type Logger, silentLogger } from '../daemon/log.ts';
import { isNetworked, parseEndpoint } from '../endpoint.ts';
import { BusError } from '../errors.ts';
import type { CurveClientOptions } from '../rpc/client.ts';
import {
  type BodyOf,
  isDecodeFault,
  type MessageTable,
  type NotificationName,
  type Schema,
} from '../schema/messages.ts';
import { transportFor } from '../transport/open.ts';
import { ZmtpSocket } from '../transport/zmtp.ts';
import { PUB_HEADER } from '../wire.ts';

/**
 * Readers of their own for some notifications' bodies, by name: each gets the body bytes (after
 * the bus header) and returns what the notification's `body` is then. A reader must check the
 * bytes at least as strictly as the schema does and throw DecodeError on bad ones (the message is
 * then dropped and counted as malformed, like a schema decode fault).
 */
export type BodyDecoders<D extends MessageTable> = {
  readonly [N in NotificationName<D>]?: (body: Uint8Array) => unknown;
};

type NoDecoders = Record<never, never>;

/** A notification's body: the custom reader's result when there is one, else the schema's. */
export type BodyIn<D extends MessageTable, X, N extends NotificationName<D>> = N extends keyof X
  ? X[N] extends (body: Uint8Array) => infer R
    ? R
    : BodyOf<D, N>
  : BodyOf<D, N>;

export type Notification<D extends MessageTable, X extends BodyDecoders<D> = NoDecoders> = {
  [N in NotificationName<D>]: {
    readonly topic: string;
    readonly seq: bigint;
    readonly epoch: number;
    readonly name: N;
    readonly body: BodyIn<D, X, N>;
  };
}[NotificationName<D>];

/**
 * What a subscriber missed on one topic. `gap`: sequence numbers `expected`..`received - 1`
 * never arrived (ZeroMQ dropped them at a high-water mark, or the connection blipped).
 * `restart`: the publisher is a new run (epoch changed or the sequence went back); everything
 * since the last message may be lost. Either way the app resyncs by query.
 */
export interface Gap {
  readonly topic: string;
  readonly reason: 'gap' | 'restart';
  readonly expected: bigint;
  readonly received: bigint;
  /** Count of missing notifications (`gap` only; 0 for `restart`, where it is unknown). */
  readonly missed: bigint;
}

export interface SubscriberOptions<D extends MessageTable, X extends BodyDecoders<D> = NoDecoders> {
  readonly schema: Schema<D>;
  /** Notifications whose bodies are read by the given readers instead of the schema decoder. */
  readonly decoders?: X;
  readonly endpoint: string;
  /** Topic prefixes to subscribe to (ZeroMQ prefix match on the topic frame). Default: all. */
  readonly topics?: readonly string[];
  readonly curve?: CurveClientOptions;
  readonly onGap?: (gap: Gap) => void;
  /** Malformed notifications are dropped and counted; this sees each one. */
  readonly onMalformed?: (error: Error) => void;
  /**
   * Notifications received and not yet taken by the iterator before the subscriber stops reading
   * its socket (the publisher then drops at its high-water mark: a gap). Default 1,000 (libzmq's
   * receive high-water mark).
   */
  readonly receiveHighWaterMark?: number;
  readonly log?: Logger;
}

export interface SubscriberStats {
  received: number;
  malformed: number;
  gaps: number;
  missed: bigint;
  restarts: number;
}

/** ZMQ_SNDHWM (zeromq.js exposes it on writable sockets only). */
const ZMQ_SNDHWM = 23;

/**
 * A SUB socket without a send high-water mark. Subscriptions travel as messages on the socket's
 * outgoing pipe, and libzmq silently drops those past the mark (default 1,000): when they are made
 * before the connection is up, and when all are re-sent after a reconnect. No limit: each is a few
 * bytes, and their number is the caller's own choice. Set before connect (it applies to new pipes).
 */
class SubSocket extends zmq.Subscriber {
  constructor(options: ConstructorParameters<typeof zmq.Subscriber>[0]) {
    super(options);
    this.setInt32Option(ZMQ_SNDHWM, 0);
  }
}

/**
 * An ipc SUB on the zmtp transport: messages wait in an inbox for the iterator; at the high-water
 * mark the socket stops reading until the iterator has taken half of them.
 */
class ZmtpSub {
  readonly socket: ZmtpSocket;
  private inbox: Buffer[][] = [];
  private head = 0;
  private wake: (() => void) | null = null;

  constructor(private readonly hwm: number) {
    this.socket = new ZmtpSocket({ type: 'sub' });
    this.socket.onMessage = (frames) => {
      this.inbox.push(frames);
      if (this.inbox.length - this.head >= this.hwm) this.socket.pauseReading(true);
      this.wakeUp();
    };
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *messages(): AsyncGenerator<Buffer[]> {
    for (;;) {
      while (this.head < this.inbox.length) {
        const m = this.inbox[this.head];
        this.inbox[this.head++] = EMPTY_MESSAGE;
        if (this.head === this.inbox.length) {
          this.inbox = [];
          this.head = 0;
        }
        if (this.inbox.length - this.head <= this.hwm >> 1) this.socket.pauseReading(false);
        yield m;
      }
      if (this.socket.closed) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  close(): void {
    this.socket.close();
    this.wakeUp();
  }
}

const EMPTY_MESSAGE: Buffer[] = [];

export class Subscriber<D extends MessageTable, X extends BodyDecoders<D> = NoDecoders>
  implements AsyncIterable<Notification<D, X>>
{
  readonly stats: SubscriberStats = { received: 0, malformed: 0, gaps: 0, missed: 0n, restarts: 0 };
  /** libzmq's SUB (tcp with Curve, or every endpoint with LNPBP_BUS_TRANSPORT=native|zeromq.js). */
  private readonly socket: zmq.Subscriber | null = null;
  /** ipc: the zmtp transport. */
  private readonly zmtp: ZmtpSub | null = null;
  private readonly last = new Map<string, { epoch: number; seq: bigint }>();
  private readonly log: Logger;
  /** Type id -> the custom reader of that notification. */
  private readonly custom = new Map<number, { name: string; read: (body: Uint8Array) => unknown }>();

  constructor(private readonly options: SubscriberOptions<D, X>) {
    this.log = options.log ?? silentLogger;
    for (const [name, read] of Object.entries(options.decoders ?? {}) as [string, unknown][]) {
      if (typeof read !== 'function') continue;
      const typeId = options.schema.typeId(name as keyof D & string);
      this.custom.set(typeId, { name, read: read as (body: Uint8Array) => unknown });
    }
    const ep = parseEndpoint(options.endpoint);
    if (isNetworked(ep) && !options.curve) {
      throw new BusError(
        'insecure-endpoint',
        `${ep.url}: tcp endpoints require Curve keys (server key and a client keypair)`,
      );
    }
    const c = options.curve;
    const topics = options.topics ?? [''];
    if (!c && transportFor([ep.url]) === 'zmtp') {
      this.zmtp = new ZmtpSub(options.receiveHighWaterMark ?? 1000);
      for (const t of topics) this.zmtp.socket.subscribe(t);
      this.zmtp.socket.connect(ep.url);
      return;
    }
    this.socket = new SubSocket({
      linger: 0,
      ...(options.receiveHighWaterMark !== undefined
        ? { receiveHighWaterMark: options.receiveHighWaterMark }
        : {}),
      ...(c
        ? {
            curveServerKey: c.serverKey,
            curvePublicKey: c.keyPair.publicKey,
            curveSecretKey: c.keyPair.secretKey,
          }
        : {}),
    });
    for (const t of topics) this.socket.subscribe(t);
    this.socket.connect(ep.url);
  }

  subscribe(prefix: string): void {
    if (this.zmtp) this.zmtp.socket.subscribe(prefix);
    else this.socket!.subscribe(prefix);
  }

  unsubscribe(prefix: string): void {
    if (this.zmtp) this.zmtp.socket.unsubscribe(prefix);
    else this.socket!.unsubscribe(prefix);
  }

  /** Checks the sequence, reporting gaps, and decodes; undefined for a malformed message. */
  accept(frames: Buffer[]): Notification<D, X> | undefined {
    try {
      if (frames.length !== 2)
        throw new BusError('bad-reply', `notification of ${frames.length} frames, expected 2`);
      const [topicF, frame] = frames;
      if (frame.length < PUB_HEADER)
        throw new BusError('bad-reply', `notification frame of ${frame.length} bytes`);
      const topic = new TextDecoder('utf-8', { fatal: true }).decode(topicF);
      const seq = frame.readBigUInt64LE(0);
      const epoch = frame.readUInt32LE(8);
      const typeId = frame.readUInt16LE(12);
      const c = this.custom.get(typeId);
      let name: string;
      let body: unknown;
      if (c) {
        name = c.name;
        body = c.read(frame.subarray(PUB_HEADER));
      } else {
        const d = this.options.schema.decode(typeId, frame.subarray(PUB_HEADER));
        if (d.role !== 'notification') throw new BusError('bad-reply', `${d.name} is not a notification`);
        name = d.name;
        body = d.body;
      }
      this.track(topic, epoch, seq);
      this.stats.received++;
      return { topic, seq, epoch, name, body } as unknown as Notification<D, X>;
    } catch (e) {
      if (!(e instanceof BusError || isDecodeFault(e) || e instanceof TypeError)) throw e;
      this.stats.malformed++;
      this.log.warn('malformed notification dropped', { error: e });
      this.options.onMalformed?.(e as Error);
      return undefined;
    }
  }

  private track(topic: string, epoch: number, seq: bigint): void {
    const prev = this.last.get(topic);
    this.last.set(topic, { epoch, seq });
    if (!prev) return;
    let gap: Gap | undefined;
    if (prev.epoch !== epoch || seq <= prev.seq) {
      this.stats.restarts++;
      gap = { topic, reason: 'restart', expected: prev.seq + 1n, received: seq, missed: 0n };
    } else if (seq !== prev.seq + 1n) {
      const missed = seq - prev.seq - 1n;
      this.stats.gaps++;
      this.stats.missed += missed;
      gap = { topic, reason: 'gap', expected: prev.seq + 1n, received: seq, missed };
    }
    if (gap) this.options.onGap?.(gap);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Notification<D, X>> {
    if (this.zmtp) {
      for await (const frames of this.zmtp.messages()) {
        const n = this.accept(frames);
        if (n) yield n;
      }
      return;
    }
    const socket = this.socket!;
    try {
      for await (const frames of socket) {
        const n = this.accept(frames);
        if (n) yield n;
      }
    } catch (e) {
      if (!socket.closed) throw e;
    }
  }

  close(): void {
    if (this.zmtp) this.zmtp.close();
    else if (!this.socket!.closed) this.socket!.close();
  }
}
