import type * as zmq from 'zeromq';

/**
 * zeromq.js allows one send in progress per socket; many concurrent handlers (server) or
 * requests (client) all reply through one socket, so sends are queued and pumped in order.
 * An entry can be dropped before it is sent (a request that timed out while the peer was away).
 */
export interface QueuedSend {
  readonly frames: Array<Buffer | Uint8Array | string>;
  dropped?: boolean;
  /** Set once handed to ZeroMQ. */
  sent?: boolean;
}

export class SendQueue {
  private readonly queue: QueuedSend[] = [];
  private head = 0;
  private pumping: Promise<void> | undefined;

  constructor(
    private readonly socket: zmq.Writable & zmq.Socket,
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
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        if (entry.dropped || this.socket.closed) continue;
        entry.sent = true;
        try {
          await this.socket.send(entry.frames);
        } catch (e) {
          this.onError(e);
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }
}
