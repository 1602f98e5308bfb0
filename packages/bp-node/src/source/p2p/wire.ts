import { equalBytes, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { sha256d } from '@lnpbp/bitcoin/hash/index';

/**
 * P2P message framing: magic(4) command(12, NUL-padded ASCII) length(u32 LE) checksum(4) payload.
 */
export const FRAME_HEADER_SIZE = 24;
/** Bitcoin's MAX_SIZE (32 MiB): no payload is allocated past this, whatever the length field says. */
export const MAX_PAYLOAD = 0x02000000;

export interface Message {
  command: string;
  payload: Uint8Array;
}

export function checksum(payload: Uint8Array): Uint8Array {
  return sha256d(payload).subarray(0, 4);
}

export function encodeMessage(
  magic: Uint8Array,
  command: string,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  if (command.length > 12 || !/^[a-z0-9]*$/.test(command)) {
    throw new RangeError(`bad P2P command "${command}"`);
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  out.set(magic, 0);
  for (let i = 0; i < command.length; i++) out[4 + i] = command.charCodeAt(i);
  new DataView(out.buffer).setUint32(16, payload.length, true);
  out.set(checksum(payload), 20);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/**
 * Streaming decoder: feed it socket chunks, take whole messages out. Faults (wrong magic, bad
 * command bytes, oversized length, checksum mismatch) throw DecodeError and leave the decoder
 * unusable: the connection is to be dropped, since framing cannot be recovered.
 */
export class MessageDecoder {
  private head = new Uint8Array(FRAME_HEADER_SIZE);
  private headLen = 0;
  private body: Uint8Array | null = null;
  private bodyLen = 0;
  private command = '';
  private sum = new Uint8Array(4);
  /** Bytes consumed so far, for error offsets. */
  private offset = 0;

  constructor(
    readonly magic: Uint8Array,
    readonly maxPayload = MAX_PAYLOAD,
  ) {}

  /** Bytes of a message received so far but not complete (0 between messages). */
  get partial(): number {
    return this.body ? FRAME_HEADER_SIZE + this.bodyLen : this.headLen;
  }

  push(chunk: Uint8Array): Message[] {
    const out: Message[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.body === null) {
        const n = Math.min(FRAME_HEADER_SIZE - this.headLen, chunk.length - i);
        this.head.set(chunk.subarray(i, i + n), this.headLen);
        this.headLen += n;
        i += n;
        if (this.headLen < FRAME_HEADER_SIZE) break;
        this.startBody();
      }
      const body = this.body as Uint8Array;
      const n = Math.min(body.length - this.bodyLen, chunk.length - i);
      body.set(chunk.subarray(i, i + n), this.bodyLen);
      this.bodyLen += n;
      i += n;
      if (this.bodyLen === body.length) out.push(this.finishBody());
    }
    return out;
  }

  private startBody(): void {
    const h = this.head;
    const at = this.offset;
    if (!equalBytes(h.subarray(0, 4), this.magic)) {
      throw new DecodeError(
        'bad-magic',
        'p2p.message',
        at,
        `got ${toHex(h.subarray(0, 4))}, expected ${toHex(this.magic)}`,
      );
    }
    let command = '';
    let ended = false;
    for (let k = 4; k < 16; k++) {
      const c = h[k];
      if (c === 0) ended = true;
      else if (ended || c < 0x20 || c > 0x7e) {
        throw new DecodeError(
          'invalid-value',
          'p2p.message.command',
          at + 4,
          'not NUL-padded printable ASCII',
        );
      } else command += String.fromCharCode(c);
    }
    const len = new DataView(h.buffer).getUint32(16, true);
    if (len > this.maxPayload) {
      throw new DecodeError(
        'oversized',
        `p2p.message(${command}).length`,
        at + 16,
        `${len} > ${this.maxPayload}`,
      );
    }
    this.command = command;
    this.sum.set(h.subarray(20, 24));
    this.body = new Uint8Array(len);
    this.bodyLen = 0;
  }

  private finishBody(): Message {
    const payload = this.body as Uint8Array;
    if (!equalBytes(checksum(payload), this.sum)) {
      throw new DecodeError('bad-checksum', `p2p.message(${this.command})`, this.offset);
    }
    this.offset += FRAME_HEADER_SIZE + payload.length;
    this.body = null;
    this.headLen = 0;
    return { command: this.command, payload };
  }
}
