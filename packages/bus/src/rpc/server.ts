import { type KeyPair, parseCurveKey } from '../auth/keys.ts';
import { registerZapDomain } from '../auth/zap.ts';
import { type Logger, silentLogger } from '../daemon/log.ts';
import { type Endpoint, isNetworked, parseEndpoint } from '../endpoint.ts';
import { BusError, ErrorCode, errorCodeName, RpcError } from '../errors.ts';
import { FrameWriter } from '../schema/frame-writer.ts';
import {
  type BodyOf,
  decodeBody,
  encodeBody,
  isDecodeFault,
  type MessageTable,
  REPLY_FLAG,
  type ReplyOf,
  type RequestName,
  type Schema,
  UnknownTypeError,
  type WireMessage,
} from '../schema/messages.ts';
import { openSocket, type TransportName, transportFor } from '../transport/open.ts';
import type { MessageSocket, SocketOptions } from '../transport/socket.ts';
import {
  BATCH_TYPE,
  BUS_PROTOCOL_VERSION,
  busMessages,
  checkBatch,
  ERROR_TYPE,
  errorBody,
  RPC_HEADER,
} from '../wire.ts';

export interface RequestContext {
  /** Fires when the client cancels or times out the request, or the server shuts down. */
  readonly signal: AbortSignal;
  readonly requestId: number;
  /** The peer's ZeroMQ routing id, hex (stable for one connection). */
  readonly peer: string;
  readonly log: Logger;
}

export type Handler<D extends MessageTable, N extends RequestName<D>> = (
  body: BodyOf<D, N>,
  ctx: RequestContext,
) => ReplyOf<D, N> | Promise<ReplyOf<D, N>>;

export type Handlers<D extends MessageTable> = { [N in RequestName<D>]: Handler<D, N> };

export interface CurveServerOptions {
  readonly keyPair: KeyPair;
  /** Client public keys (Z85 or hex) -> name, or a decision function (name or undefined). */
  readonly allow:
    | ReadonlyMap<string, string>
    | Iterable<string>
    | ((publicKeyZ85: string) => string | undefined);
}

export interface RpcServerOptions<D extends MessageTable> {
  readonly schema: Schema<D>;
  readonly handlers: Handlers<D>;
  /** Where to listen. ipc/inproc share one plain socket; tcp ones share one Curve socket. */
  readonly endpoints: readonly string[];
  /** Required when any endpoint is tcp://. */
  readonly curve?: CurveServerOptions;
  /** Largest request frame answered (bigger: `oversized` error reply). Default 1 MiB. */
  readonly maxFrameSize?: number;
  /**
   * Frames above this are cut off by ZeroMQ itself (ZMQ_MAXMSGSIZE: the connection is dropped
   * before the bytes are buffered, so no reply is possible). Default 4 x maxFrameSize.
   */
  readonly hardFrameSize?: number;
  /** Requests being handled at once; more get an `unavailable` error reply. Default 10,000. */
  readonly maxInFlight?: number;
  readonly log?: Logger;
  /** Extra key/value pairs for the built-in status reply. */
  readonly status?: () => Record<string, string | number | bigint | boolean>;
}

export type RejectReason = 'unknownType' | 'malformed' | 'oversized' | 'busy' | 'versionMismatch';

export interface RpcServerStats {
  /** Messages received (every frame set, valid or not; each message of a batch counts). */
  received: number;
  /** Batch frames received (their messages count in `received`). */
  batches: number;
  /** Replies sent (including error replies). */
  replied: number;
  /** Messages refused before reaching a handler, by reason. */
  rejected: Record<RejectReason, number>;
  /** Handler failures: thrown RpcError by code name, and `internal` for anything else. */
  errors: Record<string, number>;
  /** Requests cancelled by their client. */
  cancelled: number;
  /** Connections ZeroMQ dropped (peer gone, or a frame above hardFrameSize). */
  disconnects: number;
  inFlight: number;
}

interface InFlight {
  ac: AbortController | undefined;
}

/**
 * One request being answered: its handler context (the AbortController and the hex peer id are
 * made only when the handler asks for them, or a cancel arrives) and its reply path.
 */
