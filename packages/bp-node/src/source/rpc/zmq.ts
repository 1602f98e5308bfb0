import { EventEmitter } from 'node:events';
import { Subscriber } from 'zeromq';
import { SourceError } from '../types.ts';

/** The Core notification topics the RPC source follows. */
export const ZMQ_TOPICS = ['rawblock', 'rawtx', 'sequence'] as const;
export type ZmqTopic = (typeof ZMQ_TOPICS)[number];

/**
 * Subscriber for Core's ZMQ notifications. Core publishes each as three frames: the topic, the
 * body, and a 4-byte little-endian sequence number counted per topic (doc/zmq.md). A number that
 * is not the last + 1 means messages were dropped (high-water mark) or the publisher restarted:
 * reported as 'gap' so the source re-syncs rather than trusting its view.
 *
 * Events: 'message' (topic, body), 'gap' (SourceError), 'error' (SourceError).
 */
export class ZmqListener extends EventEmitter {
  readonly where: string;
  private sock: Subscriber | null = null;
  private readonly last = new Map<string, number>();
  private loop: Promise<void> | null = null;

  constructor(readonly endpoints: string[]) {
    super();
    this.where = `zmq ${endpoints.join(',')}`;
  }

  start(): void {
    const sock = new Subscriber();
    // Core's doc recommends a high HWM on the subscriber; blocks are large and bursty.
    sock.receiveHighWaterMark = 10_000;
    for (const ep of this.endpoints) sock.connect(ep);
    sock.subscribe(...ZMQ_TOPICS);
    this.sock = sock;
    this.loop = this.run(sock);
  }

  private async run(sock: Subscriber): Promise<void> {
    try {
      for await (const frames of sock) this.onFrames(frames);
    } catch (e) {
      if (!sock.closed) this.emit('error', new SourceError(this.where, 'disconnected', (e as Error).message));
    }
  }

  private onFrames(frames: Buffer[]): void {
    if (frames.length !== 3 || frames[2].length !== 4) {
      this.emit(
        'error',
        new SourceError(
          this.where,
          'protocol',
          `message of ${frames.length} frames, expected topic, body, 4-byte sequence`,
        ),
      );
      return;
    }
    const topic = frames[0].toString('latin1');
    if (!(ZMQ_TOPICS as readonly string[]).includes(topic)) return;
    const seq = frames[2].readUInt32LE(0);
    const prev = this.last.get(topic);
    this.last.set(topic, seq);
    const body = new Uint8Array(frames[1].buffer, frames[1].byteOffset, frames[1].length);
    if (prev !== undefined && seq !== (prev + 1) >>> 0) {
      this.emit(
        'gap',
        new SourceError(
          this.where,
          'zmq-gap',
          `${topic} sequence ${seq} after ${prev}: notifications were lost`,
        ),
      );
    }
    this.emit('message', topic as ZmqTopic, body);
  }

  async stop(): Promise<void> {
    const sock = this.sock;
    this.sock = null;
    if (sock && !sock.closed) sock.close();
    await this.loop;
  }
}

/** A parsed `sequence` body: <32-byte hash, display order><label>[<8-byte LE mempool sequence>]. */
export interface SequenceEvent {
  /** Internal byte order. */
  hash: Uint8Array;
  label: 'C' | 'D' | 'A' | 'R';
  mempoolSequence?: bigint;
}

export function parseSequence(body: Uint8Array): SequenceEvent | null {
  if (body.length !== 33 && body.length !== 41) return null;
  const label = String.fromCharCode(body[32]);
  if (label !== 'C' && label !== 'D' && label !== 'A' && label !== 'R') return null;
  if ((label === 'A' || label === 'R') !== (body.length === 41)) return null;
  const hash = body.slice(0, 32).reverse();
  const ev: SequenceEvent = { hash, label };
  if (body.length === 41)
    ev.mempoolSequence = Buffer.from(body.buffer, body.byteOffset + 33, 8).readBigUInt64LE(0);
  return ev;
}
