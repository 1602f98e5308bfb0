import { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import { ByteWriter } from '@lnpbp/bitcoin/bytes/writer';
import { DecodeError, ValueError } from '@lnpbp/bitcoin/errors';
import { type AnyCodec, type Codec, type StructOf, t, UNNAMED } from './codec.ts';
import { FrameWriter } from './frame-writer.ts';

/**
 * Schema tables: every message type is declared once, as an entry of a table passed to
 * `defineMessages`. The entry gives the u16 type id, the body fields and, for a request, the
 * reply's fields. Encoders, decoders, the handler/client TypeScript types, CLI help and the
 * markdown docs are all derived from that one entry.
 *
 * Type id space (u16):
 *   0x0000-0x00ff  reserved for the bus itself (handshake, status, cancel)
 *   0x0100-0x7fff  application messages (requests and notifications)
 *   0x8000 | id    the reply to request `id` (so a reply never needs its own table entry)
 *   0xffff         error reply
 */
export interface MessageDef {
  readonly id: number;
  readonly doc?: string;
  readonly fields: Readonly<Record<string, AnyCodec>>;
  /** Present on requests: the fields of the reply. Absent on notifications. */
  readonly reply?: Readonly<Record<string, AnyCodec>>;
  /** Doc of the reply. */
  readonly replyDoc?: string;
}

export type MessageTable = Readonly<Record<string, MessageDef>>;

export const REPLY_FLAG = 0x8000;
export const ERROR_TYPE = 0xffff;
export const FIRST_APP_ID = 0x0100;

/** Decoded body type of message N. */
export type BodyOf<D extends MessageTable, N extends keyof D> = StructOf<D[N]['fields']>;
/** Decoded reply type of request N. */
export type ReplyOf<D extends MessageTable, N extends keyof D> =
  D[N]['reply'] extends Record<string, AnyCodec> ? StructOf<D[N]['reply']> : never;
/** Names of the entries that are requests (have a reply). */
export type RequestName<D extends MessageTable> = {
  [K in keyof D]: D[K]['reply'] extends Record<string, AnyCodec> ? K : never;
}[keyof D] &
  string;
/** Names of the entries that are notifications (no reply). */
export type NotificationName<D extends MessageTable> = Exclude<keyof D & string, RequestName<D>>;

/** One compiled wire message: a request, its reply, or a notification. */
export interface WireMessage {
  readonly name: string;
  readonly typeId: number;
  readonly role: 'request' | 'reply' | 'notification';
  readonly doc?: string;
  readonly codec: Codec<Record<string, unknown>>;
}

export interface Schema<D extends MessageTable> {
  readonly service: string;
  readonly version: number;
  readonly table: D;
  /** Every wire type id this schema knows (requests, replies, notifications). */
  readonly byTypeId: ReadonlyMap<number, WireMessage>;
  /** The request/notification type ids, as announced in the handshake. */
  readonly typeIds: readonly number[];
  typeId(name: keyof D & string): number;
  encode<N extends keyof D & string>(name: N, body: BodyOf<D, N>): Uint8Array;
  encodeReply<N extends RequestName<D>>(name: N, body: ReplyOf<D, N>): Uint8Array;
  /** Strict: the body must be exactly one value of the message's fields, nothing after. */
  decode(
    typeId: number,
    body: Uint8Array,
  ): { name: string; role: WireMessage['role']; body: Record<string, unknown> };
}

export interface SchemaOptions {
  /** The service this table belongs to, e.g. "bpd". Sent in the handshake. */
  readonly service: string;
  /** The table's version; a client refuses a server whose version differs. */
  readonly version: number;
  /** @internal the bus's own table uses the reserved id range. */
  readonly reserved?: boolean;
}

/** Thrown for a type id no table entry declares. */
export class UnknownTypeError extends Error {
  override readonly name = 'UnknownTypeError';
  constructor(readonly typeId: number) {
    super(`unknown message type 0x${typeId.toString(16).padStart(4, '0')}`);
  }
}

export function defineMessages<const D extends MessageTable>(table: D, options: SchemaOptions): Schema<D> {
  const byTypeId = new Map<number, WireMessage>();
  const byName = new Map<string, { req: WireMessage; reply?: WireMessage }>();
  const lo = options.reserved ? 0x0001 : FIRST_APP_ID;
  const hi = options.reserved ? FIRST_APP_ID - 1 : REPLY_FLAG - 1;
  if (!Number.isInteger(options.version) || options.version < 0 || options.version > 0xffff) {
    throw new ValueError('schema version', `must be a u16, got ${options.version}`);
  }
  for (const [name, def] of Object.entries(table)) {
    if (!Number.isInteger(def.id) || def.id < lo || def.id > hi) {
      throw new ValueError(
        `schema ${options.service}.${name}`,
        `id 0x${def.id.toString(16)} outside 0x${lo.toString(16)}-0x${hi.toString(16)}`,
      );
    }
    if (byTypeId.has(def.id)) {
      throw new ValueError(
        `schema ${options.service}.${name}`,
        `id 0x${def.id.toString(16)} already used by ${byTypeId.get(def.id)!.name}`,
      );
    }
    const req: WireMessage = {
      name,
      typeId: def.id,
      role: def.reply ? 'request' : 'notification',
      doc: def.doc,
      codec: t.struct(def.fields) as unknown as Codec<Record<string, unknown>>,
    };
    byTypeId.set(def.id, req);
    let reply: WireMessage | undefined;
    if (def.reply) {
      reply = {
        name,
        typeId: def.id | REPLY_FLAG,
        role: 'reply',
        doc: def.replyDoc,
        codec: t.struct(def.reply) as unknown as Codec<Record<string, unknown>>,
      };
      byTypeId.set(reply.typeId, reply);
    }
    byName.set(name, { req, reply });
  }
  const lookup = (name: string) => {
    const e = byName.get(name);
    if (!e) throw new ValueError(`schema ${options.service}`, `no message named ${name}`);
    return e;
  };
  const encodeWith = (m: WireMessage, body: unknown): Uint8Array => {
    scratch.reset();
    encodeBody(scratch, m, body);
    return scratch.takeBytes();
  };
  return {
    service: options.service,
    version: options.version,
    table,
    byTypeId,
    typeIds: [...byName.values()].map((e) => e.req.typeId),
    typeId: (name) => lookup(name).req.typeId,
    encode: (name, body) => encodeWith(lookup(name).req, body),
    encodeReply: (name, body) => {
      const e = lookup(name);
      if (!e.reply)
        throw new ValueError(`schema ${options.service}.${name}`, 'is a notification, it has no reply');
      return encodeWith(e.reply, body);
    },
    decode(typeId, body) {
      const m = byTypeId.get(typeId);
      if (!m) throw new UnknownTypeError(typeId);
      return { name: m.name, role: m.role, body: decodeBody(m, body, 0, body.length) };
    },
  };
}

/** schema.encode's scratch (encoding is synchronous: one body at a time). */
const scratch = new FrameWriter();

/**
 * Writes message m's body at w.pos. Fast path first (no field names); if the body does not fit
 * the schema, w.pos is put back and the encode is run again with names, for the error.
 */
export function encodeBody(w: FrameWriter, m: WireMessage, body: unknown): void {
  const start = w.pos;
  try {
    m.codec.encode(w, body as Record<string, unknown>, UNNAMED);
  } catch (e) {
    w.pos = start;
    m.codec.encode(new ByteWriter(64), body as Record<string, unknown>, m.name);
    throw e;
  }
}

/**
 * Message m's body from buf[start, end), strictly: exactly one value, nothing after. Decoded
 * without field names first; bad bytes are decoded again with names, for the error.
 */
export function decodeBody(
  m: WireMessage,
  buf: Uint8Array,
  start: number,
  end: number,
): Record<string, unknown> {
  // A plain Uint8Array view: bytes fields are copied out of it, and views of a Buffer are
  // Buffers (slower to make).
  const plain = buf instanceof Buffer ? new Uint8Array(buf.buffer, buf.byteOffset + start, end - start) : buf;
  const from = plain === buf ? start : 0;
  const to = plain === buf ? end : end - start;
  const r = new ByteReader(plain, from, to);
  try {
    const v = m.codec.decode(r, UNNAMED);
    if (r.pos !== to) throw new DecodeError('trailing-bytes', UNNAMED, r.pos - from);
    return v;
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
  const named = new ByteReader(plain.subarray(from, to));
  const v = m.codec.decode(named, m.role === 'reply' ? `${m.name}.reply` : m.name);
  named.expectEnd(m.name);
  return v;
}

/** Is this error one that bad input bytes produce (as opposed to a bug)? */
export function isDecodeFault(e: unknown): e is DecodeError | UnknownTypeError {
  return e instanceof DecodeError || e instanceof UnknownTypeError;
}