class Call implements RequestContext, InFlight {
  ac: AbortController | undefined = undefined;
  /** Set while in flight (the handler returned a promise). */
  key: string | undefined = undefined;

  constructor(
    private readonly server: RpcServer<MessageTable>,
    private readonly l: Listener,
    private readonly routing: Buffer,
    readonly requestId: number,
    /** The reply's wire message (its type id and codec). */
    private readonly reply: WireMessage,
    private readonly out: ReplyBatch | null,
    readonly log: Logger,
  ) {}

  get signal(): AbortSignal {
    this.ac ??= new AbortController();
    return this.ac.signal;
  }

  get peer(): string {
    return this.routing.toString('hex');
  }

  private done(): boolean {
    if (this.key !== undefined) this.server.finished(this.key);
    return this.ac?.signal.aborted === true;
  }

  ok(reply: unknown): void {
    if (this.done()) return;
    try {
      this.server.replyBody(this.l, this.routing, this.requestId, this.reply, reply, this.out);
    } catch (e) {
      this.error(
        new Error(
          `handler ${this.reply.name} returned a reply that does not fit its schema: ${(e as Error).message}`,
        ),
      );
    }
  }

  fail(e: unknown): void {
    if (this.done()) return;
    this.error(e);
  }

  private error(e: unknown): void {
    const { server, l, routing, requestId, out } = this;
    if (e instanceof RpcError) {
      server.count(e.codeName);
      server.replyError(l, routing, requestId, e.code, e.message, out);
    } else {
      server.count('internal');
      this.log.error('handler failed', { request: this.reply.name, error: e, stack: (e as Error)?.stack });
      server.replyError(l, routing, requestId, ErrorCode.internal, `${this.reply.name}: internal error`, out);
    }
  }
}

/**
 * The reply frame of one batch, written in place (listener.batch) while its handlers answer
 * synchronously: entries `length u32 | requestId | typeId | body` after the batch header.
 */
interface ReplyBatch {
  open: boolean;
  /** Entries in the frame being written, and where the first starts. */
  count: number;
  first: number;
}

/** Messages one batch may hold. */
const MAX_BATCH = 4096;
/** Replies joined into one batch frame up to this many bytes (a bigger reply goes alone). */
const REPLY_BATCH_BYTES = 256 << 10;

interface Listener {
  readonly socket: MessageSocket;
  /** Scratch for the reply frame of the batch being answered, and for a reply sent alone. */
  readonly batch: FrameWriter;
  readonly single: FrameWriter;
  readonly endpoints: Endpoint[];
  readonly transport: TransportName;
  bound: string[];
  release?: () => void;
}

const DEFAULT_MAX_FRAME = 1 << 20;

/**
 * RPC server on ROUTER sockets. Every request is decoded strictly against the schema and handed
 * to its handler without waiting for earlier ones; the reply goes back with the same request id.
 * Nothing a peer sends can stop the receive loop: every fault becomes an error reply and a count.
 */
