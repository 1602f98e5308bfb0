/**
 * The message socket the RPC server, the RPC client and the ZAP handler run on. Two
 * implementations: `native.ts` (our addon over the libzmq that zeromq.js ships: every wake-up
 * drains all waiting messages in one call, sends are synchronous calls) and `zmqjs.ts`
 * (zeromq.js's promise per message; the fallback where the addon is not built). Both speak
 * ZeroMQ on the wire, so either end may use either.
 */

export type SocketType = 'router' | 'dealer';

export interface SocketOptions {
  readonly type: SocketType;
  /** ZMQ_LINGER in ms. Default 0. */
  readonly linger?: number;
  /** ZMQ_MAXMSGSIZE in bytes: a bigger message drops the connection. Default: no limit. */
  readonly maxMessageSize?: number;
  /** Curve server: this side's secret key (32 bytes, or Z85/hex as zeromq.js takes it). */
  readonly curveServer?: boolean;
  readonly curveSecretKey?: string;
  readonly curvePublicKey?: string;
  /** Curve client: the server's public key. */
  readonly curveServerKey?: string;
  readonly zapDomain?: string;
  /** ZMQ_ZAP_ENFORCE_DOMAIN: with no ZAP handler answering, refuse every client. */
  readonly zapEnforceDomain?: boolean;
}

/** What the socket's monitor reports (only what the bus acts on). */
export type SocketEvent =
  /** A connection went away (peer closed, or a frame over maxMessageSize). */
  | { readonly kind: 'disconnect'; readonly endpoint: string }
  /** The Curve handshake failed on authentication (the server refused this client's key). */
  | { readonly kind: 'auth-failed'; readonly endpoint: string; readonly status: number };

export type Frame = Buffer | Uint8Array | string;

export interface MessageSocket {
  /**
   * Called once per received message with its frames, in arrival order. Set it before bind or
   * connect. A frame Buffer may share memory with other frames of the same wake-up: keep it
   * (e.g. a routing id held by a request in flight) but never write to it.
   */
  onMessage: (frames: Buffer[]) => void;
  /** Monitor events; set before bind or connect (unset: no monitor is run). */
  onEvent: ((e: SocketEvent) => void) | undefined;
  /**
   * Failures with no caller to throw to (optional: an implementation may have none to report):
   * `send`, a message ZeroMQ refused (it is lost); `receive`, receiving failed while the socket
   * was open. onMessage should not throw; what it throws is the implementation's to handle.
   */
  onError?: ((e: unknown, during: 'send' | 'receive') => void) | undefined;
  /**
   * Sends one message, in order after every earlier one. Never blocks: if ZeroMQ cannot take
   * it now (DEALER at its high-water mark, no peer yet) it waits in a queue. A ROUTER drops a
   * message to a peer that is gone, as ZeroMQ does. Returns a handle whose `dropped` may be set
   * while it waits, to skip it.
   */
  send(frames: readonly Frame[]): QueuedSend;
  /** Messages queued and not yet handed to ZeroMQ. */
  readonly queued: number;
  /** Resolves once every message queued so far has been handed to ZeroMQ (or dropped). */
  flush(): Promise<void>;
  /**
   * Binds; resolves with the endpoint bound (a tcp port 0 resolved to the port chosen).
   * Rejects with an Error whose `code` is the errno name (e.g. 'EADDRINUSE').
   */
  bind(url: string): Promise<string>;
  connect(url: string): void;
  close(): void;
  readonly closed: boolean;
}

export interface QueuedSend {
  dropped?: boolean;
  /** Set once handed to ZeroMQ. */
  sent?: boolean;
}

/**
 * Calls a socket's onMessage. The bus's handlers catch their own faults, so anything thrown here
 * is a bug: it is thrown again outside the socket's read loop, where it surfaces, instead of
 * ending the loop.
 */
export function deliverMessage(socket: MessageSocket, frames: Buffer[]): void {
  try {
    socket.onMessage(frames);
  } catch (e) {
    process.nextTick(() => {
      throw e;
    });
  }
}
