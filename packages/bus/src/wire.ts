import { t } from './schema/codec.ts';
import { defineMessages, ERROR_TYPE } from './schema/messages.ts';

/**
 * The bus's own frames and messages.
 *
 * RPC (DEALER -> ROUTER and back): exactly one ZeroMQ frame per message
 *   requestId u32 LE | typeId u16 LE | body
 * PUB/SUB: two frames
 *   topic (UTF-8, matched by prefix by ZeroMQ) | seq u64 LE | epoch u32 LE | typeId u16 LE | body
 */
export const BUS_PROTOCOL_VERSION = 1;
export const RPC_HEADER = 6;
/**
 * A batch: several RPC messages in one ZeroMQ frame, so a busy client pays ZeroMQ's
 * per-message cost once per batch rather than once per request:
 *   requestId 0 | typeId BATCH_TYPE | (length u32 LE | one RPC frame as above)*
 * A server that takes batches lists BATCH_TYPE among the type ids of its hello reply; a client
 * sends batches only to such a server, and the server answers the requests of a batch in batches
 * (replies of handlers that finish later may come alone). Batches do not nest.
 */
export const BATCH_TYPE = 0x0004;
/** Smallest RPC frame inside a batch, its length prefix included. */
export const BATCH_ENTRY_MIN = 4 + RPC_HEADER;
export const PUB_HEADER = 14;

export const MAX_SERVICE_NAME = 64;
export const MAX_ERROR_MESSAGE = 1024;

export const busMessages = defineMessages(
  {
    hello: {
      id: 0x0001,
      doc: 'Version handshake: the client states the bus protocol and the schema it speaks.',
      fields: {
        bus: t.u16,
        service: t.string(MAX_SERVICE_NAME),
        version: t.u16,
        types: t.list(t.u16, 0x8000),
      },
      reply: {
        bus: t.u16,
        service: t.string(MAX_SERVICE_NAME),
        version: t.u16,
        types: t.list(t.u16, 0x8000),
      },
      replyDoc: "The server's bus protocol, service name, schema version and request/notification ids.",
    },
    status: {
      id: 0x0002,
      doc: 'Health/status, answered by every service.',
      fields: {},
      reply: {
        service: t.string(MAX_SERVICE_NAME),
        version: t.u16,
        pid: t.u32,
        uptimeMs: t.u64,
        received: t.u64,
        replied: t.u64,
        rejected: t.u64,
        rejects: t.list(t.struct({ reason: t.string(64), count: t.u64 }), 64),
        inFlight: t.u32,
        detail: t.list(t.struct({ key: t.string(64), value: t.string(1024) }), 256),
      },
    },
    cancel: {
      id: 0x0003,
      doc: 'The client gave up on request `requestId`; the handler sees its AbortSignal fire. No reply.',
      fields: { requestId: t.u32 },
    },
  },
  { service: 'bus', version: BUS_PROTOCOL_VERSION, reserved: true },
);

export const errorBody = t.struct({ code: t.u16, message: t.string(MAX_ERROR_MESSAGE) });
export { ERROR_TYPE };

export function rpcFrame(requestId: number, typeId: number, body: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(RPC_HEADER + body.length);
  f.writeUInt32LE(requestId >>> 0, 0);
  f.writeUInt16LE(typeId, 4);
  f.set(body, RPC_HEADER);
  return f;
}

export function pubFrame(seq: bigint, epoch: number, typeId: number, body: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(PUB_HEADER + body.length);
  f.writeBigUInt64LE(seq, 0);
  f.writeUInt32LE(epoch >>> 0, 8);
  f.writeUInt16LE(typeId, 12);
  f.set(body, PUB_HEADER);
  return f;
}

/** Joins RPC frames into one batch frame. */
export function batchFrame(frames: readonly Uint8Array[]): Buffer {
  let n = RPC_HEADER;
  for (const f of frames) n += 4 + f.length;
  const out = Buffer.allocUnsafe(n);
  out.writeUInt32LE(0, 0);
  out.writeUInt16LE(BATCH_TYPE, 4);
  let p = RPC_HEADER;
  for (const f of frames) {
    out.writeUInt32LE(f.length, p);
    out.set(f, p + 4);
    p += 4 + f.length;
  }
  return out;
}

/**
 * Checks a batch frame's entries buf[start, end) before any is used: the number of entries, or
 * a string saying why it is not a batch. Every length is checked against the bytes left.
 */
export function checkBatch(buf: Buffer, start: number, end: number, maxEntries: number): number | string {
  let n = 0;
  let p = start;
  while (p < end) {
    if (end - p < 4) return `batch entry ${n}: truncated length at byte ${p - start}`;
    const len = buf.readUInt32LE(p);
    if (len > end - p - 4) return `batch entry ${n}: ${len} bytes but ${end - p - 4} left`;
    if (n === maxEntries) return `batch of more than ${maxEntries} messages`;
    n++;
    p += 4 + len;
  }
  if (n === 0) return 'empty batch';
  return n;
}

/**
 * The RPC frames of a batch frame's body (views into it), or a string saying why it is not one:
 * every length is checked against the bytes left before anything is sliced.
 */
export function splitBatch(body: Buffer, maxEntries: number): Buffer[] | string {
  const out: Buffer[] = [];
  let p = 0;
  while (p < body.length) {
    if (body.length - p < 4) return `batch entry ${out.length}: truncated length at byte ${p}`;
    const len = body.readUInt32LE(p);
    if (len > body.length - p - 4)
      return `batch entry ${out.length}: ${len} bytes but ${body.length - p - 4} left`;
    if (out.length === maxEntries) return `batch of more than ${maxEntries} messages`;
    out.push(body.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  if (out.length === 0) return 'empty batch';
  return out;
}
