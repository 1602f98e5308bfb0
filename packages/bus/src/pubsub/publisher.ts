import { randomInt } from 'node:crypto';
import * as zmq from 'zeromq';
import { registerZapDomain } from '../auth/zap.ts';
import { type Logger, silentLogger } from '../daemon/log.ts';
import { isNetworked, parseEndpoint } from '../endpoint.ts';
import { BusError } from '../errors.ts';
import { SendQueue } from '../rpc/send-queue.ts';
import type { CurveServerOptions } from '../rpc/server.ts';
import { allowFunction } from '../rpc/server.ts';
import type { BodyOf, MessageTable, NotificationName, Schema } from '../schema/messages.ts';
import { transportFor } from '../transport/open.ts';
import { ZmtpSocket } from '../transport/zmtp.ts';
import { pubFrame } from '../wire.ts';

export interface PublisherOptions<D extends MessageTable> {
  readonly schema: Schema<D>;
  /** One socket per endpoint kind, as for RpcServer: tcp ones need `curve`. */
  readonly endpoints: readonly string[];
  readonly curve?: CurveServerOptions;
  /**
   * Messages queued per subscriber before it misses some (it then sees a gap). Default 100,000.
   * libzmq counts what its pipe holds; the zmtp transport (ipc) what the kernel has not taken.
   */
  readonly highWaterMark?: number;
  readonly log?: Logger;
}

export const MAX_TOPIC = 255;
/** The largest message a subscriber's connection may send a zmtp PUB (a subscription or READY). */
const SUBSCRIPTION_MAX = 4096;

/**
 * A closing PUB socket keeps its pipes this long for messages already queued. With 0, a
 * subscriber that disconnects while the socket closes can leave libzmq 4.3.5 holding the first
 * frame of a two-frame notification with the second already dropped, and it aborts the process
 * ("Resource temporarily unavailable", session_base.cpp:233; libzmq issue #3442). It bounds
 * how long process exit may wait for a slow subscriber.
 */
const CLOSE_LINGER_MS = 200;

/**
 * Notifications over PUB sockets. Each topic has its own sequence, starting at 1 per publisher
 * run; the run is named by a random 32-bit epoch, so a subscriber tells "missed some" (seq jumps)
 * from "publisher restarted" (epoch changes) and resyncs by query either way.
 */
export class Publisher<D extends MessageTable> {
  readonly epoch = randomInt(1, 0xffffffff);
  private readonly seqs = new Map<string, bigint>();
  private readonly sockets: PubSocket[] = [];
  private readonly bound: string[] = [];
  private readonly log: Logger;
  published = 0;

  private constructor(private readonly options: PublisherOptions<D>) {
    this.log = options.log ?? silentLogger;
  }

  static async start<D extends MessageTable>(options: PublisherOptions<D>): Promise<Publisher<D>> {
    const p = new Publisher(options);
    try {
      await p.bind();
    } catch (e) {
      p.close();
      throw e;
    }
    return p;
  }

  get endpoints(): string[] {
    return [...this.bound];
  }

  private async bind(): Promise<void> {
    const eps = this.options.endpoints.map(parseEndpoint);
    const plain = eps.filter((e) => !isNetworked(e));
    const networked = eps.filter(isNetworked);
    if (networked.length > 0 && !this.options.curve) {
      throw new BusError('insecure-endpoint', `${networked[0].url}: tcp endpoints require CurveZMQ keys`);
    }
    const hwm = this.options.highWaterMark ?? 100_000;
    const onError = (e: unknown) => this.log.warn('publish failed', { error: e });
    if (plain.length > 0) {
      const pub =
        transportFor(plain.map((e) => e.url)) === 'zmtp'
          ? zmtpPub(hwm, onError)
          : zmqPub(
              new zmq.Publisher({ linger: CLOSE_LINGER_MS, sendHighWaterMark: hwm, noDrop: false }),
              onError,
            );
      this.sockets.push(pub);
      for (const ep of plain) this.bound.push(await pub.bind(ep.url));
    }
    if (networked.length > 0) {
      const curve = this.options.curve!;
      // PUB sockets are zeromq.js's: their ZAP requests go to the handler in its context.
      const zap = await registerZapDomain(
        { allow: allowFunction(curve.allow), log: this.log.child('zap') },
        'zeromq.js',
      );
      const socket = new zmq.Publisher({
        linger: CLOSE_LINGER_MS,
        sendHighWaterMark: hwm,
        curveServer: true,
        curveSecretKey: curve.keyPair.secretKey,
        zapDomain: zap.domain,
        zapEnforceDomain: true,
      });
      const pub = { ...zmqPub(socket, onError), release: zap.release };
      this.sockets.push(pub);
      for (const ep of networked) this.bound.push(await pub.bind(ep.url));
    }
    this.log.info('pub listening', { service: this.options.schema.service, endpoints: this.bound });
  }

