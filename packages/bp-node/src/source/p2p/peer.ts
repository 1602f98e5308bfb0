import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { SourceError } from '../types.ts';
import {
  decodeU64,
  decodeVersion,
  encodeU64,
  encodeVersion,
  MIN_PEER_VERSION,
  NODE_NETWORK,
  NODE_WITNESS,
  PROTOCOL_VERSION,
  type VersionMessage,
  WTXID_RELAY_VERSION,
} from './messages.ts';
import { encodeMessage, MessageDecoder } from './wire.ts';

export interface PeerOptions {
  host: string;
  port: number;
  magic: Uint8Array;
  userAgent?: string;
  /** Connect + version/verack must finish within this. */
  handshakeTimeoutMs?: number;
  /** A peer silent for this long is dropped. */
  idleTimeoutMs?: number;
  /** We ping this often, so an honest peer is never silent for idleTimeoutMs. */
  pingIntervalMs?: number;
  maxPayload?: number;
}

/**
 * One outbound P2P connection: framing, the version/verack handshake (with wtxidrelay before
 * verack and sendheaders after, as Core does), ping/pong and the silence timeout. Emits
 * 'message' (command, payload) after the handshake and 'close' (error or null) exactly once.
 */
export class Peer extends EventEmitter {
  readonly where: string;
  remote: VersionMessage | null = null;
  wtxidRelay = false;
  /** Handshake done: messages now go to 'message' listeners (attach them before open()). */
  ready = false;
  private socket: Socket | null = null;
  private decoder: MessageDecoder;
  private closed = false;
  private lastRecv = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private pings = new Map<bigint, () => void>();
  private opts: Required<PeerOptions>;

  constructor(opts: PeerOptions) {
    super();
    this.opts = {
      userAgent: '/lnpbp-bpd:0.1.0/',
      handshakeTimeoutMs: 15_000,
      idleTimeoutMs: 120_000,
      pingIntervalMs: 30_000,
      maxPayload: 0x02000000,
      ...opts,
    };
    this.where = `p2p ${opts.host}:${opts.port}`;
    this.decoder = new MessageDecoder(opts.magic, this.opts.maxPayload);
  }

