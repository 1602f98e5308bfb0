/**
 * The native transport (packages/bus/native, `bus_zmq.node`): each wake-up of a socket drains
 * every waiting message into one Buffer and calls JavaScript once; sends are synchronous calls
 * that either hand the message to ZeroMQ or report that it would block (then it waits here, in
 * order, until the socket is writable). The addon uses the libzmq that zeromq.js loaded, so
 * zeromq is imported first.
 */
import 'zeromq';
import { createRequire } from 'node:module';
import {
  deliverMessage,
  type Frame,
  type MessageSocket,
  type QueuedSend,
  type SocketEvent,
  type SocketOptions,
} from './socket.ts';

type Handle = object;

interface Addon {
  /** Finds libzmq in the process; returns "major.minor.patch path". */
  init(): string;
  open(type: number): Handle;
  setopt(h: Handle, option: number, value: number | string | Uint8Array): void;
  /** Returns the endpoint bound (ZMQ_LAST_ENDPOINT). */
  bind(h: Handle, url: string): string;
  connect(h: Handle, url: string): void;
  monitor(h: Handle, onEvent: (event: number, value: number, endpoint: string) => void): void;
  start(h: Handle, onRead: (batch: Buffer) => void, onWritable: () => void): void;
  /** true: handed to ZeroMQ; false: it would block (nothing sent). */
  send(h: Handle, ...frames: Frame[]): boolean;
  close(h: Handle): void;
}

const ADDON_PATH = '../../native/build/Release/bus_zmq.node';

// zmq.h (libzmq 4.3)
const ZMQ_DEALER = 5;
const ZMQ_ROUTER = 6;
const ZMQ_LINGER = 17;
const ZMQ_MAXMSGSIZE = 22;
const ZMQ_CURVE_SERVER = 47;
const ZMQ_CURVE_PUBLICKEY = 48;
const ZMQ_CURVE_SECRETKEY = 49;
const ZMQ_CURVE_SERVERKEY = 50;
const ZMQ_ZAP_DOMAIN = 55;
const ZMQ_ZAP_ENFORCE_DOMAIN = 93;
const ZMQ_EVENT_DISCONNECTED = 0x0200;
const ZMQ_EVENT_HANDSHAKE_FAILED_AUTH = 0x4000;
const MORE_BIT = 0x80000000;

function load(): { addon: Addon; libzmq: string } | { addon: null; why: string } {
  if (process.env.BP_NO_NATIVE === '1') return { addon: null, why: 'BP_NO_NATIVE=1' };
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
    return { addon, libzmq: addon.init() };
  } catch (e) {
    return { addon: null, why: (e as Error).message };
  }
}

const loaded = load();

/** The addon, or why it is not there. */
export const nativeTransport: { available: true; libzmq: string } | { available: false; why: string } =
  loaded.addon ? { available: true, libzmq: loaded.libzmq } : { available: false, why: loaded.why };

interface Waiting extends QueuedSend {
  readonly frames: readonly Frame[];
}

export class NativeSocket implements MessageSocket {
  onMessage: (frames: Buffer[]) => void = () => {};
  onEvent: ((e: SocketEvent) => void) | undefined = undefined;
  onError: ((e: unknown, during: 'send' | 'receive') => void) | undefined = undefined;
  private readonly h: Handle;
  private readonly addon: Addon;
  private isClosed = false;
  /** Messages that would have blocked, in order; queue[head] goes first. */
  private queue: Waiting[] = [];
  private head = 0;
  private flushed: (() => void)[] = [];
  /** Frames of a message cut across two wake-ups (only a message of thousands of frames). */
  private partial: Buffer[] = [];

