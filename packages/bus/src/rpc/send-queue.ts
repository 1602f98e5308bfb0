import type * as zmq from 'zeromq';

/**
 * zeromq.js allows one send in progress per socket; many concurrent handlers (server) or
 * requests (client) all send through one socket, so sends are queued and pumped in order.
 * An entry can be dropped before it is sent (a request that timed out while the peer was away).
 * Used by transport/zmqjs.ts (the RPC's zeromq.js transport) and by the publisher.
 */
export interface QueuedSend {
  readonly frames: Buffer | readonly (Buffer | Uint8Array | string)[];
  dropped?: boolean;
  /** Set once handed to ZeroMQ. */
  sent?: boolean;
}

export class SendQueue {
  private queue: QueuedSend[] = [];
  private head = 0;
  private pumping: Promise<void> | undefined;

  constructor(
    private readonly socket: zmq.Writable,
    private readonly onError: (e: unknown) => void,
  ) {}

  push(frames: QueuedSend['frames']): QueuedSend {
    const entry: QueuedSend = { frames };
    this.queue.push(entry);
    if (!this.pumping) this.pumping = this.pump();
    return entry;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Resolves when everything queued so far has been handed to ZeroMQ. */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async pump(): Promise<void> {
    try {
      while (this.head < this.queue.length) {
        const entry = this.queue[this.head++];
        if (entry.dropped) continue;
        entry.sent = true;
        try {
          await this.socket.send(entry.frames as Buffer | Array<Buffer | Uint8Array | string>);
        } catch (e) {
          // A closed socket or a peer-less ROUTER: the reply has nowhere to go.
          this.onError(e);
        }
      }
    } finally {
      // Drained: start a fresh array rather than letting a long-lived one grow.
      this.queue = [];
      this.head = 0;
      this.pumping = undefined;
    }
  }
}