  /** Connects and completes the handshake; rejects with SourceError on any fault. */
  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      let verackSeen = false;
      let versionSeen = false;
      const fail = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onClose = (err: Error | null) =>
        fail(err ?? new SourceError(this.where, 'disconnected', 'closed during handshake'));
      const onHandshakeMessage = (command: string, payload: Uint8Array) => {
        if (command === 'version') {
          if (versionSeen)
            return this.destroy(new SourceError(this.where, 'protocol', 'second version message'));
          versionSeen = true;
          let v: VersionMessage;
          try {
            v = decodeVersion(payload);
          } catch (e) {
            return this.destroy(
              new SourceError(this.where, 'protocol', `bad version: ${(e as Error).message}`),
            );
          }
          if (v.version < MIN_PEER_VERSION) {
            return this.destroy(
              new SourceError(
                this.where,
                'protocol',
                `peer protocol version ${v.version} < ${MIN_PEER_VERSION}`,
              ),
            );
          }
          const need = NODE_NETWORK | NODE_WITNESS;
          if ((v.services & need) !== need) {
            return this.destroy(
              new SourceError(
                this.where,
                'protocol',
                `peer services 0x${v.services.toString(16)} lack NODE_NETWORK|NODE_WITNESS`,
              ),
            );
          }
          this.remote = v;
          // BIP339: announce wtxidrelay between version and verack, only to peers that know it.
          if (v.version >= WTXID_RELAY_VERSION) this.send('wtxidrelay');
          this.send('verack');
        } else if (command === 'verack') {
          if (!versionSeen)
            return this.destroy(new SourceError(this.where, 'protocol', 'verack before version'));
          verackSeen = true;
        } else if (command === 'wtxidrelay') {
          if (!versionSeen || verackSeen) return;
          this.wtxidRelay = (this.remote?.version ?? 0) >= WTXID_RELAY_VERSION;
        }
        if (versionSeen && verackSeen) {
          cleanup();
          this.ready = true;
          this.send('sendheaders');
          resolve();
        }
      };
      const timer = setTimeout(
        () =>
          this.destroy(
            new SourceError(this.where, 'timeout', `no handshake within ${this.opts.handshakeTimeoutMs} ms`),
          ),
        this.opts.handshakeTimeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        this.off('close', onClose);
        this.off('handshake', onHandshakeMessage);
      };
      this.on('close', onClose);
      this.on('handshake', onHandshakeMessage);
      this.connect();
    });
  }

  private connect(): void {
    const s = connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
    this.socket = s;
    s.on('connect', () => {
      const v: VersionMessage = {
        version: PROTOCOL_VERSION,
        services: 0n,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        nonce: randomBytes(8).readBigUInt64LE(0),
        userAgent: this.opts.userAgent,
        startHeight: 0,
        relay: true,
      };
      this.send('version', encodeVersion(v, { host: this.opts.host, port: this.opts.port }));
    });
    s.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      this.lastRecv = Date.now();
      let msgs: { command: string; payload: Uint8Array }[];
      try {
        msgs = this.decoder.push(chunk);
      } catch (e) {
        const detail = e instanceof DecodeError ? e.message : String(e);
        return this.destroy(new SourceError(this.where, 'protocol', `bad message framing: ${detail}`));
      }
      for (const m of msgs) {
        if (this.closed) return;
        if (m.command === 'ping') {
          if (m.payload.length >= 8) this.send('pong', m.payload.subarray(0, 8));
          continue;
        }
        if (m.command === 'pong') {
          this.onPong(m.payload);
          continue;
        }
        if (!this.ready) {
          this.emit('handshake', m.command, m.payload);
          continue;
        }
        try {
          this.emit('message', m.command, m.payload);
        } catch (e) {
          const detail = e instanceof Error ? e.message : String(e);
          return this.destroy(new SourceError(this.where, 'protocol', `bad ${m.command}: ${detail}`));
        }
      }
    });
    s.on('error', (err) => this.destroy(new SourceError(this.where, 'connect', err.message)));
    s.on('close', () =>
      this.destroy(new SourceError(this.where, 'disconnected', 'peer closed the connection')),
    );
    this.timers.push(
      setInterval(
        () => {
          const silent = Date.now() - this.lastRecv;
          if (silent >= this.opts.idleTimeoutMs) {
            this.destroy(new SourceError(this.where, 'timeout', `peer silent for ${silent} ms`));
          }
        },
        Math.min(1000, this.opts.idleTimeoutMs / 4),
      ),
      setInterval(() => {
        if (this.remote) this.ping().catch(() => {});
      }, this.opts.pingIntervalMs),
    );
  }

  send(command: string, payload?: Uint8Array): void {
    if (this.closed || !this.socket) return;
    this.socket.write(encodeMessage(this.opts.magic, command, payload));
  }

  /** Round trip: resolves when the peer answered; it has processed everything sent before. */
  ping(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new SourceError(this.where, 'disconnected', 'closed'));
      const nonce = randomBytes(8).readBigUInt64LE(0);
      const onClose = () => reject(new SourceError(this.where, 'disconnected', 'closed before pong'));
      this.once('close', onClose);
      this.pings.set(nonce, () => {
        this.off('close', onClose);
        resolve();
      });
      this.send('ping', encodeU64(nonce));
    });
  }

  private onPong(payload: Uint8Array): void {
    if (payload.length < 8) return;
    const nonce = decodeU64(payload, 'pong.nonce');
    const done = this.pings.get(nonce);
    if (done) {
      this.pings.delete(nonce);
      done();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection; `err` (null for a local stop) is reported once through 'close'. */
  destroy(err: Error | null = null): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.socket?.destroy();
    this.emit('close', err);
  }
}
