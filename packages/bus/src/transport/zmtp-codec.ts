/**
 * ZMTP 3.1 (rfc.zeromq.org/spec/37) with the NULL security mechanism (spec 23): the greeting,
 * the commands a NULL handshake and a heartbeat use, and a streaming frame decoder. What
 * libzmq 4.x speaks on the wire, so a libzmq peer (zeromq.js, pyzmq, czmq, our native addon)
 * can be on the other end.
 */

export const GREETING_SIZE = 64;

/** A peer broke the protocol; the connection is dropped. */
export class ZmtpError extends Error {
  override readonly name = 'ZmtpError';
  constructor(
    readonly code:
      | 'greeting'
      | 'version'
      | 'mechanism'
      | 'handshake'
      | 'socket-type'
      | 'frame'
      | 'oversized'
      | 'routing-id',
    message: string,
  ) {
    super(message);
  }
}

/**
 * signature (%xFF, 8 bytes of padding, %x7F: libzmq pads with the ZMTP 1.0 length 1), version
 * 3.1, mechanism "NULL" padded to 20 bytes, as-server 0 (NULL has no roles), 31 bytes of filler.
 */
export function greeting(): Buffer {
  const g = Buffer.alloc(GREETING_SIZE);
  g[0] = 0xff;
  g[8] = 0x01;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 1;
  g.write('NULL', 12, 'latin1');
  return g;
}

export interface PeerGreeting {
  readonly major: number;
  readonly minor: number;
  readonly mechanism: string;
}

export function parseGreeting(g: Buffer): PeerGreeting {
  if (g[0] !== 0xff || (g[9] & 1) !== 1)
    throw new ZmtpError('greeting', 'not a ZMTP 3 greeting (bad signature)');
  const major = g[10];
  const minor = g[11];
  // ZMTP 1.0 and 2.0 peers (libzmq 2.x/3.x) are not spoken here.
  if (major < 3) throw new ZmtpError('version', `ZMTP ${major}.${minor} peer; 3.0 or later needed`);
  let end = 12;
  while (end < 32 && g[end] !== 0) end++;
  const mechanism = g.toString('latin1', 12, end);
  if (mechanism !== 'NULL')
    throw new ZmtpError(
      'mechanism',
      `peer offers the ${mechanism || 'empty'} mechanism; this endpoint speaks NULL`,
    );
  return { major, minor, mechanism };
}

export const FLAG_MORE = 0x01;
export const FLAG_LONG = 0x02;
export const FLAG_COMMAND = 0x04;

/** The frame header for a body of `size` bytes: 2 bytes, or 9 with an 8-byte size. */
export function frameHeader(flags: number, size: number): Buffer {
  if (size <= 0xff) return Buffer.from([flags, size]);
  const h = Buffer.allocUnsafe(9);
  h[0] = flags | FLAG_LONG;
  h.writeUInt32BE(Math.floor(size / 0x1_0000_0000), 1);
  h.writeUInt32BE(size >>> 0, 5);
  return h;
}

/** Writes a frame header at `at`; returns the offset after it. */
export function putFrameHeader(out: Buffer, at: number, flags: number, size: number): number {
  if (size <= 0xff) {
    out[at] = flags;
    out[at + 1] = size;
    return at + 2;
  }
  out[at] = flags | FLAG_LONG;
  out.writeUInt32BE(Math.floor(size / 0x1_0000_0000), at + 1);
  out.writeUInt32BE(size >>> 0, at + 5);
  return at + 9;
}

export function headerSize(size: number): number {
  return size <= 0xff ? 2 : 9;
}

/** A command frame: name-size, name, data. */
export function command(name: string, data: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.concat([Buffer.from([name.length]), Buffer.from(name, 'latin1'), data]);
  return Buffer.concat([frameHeader(FLAG_COMMAND, body.length), body]);
}

/** READY's metadata: property name-size (1 byte), name, value-size (4 bytes), value. */
export function ready(properties: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const v = Buffer.from(value, 'latin1');
    const h = Buffer.allocUnsafe(1 + name.length + 4);
    h[0] = name.length;
    h.write(name, 1, 'latin1');
    h.writeUInt32BE(v.length, 1 + name.length);
    parts.push(h, v);
  }
  return command('READY', Buffer.concat(parts));
}

export interface Command {
  readonly name: string;
  readonly data: Buffer;
}

export function parseCommand(body: Buffer): Command {
  if (body.length < 1 || body.length < 1 + body[0])
    throw new ZmtpError('frame', 'command frame shorter than its name');
  return { name: body.toString('latin1', 1, 1 + body[0]), data: body.subarray(1 + body[0]) };
}

