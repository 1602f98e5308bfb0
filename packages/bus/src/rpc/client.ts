import { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import { ValueError } from '@lnpbp/bitcoin/errors';
import type { KeyPair } from '../auth/keys.ts';
import { type Logger, silentLogger } from '../daemon/log.ts';
import { isNetworked, parseEndpoint } from '../endpoint.ts';
import { BusError, RpcError } from '../errors.ts';
import { FrameWriter } from '../schema/frame-writer.ts';
import {
  type BodyOf,
  decodeBody,
  encodeBody,
  type MessageTable,
  REPLY_FLAG,
  type ReplyOf,
  type RequestName,
  type Schema,
  type WireMessage,
} from '../schema/messages.ts';
import { openSocket } from '../transport/open.ts';
import type { MessageSocket, QueuedSend } from '../transport/socket.ts';
import {
  BATCH_TYPE,
  BUS_PROTOCOL_VERSION,
  batchFrame,
  busMessages,
  checkBatch,
  ERROR_TYPE,
  errorBody,
  RPC_HEADER,
  rpcFrame,
} from '../wire.ts';

export interface CurveClientOptions {
  /** The server's public key (Z85 or hex, as in its `<service>.key.pub`). */
  readonly serverKey: string;
  /** This client's keypair; its public key must be on the server's allow-list. */
  readonly keyPair: KeyPair;
}

export interface RpcClientOptions<D extends MessageTable> {
  readonly schema: Schema<D>;
  readonly endpoint: string;
  /** Required for tcp:// endpoints. */
  readonly curve?: CurveClientOptions;
  /** Default per-request timeout. Default 30 s. */
  readonly timeoutMs?: number;
  /** Time allowed for the handshake. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Largest reply accepted (ZMQ_MAXMSGSIZE). Default 64 MiB. */
  readonly maxFrameSize?: number;
  /** Skip the hello exchange (tests that speak to a server of another schema). */
  readonly handshake?: boolean;
  /**
   * Join requests made in the same event-loop turn into one batch frame (when the server takes
   * batches, as its hello says). Default true.
   */
  readonly batch?: boolean;
  readonly log?: Logger;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ServerInfo {
  readonly bus: number;
  readonly service: string;
  readonly version: number;
  readonly types: readonly number[];
}

export type StatusReply = ReplyOf<typeof busMessages.table, 'status'>;

export interface RpcClientStats {
  sent: number;
  replies: number;
  errors: number;
  timeouts: number;
  cancelled: number;
  /** Replies to no pending request (late after a timeout, or unsolicited). */
  stray: number;
  /** Replies that did not decode. */
  badReplies: number;
  /** Batch frames sent (their requests count in `sent`). */
  batches: number;
}

/** A request waiting in the client's outgoing batch. */
interface Outgoing {
  readonly frame: Buffer;
  /** Given up before it left: not sent. */
  dropped: boolean;
  /** Handed to the send queue (a give-up then sends `cancel`). */
  sent: boolean;
}

/** Requests joined into one batch frame, at most (fewer when they are large). */
const BATCH_MAX = 256;
const BATCH_BYTES = 256 << 10;

/** A request waiting for its reply (no closures or timer of its own: the client sweeps deadlines). */
class Pending {
  /** The outgoing entry, to drop it if it has not left yet. */
  entry: QueuedSend | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    private readonly client: RpcClient<MessageTable>,
    readonly requestId: number,
    /** The reply's wire message (its type id and codec). */
    readonly reply: WireMessage,
    readonly name: string,
    readonly deadline: number,
    readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly res: (v: unknown) => void,
    private readonly rej: (e: Error) => void,
  ) {}

  private cleanup(): void {
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
    this.client.forget(this.requestId);
  }

  resolve(v: unknown): void {
    this.cleanup();
    this.res(v);
  }

  reject(e: Error): void {
    this.cleanup();
    this.rej(e);
  }

  /** Timed out or cancelled: tell the server (or drop the request if it never left). */
  giveUp(e: BusError): void {
    this.cleanup();
    if (this.entry && !this.entry.sent) this.entry.dropped = true;
    else this.client.cancelRequest(this.requestId);
    this.rej(e);
  }
}

/**
 * RPC client on a DEALER socket. Requests are numbered (u32, never 0) and any number may be in
 * flight; replies are matched by number, so they may arrive in any order.
 */
export class RpcClient<D extends MessageTable> {
  readonly stats: RpcClientStats = {
    sent: 0,
    replies: 0,
    errors: 0,
    timeouts: 0,
    cancelled: 0,
    stray: 0,
    badReplies: 0,
    batches: 0,
  };
  /** Filled in by the handshake. */
  server: ServerInfo | undefined;
  private readonly socket: MessageSocket;
  private readonly scratch = new FrameWriter(1024);
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** Set by the handshake when the server takes batches and batching is on. */
  private batching = false;
  private outgoing: Outgoing[] = [];
  private flushScheduled = false;
  /** One timer for every pending request's deadline, armed for the earliest. */
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly log: Logger;

  private constructor(private readonly options: RpcClientOptions<D>) {
    this.log = options.log ?? silentLogger;
    const ep = parseEndpoint(options.endpoint);
    if (isNetworked(ep) && !options.curve) {
      throw new BusError(
        'insecure-endpoint',
        `${ep.url}: tcp endpoints require Curve keys (server key and a client keypair)`,
      );
    }
    const curve = options.curve
      ? {
          curveServerKey: options.curve.serverKey,
          curvePublicKey: options.curve.keyPair.publicKey,
          curveSecretKey: options.curve.keyPair.secretKey,
        }
      : {};
    const socket = openSocket(
      {
        type: 'dealer',
        linger: 0,
        maxMessageSize: options.maxFrameSize ?? 64 << 20,
        ...curve,
      },
      [ep.url],
    );
    this.socket = socket;
    socket.onMessage = (frames) => this.onMessage(frames);
    // Only a Curve client can be refused; a plain one runs no monitor.
    if (options.curve) {
      socket.onEvent = (e) => {
        if (e.kind === 'auth-failed')
          this.failAll(
            new BusError('refused', `${ep.url}: server refused this client's key (${authText(e.status)})`),
          );
      };
    }
    socket.onError = (e, during) => {
      if (during === 'send') this.log.warn('request send failed', { error: e });
      else if (!this.closed) this.log.error('client receive failed', { error: e });
    };
    socket.connect(ep.url);
  }

  /** Connects and (unless disabled) runs the version handshake; throws on mismatch. */
  static async connect<D extends MessageTable>(options: RpcClientOptions<D>): Promise<RpcClient<D>> {
    const client = new RpcClient(options);
    if (options.handshake === false) return client;
    try {
      await client.hello(options.connectTimeoutMs ?? 5000);
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  private async hello(timeoutMs: number): Promise<void> {
    const { schema } = this.options;
    const info = await this.call(
      busMessages as unknown as Schema<MessageTable>,
      'hello',
      {
        bus: BUS_PROTOCOL_VERSION,
        service: schema.service,
        version: schema.version,
        types: [...schema.typeIds],
      },
      { timeoutMs },
    ).catch((e) => {
      if (e instanceof BusError && e.kind === 'timeout') {
        throw new BusError('timeout', `no answer from ${this.options.endpoint} within ${timeoutMs} ms`);
      }
      if (e instanceof RpcError && e.codeName === 'versionMismatch')
        throw new BusError('version-mismatch', e.message);
      throw e;
    });
    const reply = info as unknown as ServerInfo;
    const server = { ...reply, types: reply.types.filter((t) => t !== BATCH_TYPE) };
    if (server.service !== schema.service || server.version !== schema.version) {
      throw new BusError(
        'version-mismatch',
        `${this.options.endpoint} is ${server.service} v${server.version}, expected ${schema.service} v${schema.version}`,
      );
    }
    this.server = server;
    this.batching = this.options.batch !== false && reply.types.includes(BATCH_TYPE);
  }

  /** Sends a request; resolves with the typed reply, rejects with RpcError (error reply) or BusError. */
  request<N extends RequestName<D>>(
    name: N,
    body: BodyOf<D, N>,
    options?: RequestOptions,
  ): Promise<ReplyOf<D, N>> {
    return this.call(this.options.schema as unknown as Schema<MessageTable>, name, body, options) as Promise<
      ReplyOf<D, N>
    >;
  }

  /** The built-in health/status request every service answers. */
  status(options?: RequestOptions): Promise<StatusReply> {
    return this.call(
      busMessages as unknown as Schema<MessageTable>,
      'status',
      {},
      options,
    ) as Promise<StatusReply>;
  }

  private call(
    schema: Schema<MessageTable>,
    name: string,
    body: unknown,
    options?: RequestOptions,
  ): Promise<unknown> {
    if (this.closed) return Promise.reject(new BusError('closed', 'client is closed'));
    const signal = options?.signal;
    if (signal?.aborted)
      return Promise.reject(new BusError('cancelled', `${name}: cancelled before sending`));
    const typeId = schema.typeId(name);
    const m = schema.byTypeId.get(typeId)!;
    const reply = schema.byTypeId.get(typeId | REPLY_FLAG);
    if (!reply) throw new ValueError(`${schema.service}.${name}`, 'is a notification, not a request');
    const requestId = this.allocateId();
    // Header and body written in place, copied out once.
    const w = this.scratch;
    w.reset();
    w.u32le(requestId);
    w.u16le(typeId);
    encodeBody(w, m, body); // a body that does not fit the schema throws here: the caller's bug
    const frame = w.take(0);
    const timeoutMs = options?.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const p = new Pending(
        this as unknown as RpcClient<MessageTable>,
        requestId,
        reply,
        name,
        Date.now() + timeoutMs,
        timeoutMs,
        signal,
        resolve,
        reject,
      );
      if (signal) {
        p.onAbort = () => {
          this.stats.cancelled++;
          p.giveUp(new BusError('cancelled', `${name}: cancelled`));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.pending.set(requestId, p);
      this.arm(p.deadline);
      this.stats.sent++;
      p.entry = this.enqueue(frame);
    });
  }

  /** @internal a request settled (Pending). */
  forget(requestId: number): void {
    // The deadline timer stays armed (unref'd, it keeps no process alive): clearing it when the
    // last reply came and arming a new one for the next request cost a timer per round trip.
    this.pending.delete(requestId);
  }

  /** @internal a request given up after it left (Pending). */
  cancelRequest(requestId: number): void {
    this.sendCancel(requestId);
  }

  /** Makes sure the deadline timer fires by `at`. */
  private arm(at: number): void {
    if (at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  /** Times out every request past its deadline, then re-arms for the earliest one left. */
  private sweep(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const p of [...this.pending.values()]) {
      if (p.deadline <= now) {
        this.stats.timeouts++;
        p.giveUp(new BusError('timeout', `${p.name}: no reply within ${p.timeoutMs} ms`));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next !== Number.POSITIVE_INFINITY && !this.closed) this.arm(next);
  }

  /**
   * Sends a request frame: with batching on, it waits for the end of this event-loop turn so
   * every request made meanwhile leaves in the same batch frame.
   */
  private enqueue(frame: Buffer): QueuedSend {
    if (!this.batching) return this.socket.send([frame]);
    const o: Outgoing = { frame, dropped: false, sent: false };
    this.outgoing.push(o);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return o;
  }

  private flush(): void {
    this.flushScheduled = false;
    const all = this.outgoing;
    this.outgoing = [];
    if (this.closed) return;
    let part: Buffer[] = [];
    let bytes = 0;
    const emit = () => {
      if (part.length === 1) this.socket.send([part[0]]);
      else if (part.length > 1) {
        this.stats.batches++;
        this.socket.send([batchFrame(part)]);
      }
      part = [];
      bytes = 0;
    };
    for (const o of all) {
      if (o.dropped) continue;
      o.sent = true;
      if (part.length === BATCH_MAX || (part.length > 0 && bytes + o.frame.length + 4 > BATCH_BYTES)) emit();
      part.push(o.frame);
      bytes += o.frame.length + 4;
    }
    emit();
  }

  private sendCancel(requestId: number): void {
    if (this.closed) return;
    this.socket.send([
      rpcFrame(0, busMessages.typeId('cancel'), busMessages.encode('cancel', { requestId })),
    ]);
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private onMessage(frames: Buffer[]): void {
    const frame = frames[0];
    if (frames.length !== 1 || frame.length < RPC_HEADER) {
      this.stats.badReplies++;
      return;
    }
    if (frame.readUInt16LE(4) !== BATCH_TYPE) {
      this.onReply(frame, 0, frame.length);
      return;
    }
    const n = checkBatch(frame, RPC_HEADER, frame.length, Number.MAX_SAFE_INTEGER);
    if (typeof n === 'string') {
      this.stats.badReplies++;
      return;
    }
    let p = RPC_HEADER;
    for (let i = 0; i < n; i++) {
      const len = frame.readUInt32LE(p);
      p += 4;
      if (len < RPC_HEADER || frame.readUInt16LE(p + 4) === BATCH_TYPE) this.stats.badReplies++;
      else this.onReply(frame, p, p + len);
      p += len;
    }
  }

  /** One reply: the frame, or one entry of a batch frame, buf[start, end). */
  private onReply(buf: Buffer, start: number, end: number): void {
    const requestId = buf.readUInt32LE(start);
    const typeId = buf.readUInt16LE(start + 4);
    const p = this.pending.get(requestId);
    if (!p) {
      this.stats.stray++;
      return;
    }
    try {
      if (typeId === ERROR_TYPE) {
        const r = new ByteReader(buf, start + RPC_HEADER, end);
        const err = errorBody.decode(r, 'error');
        r.expectEnd('error');
        this.stats.errors++;
        p.reject(new RpcError(err.code, err.message));
      } else if (typeId === p.reply.typeId) {
        const v = decodeBody(p.reply, buf, start + RPC_HEADER, end);
        this.stats.replies++;
        p.resolve(v);
      } else {
        throw new Error(`reply type 0x${typeId.toString(16)} does not answer ${p.name}`);
      }
    } catch (e) {
      this.stats.badReplies++;
      p.reject(new BusError('bad-reply', `${p.name}: ${(e as Error).message}`));
    }
  }

  private failAll(e: Error): void {
    for (const p of [...this.pending.values()]) p.reject(e);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Closes the socket; pending requests reject with BusError('closed'). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new BusError('closed', 'client closed'));
    this.socket.close();
  }
}

/** A ZAP status code's text, as libzmq's monitor and zeromq.js name it. */
function authText(status: number): string {
  if (status === 300) return 'Temporary error';
  if (status === 400) return 'Authentication failure';
  if (status === 500) return 'Internal error';
  return 'Unknown error';
}
