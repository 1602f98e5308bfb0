/**
 * The zmtp transport: ZeroMQ's wire protocol (ZMTP 3.1, NULL mechanism) spoken by this process
 * itself over Node's Unix sockets, for `ipc://` endpoints. libzmq hands every message between
 * the caller's thread and its own I/O thread; in this VM that cross-thread wake-up was most of
 * a request's cost (docs/performance.md, "Bus transport"). Here a received read is parsed on the
 * main thread where it lands, and the replies of one event-loop turn leave in one write per peer.
 * Any ZeroMQ DEALER/ROUTER (libzmq through zeromq.js or the native addon, or another program)
 * can be on the other end: the bytes are ZMTP's.
 *
 * ROUTER: listens on ipc paths, one connection per peer, messages prefixed with the peer's
 * routing id (its READY Identity if it sent one, else 5 bytes as libzmq makes them); a message
 * to a peer that is gone, or whose connection already holds ROUTER_PENDING_MAX unsent bytes, is
 * dropped (libzmq's ROUTER at its high-water mark does the same). DEALER: connects to one ipc
 * path, reconnects every RECONNECT_MS when it cannot or the connection drops, and keeps what is
 * sent meanwhile until a peer's handshake completes.
 *
 * PUB: listens like a ROUTER; each subscriber's topic prefixes arrive as ZMTP 3.1 SUBSCRIBE /
 * CANCEL commands (libzmq 4.3.3+) or as the older messages `0x01|prefix` / `0x00|prefix`, and a
 * message goes to every subscriber with a prefix of its first frame; one whose connection holds
 * `sendHighWaterMark` messages not yet taken by the kernel gets none until it catches up (libzmq
 * drops at its high-water mark too; the bus's sequence numbers show the gap). SUB: connects like
 * a DEALER, (re)sends its prefixes after every handshake, and delivers only messages matching
 * one; `pauseReading` stops reading its connection (the kernel's buffer then fills and the
 * publisher drops), which is how a Subscriber bounds what waits for its consumer.
 */
import { unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import {
  deliverMessage,
  type Frame,
  type MessageSocket,
  type QueuedSend,
  type SocketEvent,
  type SocketOptions,
} from './socket.ts';
import {
  command,
  FLAG_COMMAND,
  FLAG_MORE,
  FrameDecoder,
  GREETING_SIZE,
  greeting,
  headerSize,
  parseCommand,
  parseGreeting,
  parseMetadata,
  putFrameHeader,
  ready,
  ZmtpError,
} from './zmtp-codec.ts';

/** libzmq's ZMQ_HANDSHAKE_IVL default: a peer that has not completed its handshake by then is dropped. */
const HANDSHAKE_MS = 30_000;
/** libzmq's ZMQ_RECONNECT_IVL default. */
const RECONNECT_MS = 100;
/** Frames in one message: our messages have 1-3; a peer sending endless MORE frames is dropped. */
const MAX_FRAMES = 1024;
/** Unsent bytes a ROUTER lets one peer's connection hold before it drops messages to it. */
const ROUTER_PENDING_MAX = 64 << 20;
/** A message up to this size is copied into one buffer with its headers; bigger frames go as they are. */
const COPY_MAX = 16 << 10;
/** Distinct topic prefixes one subscriber may hold on a PUB (each a map entry there). */
const MAX_SUBSCRIPTIONS = 100_000;
/** The connecting side's read buffer (Node's own read size). */
const READ_BUFFER = 64 << 10;
/** Without a maxMessageSize, frames are still bounded before allocation. */
const DEFAULT_MAX = 1 << 30;

/** Is this url one the zmtp transport serves? (ipc paths; not libzmq's `ipc://*` wildcard.) */
export function zmtpServes(url: string): boolean {
  return url.startsWith('ipc://') && url.length > 6 && url !== 'ipc://*';
}

function ipcPath(url: string): string {
  if (!zmtpServes(url))
    throw Object.assign(new Error(`${url}: the zmtp transport serves ipc://PATH only`), {
      code: 'EPROTONOSUPPORT',
    });
  const p = url.slice(6);
  // libzmq: a leading @ names a socket in Linux's abstract namespace.
  return p.startsWith('@') ? `\0${p.slice(1)}` : p;
}

function toBuffer(f: Frame): Buffer {
  if (typeof f === 'string') return Buffer.from(f, 'utf8');
  return Buffer.isBuffer(f) ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

/** The socket types this transport speaks. */
export type ZmtpSocketType = 'router' | 'dealer' | 'pub' | 'sub';

export interface ZmtpSocketOptions extends Omit<SocketOptions, 'type'> {
  readonly type: ZmtpSocketType;
  /** PUB: messages one subscriber's connection may hold unsent before it gets none. Default 100,000. */
  readonly sendHighWaterMark?: number;
}

const PEERS: Record<ZmtpSocketType, readonly string[]> = {
  // ZMTP's socket-type rules (spec 37): who may talk to whom.
  router: ['DEALER', 'REQ', 'ROUTER'],
  dealer: ['ROUTER', 'REP', 'DEALER'],
  pub: ['SUB', 'XSUB'],
  sub: ['PUB', 'XPUB'],
};

/**
 * Topic prefixes with a count each (libzmq's: subscribing twice needs two cancels), looked up by
 * the distinct prefix lengths: a topic matches when its first `len` bytes are a prefix held.
 */
class Prefixes {
  private readonly held = new Map<string, number>();
  private readonly lengths = new Map<number, number>();

  get size(): number {
    return this.held.size;
  }

  /** Adds one; true when the prefix is new. */
  add(p: string): boolean {
    const n = this.held.get(p) ?? 0;
    this.held.set(p, n + 1);
    if (n > 0) return false;
    this.lengths.set(p.length, (this.lengths.get(p.length) ?? 0) + 1);
    return true;
  }

  /** Removes one; true when the prefix is gone. */
  remove(p: string): boolean {
    const n = this.held.get(p);
    if (n === undefined) return false;
    if (n > 1) {
      this.held.set(p, n - 1);
      return false;
    }
    this.held.delete(p);
    const l = this.lengths.get(p.length)! - 1;
    if (l === 0) this.lengths.delete(p.length);
    else this.lengths.set(p.length, l);
    return true;
  }

  /** `topic` as latin1 (one char per byte). */
  matches(topic: string): boolean {
    for (const len of this.lengths.keys())
      if (len <= topic.length && this.held.has(len === topic.length ? topic : topic.slice(0, len)))
        return true;
    return false;
  }

  keys(): IterableIterator<string> {
    return this.held.keys();
  }
}

/** A SUB's subscription message (the pre-3.1 form every ZMTP 3 peer takes): 1 or 0, then the prefix. */
function encodeSubscription(subscribe: boolean, prefix: string): Buffer {
  const m = Buffer.allocUnsafe(1 + prefix.length);
  m[0] = subscribe ? 1 : 0;
  m.write(prefix, 1, 'latin1');
  return m;
}

/** One ZMTP connection, either side. */
class Connection {
  state: 'greeting' | 'handshake' | 'ready' | 'closed' = 'greeting';
  /** ROUTER side: the peer's routing id, set when its READY arrives. */
  routingId: Buffer | null = null;
  key = '';
  private readonly greet = Buffer.alloc(GREETING_SIZE);
  private greetFill = 0;
  private readonly decoder: FrameDecoder;
  private msg: Buffer[] = [];
  private msgBytes = 0;
  out: Buffer[] = [];
  outBytes = 0;
  /** Messages in `out`, and in writes the kernel has not taken yet (PUB counts them). */
  outMsgs = 0;
  writingMsgs = 0;
  /** PUB: the subscriber's topic prefixes. */
  readonly subscriptions: Prefixes | null;
  flushQueued = false;
  private timer: NodeJS.Timeout | null;

  constructor(
    readonly sock: Socket,
    private readonly owner: ZmtpSocket,
    readonly endpoint: string,
    maxMessageSize: number,
    /** The socket reads into one reused buffer and hands chunks to `received` (ZmtpSocket.dial). */
    ownReads = false,
  ) {
    this.decoder = new FrameDecoder(maxMessageSize, (flags, body) => this.frame(flags, body), ownReads);
    this.subscriptions = owner.type === 'pub' ? new Prefixes() : null;
    const ms = owner.handshakeMs;
    this.timer = setTimeout(() => this.fail(new ZmtpError('handshake', `no handshake within ${ms} ms`)), ms);
    this.timer.unref();
    if (!ownReads) sock.on('data', (chunk: Buffer) => this.received(chunk));
    sock.on('error', () => {});
    sock.on('close', () => this.closed());
    // Our half of the handshake goes at once; libzmq reads a greeting byte-exact, so the READY
    // behind it waits in the socket until its turn.
    const t = owner.type;
    // libzmq sends Identity for the types that route by it only.
    const props: Record<string, string> = { 'Socket-Type': t.toUpperCase() };
    if (t === 'router' || t === 'dealer') props.Identity = '';
    sock.write(Buffer.concat([greeting(), ready(props)]));
  }

  /** A read: parsed here; a protocol fault ends the connection. */
  received(chunk: Buffer): void {
    try {
      this.data(chunk);
    } catch (e) {
      this.fail(e);
    }
  }

  private data(chunk: Buffer): void {
    if (this.state === 'greeting') {
      const n = Math.min(GREETING_SIZE - this.greetFill, chunk.length);
      chunk.copy(this.greet, this.greetFill, 0, n);
      this.greetFill += n;
      // A stranger (an HTTP client, a typo'd path) is told apart by its first byte.
      if (this.greet[0] !== 0xff) throw new ZmtpError('greeting', 'not a ZMTP 3 greeting (bad signature)');
      if (this.greetFill < GREETING_SIZE) return;
      parseGreeting(this.greet);
      this.state = 'handshake';
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    if (this.state === 'closed') return;
    this.decoder.push(chunk);
  }

  private frame(flags: number, body: Buffer): void {
    if (this.state === 'closed') return;
    if (flags & FLAG_COMMAND) {
      if (flags & FLAG_MORE) throw new ZmtpError('frame', 'command frame with MORE set');
      this.command(body);
      return;
    }
    if (this.state !== 'ready') throw new ZmtpError('handshake', 'message before READY');
    const msg = this.msg;
    if (msg.length === 0 && this.routingId) msg.push(this.routingId);
    msg.push(body);
    this.msgBytes += body.length;
    if (msg.length > MAX_FRAMES) throw new ZmtpError('frame', `message of more than ${MAX_FRAMES} frames`);
    if (this.msgBytes > this.owner.maxMessageSize)
      throw new ZmtpError('oversized', `message of over ${this.owner.maxMessageSize} bytes`);
    if (flags & FLAG_MORE) return;
    this.msg = [];
    this.msgBytes = 0;
    if (this.subscriptions) this.readSubscription(msg);
    else this.owner.deliver(msg);
  }

  /** PUB: what a SUB sends is subscriptions only, each a one-frame message 1|prefix or 0|prefix. */
  private readSubscription(msg: Buffer[]): void {
    const m = msg[0];
    if (msg.length !== 1 || m.length === 0 || m[0] > 1)
      throw new ZmtpError('frame', 'a subscriber sent a message that is not a subscription');
    this.subscribe(m[0] === 1, m.subarray(1));
  }

  private subscribe(on: boolean, prefix: Buffer): void {
    const subs = this.subscriptions!;
    // Each prefix held costs the PUB memory and every message a lookup per distinct length.
    if (on && subs.size >= MAX_SUBSCRIPTIONS)
      throw new ZmtpError('frame', `a subscriber holding more than ${MAX_SUBSCRIPTIONS} prefixes`);
    const p = prefix.toString('latin1');
    if (on) subs.add(p);
    else subs.remove(p);
  }

  private command(body: Buffer): void {
    const c = parseCommand(body);
    if (this.state === 'handshake') {
      if (c.name === 'ERROR') throw new ZmtpError('handshake', `peer refused: ${errorReason(c.data)}`);
      if (c.name !== 'READY') throw new ZmtpError('handshake', `${c.name} before READY`);
      const props = parseMetadata(c.data);
      const type = props.get('socket-type')?.toString('latin1') ?? '';
      if (!PEERS[this.owner.type].includes(type))
        throw new ZmtpError(
          'socket-type',
          `a ${this.owner.type.toUpperCase()} does not talk to a ${type || 'nameless'} socket`,
        );
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.state = 'ready';
      this.owner.peerReady(this, props.get('identity'));
      return;
    }
    // ZMTP 3.1 heartbeats: a PING is answered with its context.
    if (c.name === 'PING') {
      if (c.data.length < 2) throw new ZmtpError('frame', 'PING without its TTL');
      this.queue(command('PONG', c.data.subarray(2, 2 + 16)));
      this.owner.scheduleFlush(this);
    } else if (c.name === 'ERROR') throw new ZmtpError('handshake', `peer error: ${errorReason(c.data)}`);
    // ZMTP 3.1's subscriptions (libzmq 4.3.3+ sends these to a 3.1 peer).
    else if (this.subscriptions && (c.name === 'SUBSCRIBE' || c.name === 'CANCEL'))
      this.subscribe(c.name === 'SUBSCRIBE', c.data);
    // PONG, and commands meant for other socket types, have nothing to do here.
  }

  queue(b: Buffer): void {
    this.out.push(b);
    this.outBytes += b.length;
  }

  /** Writes what this turn queued: one write of it all when small. */
  flush(): void {
    this.flushQueued = false;
    const out = this.out;
    if (out.length === 0 || this.state === 'closed') return;
    this.out = [];
    const bytes = this.outBytes;
    this.outBytes = 0;
    const msgs = this.outMsgs;
    this.outMsgs = 0;
    const { sock } = this;
    // PUB: count the messages until the kernel takes the write (one callback per turn's write).
    let done: (() => void) | undefined;
    if (this.subscriptions) {
      this.writingMsgs += msgs;
      done = () => {
        this.writingMsgs -= msgs;
      };
    }
    if (out.length === 1) sock.write(out[0], done);
    else if (bytes <= 256 << 10) sock.write(Buffer.concat(out, bytes), done);
    else {
      sock.cork();
      for (let i = 0; i < out.length; i++) sock.write(out[i], i === out.length - 1 ? done : undefined);
      sock.uncork();
    }
  }

  /** PUB: messages this connection holds that the kernel has not taken. */
  get unsentMessages(): number {
    return this.outMsgs + this.writingMsgs;
  }

  /** Unsent bytes: this turn's and what the kernel did not take yet. */
  get pending(): number {
    return this.outBytes + this.sock.writableLength;
  }

  fail(e: unknown): void {
    if (this.state === 'closed') return;
    this.owner.protocolError(e);
    this.sock.destroy();
    this.closed();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.sock.destroy();
    this.closed();
  }

  private closed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    this.out = [];
    this.owner.peerClosed(this, wasReady);
  }
}

function errorReason(data: Buffer): string {
  return data.length > 0 ? data.toString('latin1', 1, 1 + data[0]) : '(no reason)';
}

/** Encodes a message: one buffer with its headers when small, else headers and bodies as they are. */
function encode(frames: readonly Frame[], from: number, into: Connection): void {
  let total = 0;
  const bufs: Buffer[] = new Array(frames.length - from);
  for (let i = from; i < frames.length; i++) {
    const b = toBuffer(frames[i]);
    bufs[i - from] = b;
    total += headerSize(b.length) + b.length;
  }
  const last = bufs.length - 1;
  into.outMsgs++;
  if (total <= COPY_MAX) {
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let i = 0; i <= last; i++) {
      const b = bufs[i];
      at = putFrameHeader(out, at, i < last ? FLAG_MORE : 0, b.length);
      b.copy(out, at);
      at += b.length;
    }
    into.queue(out);
    return;
  }
  for (let i = 0; i <= last; i++) {
    const b = bufs[i];
    const h = Buffer.allocUnsafe(headerSize(b.length));
    putFrameHeader(h, 0, i < last ? FLAG_MORE : 0, b.length);
    into.queue(h);
    into.queue(b);
  }
}

interface Waiting extends QueuedSend {
  readonly frames: readonly Frame[];
}

const SENT: QueuedSend = { sent: true, dropped: false };
const DROPPED: QueuedSend = { sent: false, dropped: true };

export class ZmtpSocket implements MessageSocket {
  onMessage: (frames: Buffer[]) => void = () => {};
  onEvent: ((e: SocketEvent) => void) | undefined = undefined;
  onError: ((e: unknown, during: 'send' | 'receive') => void) | undefined = undefined;
  readonly type: ZmtpSocketType;
  readonly maxMessageSize: number;
  /** Connections dropped for breaking the protocol (bad greeting, oversized frame, ...). */
  protocolErrors = 0;
  /**
   * ROUTER: messages dropped because their peer was gone or too far behind. PUB: deliveries
   * skipped because a subscriber was at its high-water mark (one per subscriber per message).
   */
  droppedSends = 0;
  /** A peer that has not completed its handshake by then is dropped. */
  readonly handshakeMs: number;
  private readonly linger: number;
  private isClosed = false;
  private readonly servers: Server[] = [];
  /** ROUTER: ready peers by routing id (latin1). */
  private readonly peers = new Map<string, Connection>();
  private readonly conns = new Set<Connection>();
  /** ROUTER: peers by the routing-id Buffer handed out with their messages. */
  private readonly byIdBuffer = new WeakMap<object, Connection>();
  private nextRoutingId = (Math.random() * 0x1_0000_0000) >>> 0;
  private dirty: Connection[] = [];
  private flushScheduled = false;
  /** writeDirty bound once: a closure per scheduled flush was ~170 B of garbage per request. */
  private readonly writeDirtyFn = () => this.writeDirty();
  /** DEALER: the connection, once its handshake is done, and what waits for it. */
  private peer: Connection | null = null;
  private target: string | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private queue: Waiting[] = [];
  private flushed: (() => void)[] = [];
  /** SUB: this socket's topic prefixes (latin1). */
  private readonly subscriptions = new Prefixes();
  private readingPaused = false;
  private readonly sendHighWaterMark: number;

  constructor(options: ZmtpSocketOptions, tuning: { handshakeMs?: number } = {}) {
    this.handshakeMs = tuning.handshakeMs ?? HANDSHAKE_MS;
    if (options.curveServer || options.curveServerKey || options.curveSecretKey)
      throw new Error('the zmtp transport speaks the NULL mechanism only (ipc); Curve endpoints use libzmq');
    this.type = options.type;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX;
    this.linger = options.linger ?? 0;
    this.sendHighWaterMark = options.sendHighWaterMark ?? 100_000;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get queued(): number {
    return this.queue.length;
  }

  bind(url: string): Promise<string> {
    if (this.type !== 'router' && this.type !== 'pub')
      return Promise.reject(new Error('the zmtp transport binds ROUTER and PUB sockets only'));
    let path: string;
    try {
      path = ipcPath(url);
    } catch (e) {
      return Promise.reject(e);
    }
    // As libzmq does: a socket file left by an earlier run is replaced.
    if (!path.startsWith('\0')) {
      try {
        unlinkSync(path);
      } catch {}
    }
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.accepted(sock, url));
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        server.on('error', (e) => this.onError?.(e, 'receive'));
        if (this.isClosed) {
          server.close();
          return reject(Object.assign(new Error('socket closed'), { code: 'ENOTSOCK' }));
        }
        this.servers.push(server);
        resolve(url);
      });
    });
  }

  private accepted(sock: Socket, url: string): void {
    if (this.isClosed) {
      sock.destroy();
      return;
    }
    this.conns.add(new Connection(sock, this, url, this.maxMessageSize));
  }

  connect(url: string): void {
    if (this.type !== 'dealer' && this.type !== 'sub')
      throw new Error('the zmtp transport connects DEALER and SUB sockets only');
    if (this.target !== null) throw new Error(`a zmtp ${this.type.toUpperCase()} connects to one endpoint`);
    ipcPath(url);
    this.target = url;
    this.dial();
  }

  private dial(): void {
    this.reconnectTimer = null;
    if (this.isClosed || this.target === null) return;
    const url = this.target;
    let conn: Connection | null = null;
    // Reads land in one buffer kept for the connection (Node's `onread`), not in a new
    // ArrayBuffer per read: sweeping those was 0.4-0.5 ms of each of a busy client's scavenges
    // (0.2 ms with this). The decoder copies out what it delivers (from Buffer's pool when
    // small). Accepted connections cannot do this: net.Server has no such option.
    const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER);
    const sock = createConnection({
      path: ipcPath(url),
      onread: {
        buffer: readBuffer,
        callback: (n: number) => {
          conn?.received(readBuffer.subarray(0, n));
          return true;
        },
      },
    });
    sock.once('connect', () => {
      if (this.isClosed) return sock.destroy();
      conn = new Connection(sock, this, url, this.maxMessageSize, true);
      this.conns.add(conn);
    });
    // No server there yet (or it went): try again, as libzmq does.
    sock.once('error', () => {
      if (!conn) this.redial();
    });
  }

  private redial(): void {
    if (this.isClosed || this.reconnectTimer) return;
    // Ref'd: an open socket keeps the process alive, as libzmq's poll handle does.
    this.reconnectTimer = setTimeout(() => this.dial(), RECONNECT_MS);
  }

  /** @internal A connection finished its handshake. */
  peerReady(c: Connection, identity: Buffer | undefined): void {
    if (this.type === 'dealer') {
      this.peer = c;
      this.pump();
      return;
    }
    if (this.type === 'sub') {
      this.peer = c;
      // A new connection knows none of our prefixes: all of them again, in one write.
      for (const p of this.subscriptions.keys()) encode([encodeSubscription(true, p)], 0, c);
      this.scheduleFlush(c);
      if (this.readingPaused) c.sock.pause();
      return;
    }
    if (this.type === 'pub') return;
    let id: Buffer;
    if (identity && identity.length > 0) {
      // libzmq refuses a second peer claiming a routing id in use.
      if (this.peers.has(identity.toString('latin1'))) {
        c.fail(new ZmtpError('routing-id', 'routing id already in use'));
        return;
      }
      id = Buffer.from(identity);
    } else {
      id = Buffer.allocUnsafe(5);
      id[0] = 0;
      id.writeUInt32BE(this.nextRoutingId, 1);
      this.nextRoutingId = (this.nextRoutingId + 1) >>> 0;
    }
    c.routingId = id;
    this.byIdBuffer.set(id, c);
    c.key = id.toString('latin1');
    this.peers.set(c.key, c);
  }

  /** @internal */
  peerClosed(c: Connection, wasReady: boolean): void {
    this.conns.delete(c);
    if (c.key && this.peers.get(c.key) === c) this.peers.delete(c.key);
    if (this.isClosed) return;
    if (wasReady) this.onEvent?.({ kind: 'disconnect', endpoint: c.endpoint });
    if (this.type === 'dealer' || this.type === 'sub') {
      if (this.peer === c) this.peer = null;
      this.redial();
    }
  }

  /** @internal */
  protocolError(e: unknown): void {
    this.protocolErrors++;
    if (!(e instanceof ZmtpError)) this.onError?.(e, 'receive');
  }

  /** @internal A whole message from a peer. */
  deliver(frames: Buffer[]): void {
    if (this.isClosed) return;
    // SUB: a publisher that filters loosely (or not at all) is filtered here, as libzmq's SUB does.
    if (this.type === 'sub' && !this.subscriptions.matches(frames[0].toString('latin1'))) return;
    deliverMessage(this, frames);
  }

  /** SUB: receive messages whose first frame starts with `prefix` ('' for all). */
  subscribe(prefix: string | Uint8Array): void {
    this.subscription(true, prefix);
  }

  /** SUB: undoes one subscribe of `prefix`. */
  unsubscribe(prefix: string | Uint8Array): void {
    this.subscription(false, prefix);
  }

  private subscription(on: boolean, prefix: string | Uint8Array): void {
    if (this.type !== 'sub') throw new Error('only a SUB socket subscribes');
    const p = toBuffer(prefix).toString('latin1');
    const changed = on ? this.subscriptions.add(p) : this.subscriptions.remove(p);
    if (!changed || this.peer === null) return;
    encode([encodeSubscription(on, p)], 0, this.peer);
    this.scheduleFlush(this.peer);
  }

  /**
   * SUB: stop reading (`pause`) or read again. What is already read is still delivered; then
   * the kernel's buffer fills and the publisher drops at its high-water mark.
   */
  pauseReading(paused: boolean): void {
    if (this.readingPaused === paused) return;
    this.readingPaused = paused;
    const c = this.peer;
    if (c === null) return;
    if (paused) c.sock.pause();
    else c.sock.resume();
  }

  send(frames: readonly Frame[]): QueuedSend {
    if (this.isClosed) return DROPPED;
    if (this.type === 'router') return this.route(frames);
    if (this.type === 'pub') return this.publish(frames);
    if (this.type === 'sub') throw new Error('a SUB socket does not send messages');
    if (this.peer && this.queue.length === 0) {
      this.write(this.peer, frames, 0);
      return SENT;
    }
    const w: Waiting = { frames };
    this.queue.push(w);
    return w;
  }

  private route(frames: readonly Frame[]): QueuedSend {
    const id = frames[0];
    // A reply usually carries the very routing-id Buffer its request came with.
    const c =
      (typeof id !== 'string' && this.byIdBuffer.get(id)) ||
      this.peers.get(
        typeof id === 'string' ? Buffer.from(id).toString('latin1') : toBuffer(id).toString('latin1'),
      );
    if (c?.state !== 'ready' || c.pending > ROUTER_PENDING_MAX) {
      this.droppedSends++;
      return SENT;
    }
    this.write(c, frames, 1);
    return SENT;
  }

  /** PUB: to every subscriber with a prefix of the first frame, except those at the mark. */
  private publish(frames: readonly Frame[]): QueuedSend {
    if (frames.length === 0) return SENT;
    const topic = toBuffer(frames[0]).toString('latin1');
    for (const c of this.conns) {
      if (c.state !== 'ready' || !c.subscriptions!.matches(topic)) continue;
      if (c.unsentMessages >= this.sendHighWaterMark) {
        this.droppedSends++;
        continue;
      }
      this.write(c, frames, 0);
    }
    return SENT;
  }

  private write(c: Connection, frames: readonly Frame[], from: number): void {
    if (frames.length - from > MAX_FRAMES) {
      this.onError?.(
        new Error(`a message of ${frames.length - from} frames (at most ${MAX_FRAMES})`),
        'send',
      );
      return;
    }
    encode(frames, from, c);
    this.scheduleFlush(c);
  }

  /** @internal Writes go out once this event-loop turn is over: one write per peer per turn. */
  scheduleFlush(c: Connection): void {
    if (c.flushQueued) return;
    c.flushQueued = true;
    this.dirty.push(c);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.writeDirtyFn);
  }

  private writeDirty(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const d of dirty) d.flush();
  }

  /** DEALER: a peer is ready; what waited goes, in order. */
  private pump(): void {
    const peer = this.peer;
    if (!peer) return;
    for (const w of this.queue) {
      if (w.dropped) continue;
      this.write(peer, w.frames, 0);
      w.sent = true;
    }
    this.queue = [];
    const waiters = this.flushed;
    this.flushed = [];
    for (const r of waiters) r();
  }

  /** Resolves once what was sent so far is written to the peers' sockets (or dropped). */
  flush(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    if (this.queue.length > 0) return new Promise((r) => this.flushed.push(r));
    this.writeDirty();
    // PUB: handed to the sockets is enough; waiting for a subscriber that is not reading would
    // never end (libzmq's PUB is flushed once its pipes hold the messages).
    if (this.type === 'pub') return Promise.resolve();
    const waits: Promise<void>[] = [];
    for (const c of this.conns) {
      if (c.state === 'ready' && c.sock.writableLength > 0)
        waits.push(
          new Promise((r) => {
            c.sock.once('drain', r);
            c.sock.once('close', r);
          }),
        );
    }
    return Promise.all(waits).then(() => {});
  }

  close(): void {
    if (this.isClosed) return;
    // What was sent before close() is handed to the kernel, as libzmq's pipes already had it.
    this.writeDirty();
    this.isClosed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const s of this.servers) s.close();
    for (const c of this.conns) {
      if (this.linger > 0 && c.state === 'ready') {
        // The connection ends once written, or at linger.
        c.sock.end();
        setTimeout(() => c.close(), this.linger).unref();
      } else c.close();
    }
    this.conns.clear();
    this.peers.clear();
    this.peer = null;
    for (const w of this.queue) w.dropped = true;
    this.queue = [];
    const waiters = this.flushed;
    this.flushed = [];
    for (const r of waiters) r();
  }
}