/** READY's properties, names lower-cased (ZMTP compares them case-insensitively). */
export function parseMetadata(data: Buffer): Map<string, Buffer> {
  const props = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    const n = data[at];
    if (n === 0 || at + 1 + n + 4 > data.length)
      throw new ZmtpError('handshake', 'READY: truncated property');
    const name = data.toString('latin1', at + 1, at + 1 + n).toLowerCase();
    const len = data.readUInt32BE(at + 1 + n);
    const v = at + 1 + n + 4;
    if (v + len > data.length)
      throw new ZmtpError('handshake', `READY: property ${name} runs past the command`);
    props.set(name, data.subarray(v, v + len));
    at = v + len;
  }
  return props;
}

/**
 * Splits a byte stream into frames. Every size is checked against `maxFrameSize` before any
 * allocation; a body cut across reads is collected into one buffer of its declared size (so a
 * 3 MB frame is copied once, not once per read). Bodies of frames that arrived whole are views
 * of the chunk they came in, or, with `copyViews` (chunks in a read buffer that is reused), copies.
 */
export class FrameDecoder {
  /** Header bytes of a frame cut across reads (at most 9). */
  private readonly head = Buffer.alloc(9);
  private headLen = 0;
  /** A body being collected, and how much of it is in. */
  private body: Buffer | null = null;
  private bodyFill = 0;
  private bodyFlags = 0;

  constructor(
    private readonly maxFrameSize: number,
    private readonly onFrame: (flags: number, body: Buffer) => void,
    private readonly copyViews = false,
  ) {}

  /** A body that arrived whole in `chunk`: a view of it, or a copy (small ones from Buffer's pool). */
  private whole(chunk: Buffer, start: number, end: number): Buffer {
    const v = chunk.subarray(start, end);
    return this.copyViews ? Buffer.from(v) : v;
  }

  push(chunk: Buffer): void {
    let at = 0;
    const end = chunk.length;
    if (this.body) {
      at = this.fillBody(chunk, 0);
      if (this.body) return;
    }
    if (this.headLen > 0) {
      at = this.fillHead(chunk, at);
      if (this.headLen > 0 || this.body) return;
    }
    const max = this.maxFrameSize;
    while (at < end) {
      const flags = chunk[at];
      if (flags & 0xf8)
        throw new ZmtpError('frame', `frame flags 0x${flags.toString(16)}: reserved bits set`);
      let size: number;
      let start: number;
      if (flags & FLAG_LONG) {
        if (at + 9 > end) break;
        const hi = chunk.readUInt32BE(at + 1);
        size = chunk.readUInt32BE(at + 5);
        if (hi !== 0 || size > max) throw oversized(hi, size, max);
        start = at + 9;
      } else {
        if (at + 2 > end) break;
        size = chunk[at + 1];
        if (size > max) throw oversized(0, size, max);
        start = at + 2;
      }
      if (start + size > end) {
        this.body = Buffer.allocUnsafe(size);
        this.bodyFlags = flags;
        this.bodyFill = 0;
        this.fillBody(chunk, start);
        return;
      }
      this.onFrame(flags, this.whole(chunk, start, start + size));
      at = start + size;
    }
    // A header cut across reads.
    chunk.copy(this.head, 0, at, end);
    this.headLen = end - at;
  }

  /** Frames still expected: the stream ended mid-frame if so. */
  get partial(): boolean {
    return this.body !== null || this.headLen > 0;
  }

  private fillBody(chunk: Buffer, at: number): number {
    const body = this.body!;
    const n = Math.min(body.length - this.bodyFill, chunk.length - at);
    chunk.copy(body, this.bodyFill, at, at + n);
    this.bodyFill += n;
    if (this.bodyFill < body.length) return at + n;
    this.body = null;
    this.onFrame(this.bodyFlags, body);
    return at + n;
  }

  /** Completes a cut header from `chunk`; returns where the body starts (headLen 0 then). */
  private fillHead(chunk: Buffer, at: number): number {
    const head = this.head;
    while (at < chunk.length) {
      head[this.headLen++] = chunk[at++];
      const flags = head[0];
      if (flags & 0xf8)
        throw new ZmtpError('frame', `frame flags 0x${flags.toString(16)}: reserved bits set`);
      const need = flags & FLAG_LONG ? 9 : 2;
      if (this.headLen < need) continue;
      const hi = need === 9 ? head.readUInt32BE(1) : 0;
      const size = need === 9 ? head.readUInt32BE(5) : head[1];
      if (hi !== 0 || size > this.maxFrameSize) throw oversized(hi, size, this.maxFrameSize);
      this.headLen = 0;
      if (at + size <= chunk.length) {
        this.onFrame(flags, this.whole(chunk, at, at + size));
        return at + size;
      }
      this.body = Buffer.allocUnsafe(size);
      this.bodyFlags = flags;
      this.bodyFill = 0;
      return this.fillBody(chunk, at);
    }
    return at;
  }
}

function oversized(hi: number, lo: number, max: number): ZmtpError {
  const size = hi * 0x1_0000_0000 + lo;
  return new ZmtpError('oversized', `frame of ${size} bytes over the limit of ${max}`);
}