  /** Publishes one notification on `topic`; returns the sequence number it got. */
  publish<N extends NotificationName<D>>(topic: string, name: N, body: BodyOf<D, N>): bigint {
    return this.publishEncoded(topic, name, this.options.schema.encode(name, body));
  }

  /**
   * Publishes a notification body already encoded, by a service's own writer for a hot path
   * (one message carrying thousands of entries): `bytes` must be what `schema.encode(name, ...)`
   * gives. Subscribers decode it with the schema as any other.
   */
  publishEncoded(topic: string, name: NotificationName<D>, bytes: Uint8Array): bigint {
    const t = Buffer.from(topic, 'utf8');
    if (t.length === 0 || t.length > MAX_TOPIC)
      throw new BusError('bad-endpoint', `topic must be 1-${MAX_TOPIC} bytes`);
    const { schema } = this.options;
    const typeId = schema.typeId(name);
    const m = schema.byTypeId.get(typeId)!;
    if (m.role !== 'notification')
      throw new BusError('bad-endpoint', `${name} is a request, not a notification`);
    const seq = (this.seqs.get(topic) ?? 0n) + 1n;
    this.seqs.set(topic, seq);
    const frame = pubFrame(seq, this.epoch, typeId, bytes);
    for (const s of this.sockets) s.push([t, frame]);
    this.published++;
    return seq;
  }

  /** Last sequence number used on a topic (0 if none). */
  sequence(topic: string): bigint {
    return this.seqs.get(topic) ?? 0n;
  }

  async flush(): Promise<void> {
    for (const s of this.sockets) await s.flush();
  }

  close(): void {
    for (const s of this.sockets) {
      s.close();
      s.release?.();
    }
  }
}

/** One PUB socket of a Publisher, whichever transport it is on. */
interface PubSocket {
  /** Resolves with the endpoint bound (a tcp port 0 resolved to the port chosen). */
  bind(url: string): Promise<string>;
  push(frames: readonly [Buffer, Buffer]): void;
  flush(): Promise<void>;
  close(): void;
  release?: () => void;
}

/**
 * ipc: ZMTP spoken here (transport/zmtp.ts), no libzmq I/O thread between us and the kernel. A
 * subscriber sends only subscriptions (a topic prefix of at most MAX_TOPIC bytes, in a command
 * or a message): nothing bigger is read from it.
 */
function zmtpPub(hwm: number, onError: (e: unknown) => void): PubSocket {
  const socket = new ZmtpSocket({
    type: 'pub',
    linger: CLOSE_LINGER_MS,
    sendHighWaterMark: hwm,
    maxMessageSize: SUBSCRIPTION_MAX,
  });
  socket.onError = onError;
  return {
    bind: (url) => socket.bind(url),
    push: (frames) => {
      socket.send(frames);
    },
    flush: () => socket.flush(),
    close: () => socket.close(),
  };
}

/** A zeromq.js PUB socket behind its send queue (one send in flight at a time). */
function zmqPub(socket: zmq.Publisher, onError: (e: unknown) => void): PubSocket {
  const sender = new SendQueue(socket, onError);
  return {
    bind: async (url) => {
      await socket.bind(url);
      // tcp: the port chosen for a port 0; anything else as the caller named it.
      return url.startsWith('tcp://') ? (socket.lastEndpoint ?? url) : url;
    },
    push: (frames) => {
      sender.push(frames);
    },
    flush: () => sender.flush(),
    close: () => {
      if (!socket.closed) socket.close();
    },
  };
}