  constructor(options: SocketOptions) {
    if (!loaded.addon)
      throw new Error(
        `native transport unavailable: ${nativeTransport.available ? '' : nativeTransport.why}`,
      );
    const addon = loaded.addon;
    this.addon = addon;
    const h = addon.open(options.type === 'router' ? ZMQ_ROUTER : ZMQ_DEALER);
    this.h = h;
    try {
      addon.setopt(h, ZMQ_LINGER, options.linger ?? 0);
      if (options.maxMessageSize !== undefined) addon.setopt(h, ZMQ_MAXMSGSIZE, options.maxMessageSize);
      if (options.curveServer) addon.setopt(h, ZMQ_CURVE_SERVER, 1);
      if (options.curveSecretKey) addon.setopt(h, ZMQ_CURVE_SECRETKEY, options.curveSecretKey);
      if (options.curvePublicKey) addon.setopt(h, ZMQ_CURVE_PUBLICKEY, options.curvePublicKey);
      if (options.curveServerKey) addon.setopt(h, ZMQ_CURVE_SERVERKEY, options.curveServerKey);
      if (options.zapDomain !== undefined) addon.setopt(h, ZMQ_ZAP_DOMAIN, options.zapDomain);
      if (options.zapEnforceDomain) addon.setopt(h, ZMQ_ZAP_ENFORCE_DOMAIN, 1);
      addon.monitor(h, (event, value, endpoint) => this.monitored(event, value, endpoint));
      addon.start(
        h,
        (batch) => this.received(batch),
        () => this.pump(),
      );
    } catch (e) {
      addon.close(h);
      this.isClosed = true;
      throw e;
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  async bind(url: string): Promise<string> {
    return this.addon.bind(this.h, url);
  }

  connect(url: string): void {
    this.addon.connect(this.h, url);
  }

  send(frames: readonly Frame[]): QueuedSend {
    if (this.head === this.queue.length && !this.isClosed && this.sendNow(frames)) return SENT;
    const w: Waiting = { frames };
    this.queue.push(w);
    return w;
  }

  /**
   * One message to ZeroMQ; false if it would block. A message ZeroMQ refuses (e.g. more than 16
   * frames) is reported to onError and counts as gone, as zeromq.js's send queue does.
   */
  private sendNow(f: readonly Frame[]): boolean {
    const { addon, h } = this;
    try {
      switch (f.length) {
        case 1:
          return addon.send(h, f[0]);
        case 2:
          return addon.send(h, f[0], f[1]);
        case 3:
          return addon.send(h, f[0], f[1], f[2]);
        default:
          return addon.send(h, ...f);
      }
    } catch (e) {
      this.onError?.(e, 'send');
      return true;
    }
  }

  /** The socket became writable: send what waited, in order, until it would block again. */
  private pump(): void {
    while (this.head < this.queue.length && !this.isClosed) {
      const w = this.queue[this.head];
      if (!w.dropped) {
        if (!this.sendNow(w.frames)) return;
        w.sent = true;
      }
      this.head++;
    }
    this.queue = [];
    this.head = 0;
    const waiters = this.flushed;
    this.flushed = [];
    for (const r of waiters) r();
  }

  flush(): Promise<void> {
    if (this.head === this.queue.length || this.isClosed) return Promise.resolve();
    return new Promise((r) => this.flushed.push(r));
  }

  /** A wake-up's messages: u32 count, u32 length (| MORE_BIT) per frame, then the bytes. */
  private received(batch: Buffer): void {
    const n = batch.readUInt32LE(0);
    let at = 4 + 4 * n;
    let frames = this.partial;
    this.partial = [];
    for (let i = 0; i < n; i++) {
      const word = batch.readUInt32LE(4 + 4 * i);
      const len = (word & ~MORE_BIT) >>> 0;
      frames.push(batch.subarray(at, at + len));
      at += len;
      if (word & MORE_BIT) continue;
      const message = frames;
      frames = [];
      if (this.isClosed) return;
      deliverMessage(this, message);
    }
    this.partial = frames;
  }

  private monitored(event: number, value: number, endpoint: string): void {
    const cb = this.onEvent;
    if (!cb) return;
    if (event === ZMQ_EVENT_DISCONNECTED) cb({ kind: 'disconnect', endpoint });
    else if (event === ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) cb({ kind: 'auth-failed', endpoint, status: value });
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.addon.close(this.h);
    for (const w of this.queue) w.dropped = true;
    this.queue = [];
    this.head = 0;
    const waiters = this.flushed;
    this.flushed = [];
    for (const r of waiters) r();
  }
}

/** The handle every message sent at once shares (nothing to drop later). */
const SENT: QueuedSend = { sent: true, dropped: false };
