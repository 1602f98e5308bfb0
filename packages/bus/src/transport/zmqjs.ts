import * as zmq from 'zeromq';
import { SendQueue } from '../rpc/send-queue.ts';
import type { Frame, MessageSocket, QueuedSend, SocketEvent, SocketOptions } from './socket.ts';

/**
 * MessageSocket on zeromq.js: a promise and an async hop per message received, and one send in
 * flight per socket (so sends wait in a SendQueue). The fallback where the native addon is not
 * built; see socket.ts.
 */
export class ZmqjsSocket implements MessageSocket {
  onMessage: (frames: Buffer[]) => void = () => {};
  onEvent: ((e: SocketEvent) => void) | undefined = undefined;
  onError: ((e: unknown, during: 'send' | 'receive') => void) | undefined = undefined;
  private readonly socket: zmq.Router | zmq.Dealer;
  private readonly sender: SendQueue;
  private watching = false;
  private started = false;
  private isClosed = false;

  constructor(options: SocketOptions) {
    const o: Record<string, unknown> = { linger: options.linger ?? 0 };
    // A ROUTER never blocks a send (a message to a peer that is gone is dropped); a DEALER's
    // send waits for a peer, as the client's requests made before the connection is up must.
    if (options.type === 'router') o.sendTimeout = 0;
    if (options.maxMessageSize !== undefined) o.maxMessageSize = options.maxMessageSize;
    if (options.curveServer !== undefined) o.curveServer = options.curveServer;
    if (options.curveSecretKey !== undefined) o.curveSecretKey = options.curveSecretKey;
    if (options.curvePublicKey !== undefined) o.curvePublicKey = options.curvePublicKey;
    if (options.curveServerKey !== undefined) o.curveServerKey = options.curveServerKey;
    if (options.zapDomain !== undefined) o.zapDomain = options.zapDomain;
    if (options.zapEnforceDomain !== undefined) o.zapEnforceDomain = options.zapEnforceDomain;
    this.socket = options.type === 'router' ? new zmq.Router(o) : new zmq.Dealer(o);
    this.sender = new SendQueue(this.socket, (e) => this.onError?.(e, 'send'));
  }

  send(frames: readonly Frame[]): QueuedSend {
    return this.sender.push(frames);
  }

  get queued(): number {
    return this.sender.pending;
  }

  flush(): Promise<void> {
    return this.sender.flush();
  }

  async bind(url: string): Promise<string> {
    this.watch();
    await this.socket.bind(url);
    this.start();
    return url.startsWith('tcp://') ? (this.socket.lastEndpoint ?? url) : url;
  }

  connect(url: string): void {
    this.watch();
    this.socket.connect(url);
    this.start();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.socket.close();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Runs the monitor (only when someone listens: it is a socket and a loop of its own). */
  private watch(): void {
    const onEvent = this.onEvent;
    if (onEvent === undefined || this.watching) return;
    this.watching = true;
    const events = this.socket.events;
    events.on('disconnect', (ev) => onEvent({ kind: 'disconnect', endpoint: ev.address }));
    events.on('handshake:error:auth', (ev) =>
      onEvent({ kind: 'auth-failed', endpoint: ev.address, status: ev.error.status }),
    );
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.receiveLoop();
  }

  // receive() itself rather than `for await`: the async iterator adds a promise per message.
  private async receiveLoop(): Promise<void> {
    const socket = this.socket;
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (e) {
        // Closing the socket rejects the receive in progress (EAGAIN): the normal end.
        if (!this.isClosed && !socket.closed) this.onError?.(e, 'receive');
        return;
      }
      if (this.isClosed) return;
      try {
        this.onMessage(frames);
      } catch (e) {
        // A bug in the caller: say so and keep receiving.
        this.onError?.(e, 'receive');
      }
    }
  }
}
