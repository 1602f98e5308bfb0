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