export class RpcServer<D extends MessageTable> {
  readonly stats: RpcServerStats = {
    received: 0,
    batches: 0,
    replied: 0,
    rejected: { unknownType: 0, malformed: 0, oversized: 0, busy: 0, versionMismatch: 0 },
    errors: {},
    cancelled: 0,
    disconnects: 0,
    inFlight: 0,
  };
  private readonly listeners: Listener[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private drained: (() => void) | undefined;
  private readonly startedAt = Date.now();
  private readonly log: Logger;
  private readonly maxFrameSize: number;
  private readonly maxInFlight: number;
  private closing = false;

  private constructor(private readonly options: RpcServerOptions<D>) {
    this.log = options.log ?? silentLogger;
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME;
    this.maxInFlight = options.maxInFlight ?? 10_000;
  }

  /** Binds every endpoint; throws (and binds nothing) if a tcp endpoint has no Curve keys. */
  static async start<D extends MessageTable>(options: RpcServerOptions<D>): Promise<RpcServer<D>> {
    const server = new RpcServer(options);
    await server.bind();
    return server;
  }

  /** The endpoints actually bound (tcp port 0 resolved to the chosen port). */
  get endpoints(): string[] {
    return this.listeners.flatMap((l) => l.bound);
  }

  private async bind(): Promise<void> {
    const { schema, handlers } = this.options;
    for (const id of schema.typeIds) {
      const m = schema.byTypeId.get(id)!;
      if (m.role === 'request' && typeof (handlers as Record<string, unknown>)[m.name] !== 'function') {
        throw new BusError('bad-endpoint', `service ${schema.service}: no handler for request ${m.name}`);
      }
    }
    const eps = this.options.endpoints.map(parseEndpoint);
    if (eps.length === 0) throw new BusError('bad-endpoint', 'no endpoints to listen on');
    const plain = eps.filter((e) => !isNetworked(e));
    const networked = eps.filter(isNetworked);
    if (networked.length > 0 && !this.options.curve) {
      throw new BusError(
        'insecure-endpoint',
        `${networked[0].url}: tcp endpoints require CurveZMQ keys (server keypair and client allow-list)`,
      );
    }
    const hard = this.options.hardFrameSize ?? this.maxFrameSize * 4;
    try {
      // ipc endpoints go on the zmtp transport (unless told otherwise), inproc on libzmq's.
      const plainOptions: SocketOptions = { type: 'router', maxMessageSize: hard, linger: 0 };
      const byTransport = new Map<TransportName, Endpoint[]>();
      for (const ep of plain) {
        const t = transportFor([ep.url], plainOptions);
        byTransport.set(t, [...(byTransport.get(t) ?? []), ep]);
      }
      for (const group of byTransport.values()) this.listeners.push(this.listener(plainOptions, group));
      if (networked.length > 0) {
        const curve = this.options.curve!;
        const allow = allowFunction(curve.allow);
        const zap = await registerZapDomain({ allow, log: this.log.child('zap') });
        const l = this.listener(
          {
            type: 'router',
            maxMessageSize: hard,
            linger: 0,
            curveServer: true,
            curveSecretKey: curve.keyPair.secretKey,
            zapDomain: zap.domain,
            zapEnforceDomain: true,
          },
          networked,
        );
        l.release = zap.release;
        this.listeners.push(l);
      }
      // Each socket's receive loop starts with its first bind.
      for (const l of this.listeners) {
        for (const ep of l.endpoints) l.bound.push(await l.socket.bind(ep.url));
      }
    } catch (e) {
      this.closeSockets();
      throw e;
    }
    this.log.info('rpc listening', {
      service: this.options.schema.service,
      endpoints: this.endpoints,
      transport: [...new Set(this.listeners.map((l) => l.transport))].join(','),
    });
  }

  private listener(options: SocketOptions, endpoints: Endpoint[]): Listener {
    const urls = endpoints.map((e) => e.url);
    const transport = transportFor(urls, options);
    const socket = openSocket(options, urls, transport);
    const l: Listener = {
      socket,
      batch: new FrameWriter(),
      single: new FrameWriter(),
      endpoints,
      transport,
      bound: [],
    };
    socket.onMessage = (frames) => {
      try {
        this.onMessage(l, frames);
      } catch (e) {
        // dispatch only throws on a bug; keep serving and say so.
        this.log.error('dispatch failed', { error: e });
      }
    };
    socket.onEvent = (e) => {
      if (e.kind === 'disconnect') this.stats.disconnects++;
    };
    socket.onError = (e, during) => {
      if (during === 'send') this.log.warn('reply send failed', { error: e });
      else this.log.error('receive failed', { error: e });
    };
    return l;
  }

  private onMessage(l: Listener, frames: Buffer[]): void {
    const routing = frames[0];
    const frame = frames[1];
    if (frames.length !== 2) {
      this.stats.received++;
      const requestId = frame && frame.length >= 4 ? frame.readUInt32LE(0) : 0;
      const size = frames.reduce((n, f) => n + f.length, 0) - routing.length;
      if (size > this.maxFrameSize)
        this.reject(
          l,
          routing,
          requestId,
          'oversized',
          ErrorCode.oversized,
          `message of ${size} bytes`,
          null,
        );
      else
        this.reject(
          l,
          routing,
          requestId,
          'malformed',
          ErrorCode.malformed,
          `expected 1 frame, got ${frames.length - 1}`,
          null,
        );
      return;
    }
    if (
      frame.length >= RPC_HEADER &&
      frame.length <= this.maxFrameSize &&
      frame.readUInt16LE(4) === BATCH_TYPE
    ) {
      this.stats.batches++;
      const n = checkBatch(frame, RPC_HEADER, frame.length, MAX_BATCH);
      if (typeof n === 'string') {
        this.stats.received++;
        this.reject(l, routing, 0, 'malformed', ErrorCode.malformed, n, null);
        return;
      }
      // The replies are written straight into one frame (l.batch) as the handlers answer.
      const w = l.batch;
      w.reset();
      w.u32le(0);
      w.u16le(BATCH_TYPE);
      const out: ReplyBatch = { open: true, count: 0, first: 0 };
      let p = RPC_HEADER;
      for (let i = 0; i < n; i++) {
        const len = frame.readUInt32LE(p);
        this.stats.received++;
        this.dispatch(l, routing, frame, p + 4, p + 4 + len, out);
        p += 4 + len;
      }
      out.open = false;
      this.flushBatch(l, routing, out);
      return;
    }
    this.stats.received++;
    this.dispatch(l, routing, frame, 0, frame.length, null);
  }

  /** Sends the batch's reply frame (one reply alone goes as a plain RPC frame). */
  private flushBatch(l: Listener, routing: Buffer, out: ReplyBatch): void {
    const w = l.batch;
    if (out.count === 1) l.socket.send([routing, w.take(out.first + 4)]);
    else if (out.count > 1) l.socket.send([routing, w.take(0)]);
    out.count = 0;
    w.reset();
    w.u32le(0);
    w.u16le(BATCH_TYPE);
  }

  private reject(
    l: Listener,
    routing: Buffer,
    requestId: number,
    reason: RejectReason,
    code: number,
    message: string,
    out: ReplyBatch | null,
  ): void {
    this.stats.rejected[reason]++;
    this.replyError(l, routing, requestId, code, message, out);
  }

  /** One RPC message: the frame, or one entry of a batch frame, buf[start, end). */
  private dispatch(
    l: Listener,
    routing: Buffer,
    buf: Buffer,
    start: number,
    end: number,
    out: ReplyBatch | null,
  ): void {
    const length = end - start;
    const requestId = length >= 4 ? buf.readUInt32LE(start) : 0;
    if (length > this.maxFrameSize) {
      this.reject(
        l,
        routing,
        requestId,
        'oversized',
        ErrorCode.oversized,
        `frame of ${length} bytes exceeds ${this.maxFrameSize}`,
        out,
      );
      return;
    }
    if (length < RPC_HEADER) {
      this.reject(
        l,
        routing,
        requestId,
        'malformed',
        ErrorCode.malformed,
        `frame of ${length} bytes is shorter than the 6-byte header`,
        out,
      );
      return;
    }
    const typeId = buf.readUInt16LE(start + 4);
    if (typeId === BATCH_TYPE) {
      // Only reachable inside a batch (or an oversized one, refused above): batches do not nest.
      this.reject(l, routing, requestId, 'malformed', ErrorCode.malformed, 'a batch inside a batch', out);
      return;
    }
    const builtin = typeId < 0x0100;
    const schema = (builtin ? busMessages : this.options.schema) as unknown as Schema<MessageTable>;
    const m = schema.byTypeId.get(typeId);
    if (!m) {
      const e = new UnknownTypeError(typeId);
      this.reject(l, routing, requestId, 'unknownType', ErrorCode.unknownType, e.message, out);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = decodeBody(m, buf, start + RPC_HEADER, end);
    } catch (e) {
      if (isDecodeFault(e))
        this.reject(l, routing, requestId, 'malformed', ErrorCode.malformed, (e as Error).message, out);
      else throw e;
      return;
    }
    if (m.role === 'notification' && builtin && m.name === 'cancel') {
      const key = `${routing.toString('latin1')}:${body.requestId}`;
      const state = this.inFlight.get(key);
      if (state) {
        this.stats.cancelled++;
        state.ac ??= new AbortController();
        state.ac.abort(new BusError('cancelled', 'cancelled by client'));
      }
      return;
    }
    if (m.role !== 'request') {
      this.reject(
        l,
        routing,
        requestId,
        'unknownType',
        ErrorCode.unknownType,
        `${m.name} (${m.role}) is not a request`,
        out,
      );
      return;
    }
    if (this.closing) {
      this.reject(l, routing, requestId, 'busy', ErrorCode.unavailable, 'shutting down', out);
      return;
    }
    if (this.stats.inFlight >= this.maxInFlight) {
      this.reject(
        l,
        routing,
        requestId,
        'busy',
        ErrorCode.unavailable,
        `too many requests in flight (${this.maxInFlight})`,
        out,
      );
      return;
    }
    if (builtin && m.name === 'hello' && body.bus !== BUS_PROTOCOL_VERSION) {
      this.reject(
        l,
        routing,
        requestId,
        'versionMismatch',
        ErrorCode.versionMismatch,
        `bus protocol ${body.bus} not supported (server speaks ${BUS_PROTOCOL_VERSION})`,
        out,
      );
      return;
    }
    const handler = builtin
      ? this.builtin(m.name)
      : ((this.options.handlers as Record<string, unknown>)[m.name] as (
          b: unknown,
          c: RequestContext,
        ) => unknown);
    this.run(l, routing, requestId, schema.byTypeId.get(typeId | REPLY_FLAG)!, handler, body, out);
  }

  private run(
    l: Listener,
    routing: Buffer,
    requestId: number,
    reply: WireMessage,
    handler: (b: unknown, c: RequestContext) => unknown,
    body: unknown,
    out: ReplyBatch | null,
  ): void {
    // One object per request is its context, its in-flight state and its reply path.
    const call = new Call(this, l, routing, requestId, reply, out, this.log);
    let result: unknown;
    try {
      result = handler(body, call);
    } catch (e) {
      call.fail(e);
      return;
    }
    if (result instanceof Promise) {
      // A handler that answers at once cannot be cancelled: only promises are in flight.
      call.key = `${routing.toString('latin1')}:${requestId}`;
      this.inFlight.set(call.key, call);
      this.stats.inFlight++;
      result.then(
        (r) => call.ok(r),
        (e) => call.fail(e),
      );
    } else call.ok(result);
  }

  /** @internal a request in flight finished (Call). */
  finished(key: string): void {
    this.inFlight.delete(key);
    if (--this.stats.inFlight === 0 && this.drained) this.drained();
  }

  /** @internal */
  count(codeName: string): void {
    this.stats.errors[codeName] = (this.stats.errors[codeName] ?? 0) + 1;
  }

  private builtin(name: string): (b: unknown, c: RequestContext) => unknown {
    const { schema } = this.options;
    if (name === 'hello') {
      return () => ({
        bus: BUS_PROTOCOL_VERSION,
        service: schema.service,
        version: schema.version,
        // BATCH_TYPE tells clients this server takes batches (see wire.ts).
        types: [...schema.typeIds, BATCH_TYPE],
      });
    }
    return () => this.statusReply();
  }

  /** The built-in status reply (also what `status` requests get). */
  statusReply() {
    const s = this.stats;
    const rejects = Object.entries(s.rejected).map(([reason, count]) => ({ reason, count: BigInt(count) }));
    for (const [code, count] of Object.entries(s.errors))
      rejects.push({ reason: `error:${code}`, count: BigInt(count) });
    const extra = this.options.status?.() ?? {};
    return {
      service: this.options.schema.service,
      version: this.options.schema.version,
      pid: process.pid,
      uptimeMs: BigInt(Date.now() - this.startedAt),
      received: BigInt(s.received),
      replied: BigInt(s.replied),
      rejected: BigInt(Object.values(s.rejected).reduce((a, b) => a + b, 0)),
      rejects,
      inFlight: s.inFlight,
      detail: Object.entries(extra).map(([key, value]) => ({ key, value: String(value) })),
    };
  }

  /**
   * @internal Writes a reply (of a Call too): into its batch's frame while the batch is being
   * answered, else alone. Throws (and writes nothing) if the body does not fit the schema.
   */
  replyBody(
    l: Listener,
    routing: Buffer,
    requestId: number,
    m: WireMessage,
    body: unknown,
    out: ReplyBatch | null,
  ): void {
    const w = this.replyWriter(l, out);
    const at = this.replyHeader(w, out, requestId, m.typeId);
    try {
      encodeBody(w, m, body);
    } catch (e) {
      w.pos = at;
      throw e;
    }
    this.replied(l, routing, at, out);
  }

  /** @internal An error reply, its message cut to the frame's limits. */
  replyError(
    l: Listener,
    routing: Buffer,
    requestId: number,
    code: number,
    message: string,
    out: ReplyBatch | null,
  ): void {
    // Peer-controlled text could exceed the limit: cut it (by characters, then bytes are checked).
    let msg = message.length > 1000 ? `${message.slice(0, 1000)}...` : message;
    if (Buffer.byteLength(msg) > 1024) msg = `${errorCodeName(code)}`;
    const w = this.replyWriter(l, out);
    const at = this.replyHeader(w, out, requestId, ERROR_TYPE);
    errorBody.encode(w, { code, message: msg }, 'error');
    this.replied(l, routing, at, out);
  }

  /** Where a reply is written: its batch's frame while the batch is being answered, else a fresh single frame. */
  private replyWriter(l: Listener, out: ReplyBatch | null): FrameWriter {
    if (out?.open === true) return l.batch;
    l.single.reset();
    return l.single;
  }

  /** Writes a reply's header (a batch entry's length placeholder first); returns where it starts. */
  private replyHeader(w: FrameWriter, out: ReplyBatch | null, requestId: number, typeId: number): number {
    const at = w.pos;
    if (out?.open === true) w.u32le(0);
    w.u32le(requestId);
    w.u16le(typeId);
    return at;
  }

  /** A reply was written at `at`: sent alone, or its batch entry's length filled in. */
  private replied(l: Listener, routing: Buffer, at: number, out: ReplyBatch | null): void {
    this.stats.replied++;
    if (out === null || !out.open) {
      l.socket.send([routing, l.single.take(0)]);
      return;
    }
    const w = l.batch;
    w.patchU32(at, w.pos - at - 4);
    if (out.count++ === 0) out.first = at;
    if (w.pos <= REPLY_BATCH_BYTES) return;
    // Over the cap: the entries before this one leave as one frame, this one alone if it is big
    // by itself, else it starts the next frame.
    if (out.count === 1) {
      l.socket.send([routing, w.take(at + 4)]);
      out.count = 0;
      w.reset();
      w.u32le(0);
      w.u16le(BATCH_TYPE);
      return;
    }
    const entry = w.take(at);
    w.pos = at;
    out.count--;
    this.flushBatch(l, routing, out);
    if (entry.length - 4 > REPLY_BATCH_BYTES) l.socket.send([routing, entry.subarray(4)]);
    else {
      out.first = w.pos;
      out.count = 1;
      w.bytes(entry);
    }
  }

  /**
   * Stops taking requests (new ones get `unavailable`), waits up to drainMs for handlers to
   * finish and their replies to go out, aborts the rest, then closes the sockets.
   */
  async close(drainMs = 2000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.stats.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        this.drained = r;
        timer = setTimeout(r, drainMs);
      });
      clearTimeout(timer);
    }
    for (const state of this.inFlight.values()) {
      state.ac ??= new AbortController();
      state.ac.abort(new BusError('closed', 'server shutting down'));
    }
    for (const l of this.listeners) await l.socket.flush();
    this.closeSockets();
    this.log.info('rpc closed', { service: this.options.schema.service });
  }

  private closeSockets(): void {
    for (const l of this.listeners) {
      if (!l.socket.closed) l.socket.close();
      l.release?.();
    }
  }
}

export function allowFunction(allow: CurveServerOptions['allow']): (key: string) => string | undefined {
  if (typeof allow === 'function') return allow;
  const map = new Map<string, string>();
  if (allow instanceof Map) for (const [k, v] of allow) map.set(parseCurveKey(k), v);
  else for (const k of allow as Iterable<string>) map.set(parseCurveKey(k), k.slice(0, 8));
  return (key) => map.get(key);
}
