import { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import { ByteWriter } from '@lnpbp/bitcoin/bytes/writer';
import { DecodeError } from '@lnpbp/bitcoin/errors';

/** Payload codecs for the P2P messages this client speaks. */

export const PROTOCOL_VERSION = 70016;
/** BIP130 sendheaders needs 70012; older peers are refused. */
export const MIN_PEER_VERSION = 70012;
/** BIP339: wtxidrelay is sent only to peers at or above this version. */
export const WTXID_RELAY_VERSION = 70016;

export const NODE_NETWORK = 1n;
export const NODE_BLOOM = 4n;
export const NODE_WITNESS = 8n;

export const MSG_TX = 1;
export const MSG_BLOCK = 2;
export const MSG_WTX = 5;
export const MSG_WITNESS_FLAG = 0x40000000;
export const MSG_WITNESS_TX = MSG_TX | MSG_WITNESS_FLAG;
export const MSG_WITNESS_BLOCK = MSG_BLOCK | MSG_WITNESS_FLAG;

/** Core's MAX_INV_SZ and MAX_HEADERS_RESULTS. */
export const MAX_INV = 50_000;
export const MAX_HEADERS = 2_000;
const MAX_LOCATOR = 101;

export interface VersionMessage {
  version: number;
  services: bigint;
  timestamp: bigint;
  nonce: bigint;
  userAgent: string;
  startHeight: number;
  relay: boolean;
}

export function encodeVersion(v: VersionMessage, remote: { host: string; port: number }): Uint8Array {
  const w = new ByteWriter(128);
  w.i32le(v.version).u64le(v.services).u64le(v.timestamp);
  writeNetAddr(w, 0n, remote.host, remote.port);
  writeNetAddr(w, v.services, '0.0.0.0', 0);
  w.u64le(v.nonce);
  w.varBytes(new TextEncoder().encode(v.userAgent));
  w.i32le(v.startHeight);
  w.u8(v.relay ? 1 : 0);
  return w.finish();
}

function writeNetAddr(w: ByteWriter, services: bigint, host: string, port: number): void {
  w.u64le(services);
  const ip = new Uint8Array(16);
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (m) {
    ip[10] = 0xff;
    ip[11] = 0xff;
    for (let i = 0; i < 4; i++) ip[12 + i] = Number(m[i + 1]) & 0xff;
  }
  w.bytes(ip);
  w.u8((port >> 8) & 0xff).u8(port & 0xff);
}

export function decodeVersion(p: Uint8Array): VersionMessage {
  const r = new ByteReader(p);
  const version = r.i32le('version.version');
  const services = r.u64le('version.services');
  const timestamp = r.u64le('version.timestamp');
  r.skip(26, 'version.addr_recv');
  r.skip(26, 'version.addr_from');
  const nonce = r.u64le('version.nonce');
  const ua = r.varBytes('version.user_agent');
  if (ua.length > 256) throw new DecodeError('oversized', 'version.user_agent', r.pos, `${ua.length} bytes`);
  const userAgent = new TextDecoder().decode(ua);
  const startHeight = r.i32le('version.start_height');
  const relay = r.remaining > 0 ? r.u8('version.relay') !== 0 : true;
  return { version, services, timestamp, nonce, userAgent, startHeight, relay };
}

export function encodeU64(n: bigint): Uint8Array {
  return new ByteWriter(8).u64le(n).finish();
}

export function decodeU64(p: Uint8Array, what: string): bigint {
  const r = new ByteReader(p);
  return r.u64le(what);
}

export interface InvItem {
  type: number;
  hash: Uint8Array;
}

export function encodeInv(items: InvItem[]): Uint8Array {
  const w = new ByteWriter(9 + items.length * 36);
  w.compactSize(items.length);
  for (const it of items) w.u32le(it.type).bytes(it.hash);
  return w.finish();
}

/** inv, getdata and notfound share this payload. */
export function decodeInv(p: Uint8Array, what = 'inv'): InvItem[] {
  const r = new ByteReader(p);
  const n = r.count(`${what}.count`, 36);
  if (n > MAX_INV) throw new DecodeError('oversized', `${what}.count`, 0, `${n} > ${MAX_INV}`);
  const out: InvItem[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { type: r.u32le(), hash: r.bytes(32) };
  r.expectEnd(what);
  return out;
}

export function encodeGetHeaders(locator: Uint8Array[], stop: Uint8Array = new Uint8Array(32)): Uint8Array {
  if (locator.length > MAX_LOCATOR) throw new RangeError('locator too long');
  const w = new ByteWriter(5 + 32 * (locator.length + 1) + 4);
  w.u32le(PROTOCOL_VERSION).compactSize(locator.length);
  for (const h of locator) w.bytes(h);
  w.bytes(stop);
  return w.finish();
}

/** A headers payload: 80-byte headers each followed by a tx count that must be 0. */
export function decodeHeaders(p: Uint8Array): Uint8Array[] {
  const r = new ByteReader(p);
  const n = r.count('headers.count', 81);
  if (n > MAX_HEADERS) throw new DecodeError('oversized', 'headers.count', 0, `${n} > ${MAX_HEADERS}`);
  const out: Uint8Array[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = r.bytes(80, `headers[${i}]`);
    const txs = r.compactSize(`headers[${i}].txCount`);
    if (txs !== 0) throw new DecodeError('invalid-value', `headers[${i}].txCount`, r.pos, 'must be 0');
  }
  r.expectEnd('headers');
  return out;
}

export function encodeHeaders(headers: Uint8Array[]): Uint8Array {
  const w = new ByteWriter(3 + headers.length * 81);
  w.compactSize(headers.length);
  for (const h of headers) w.bytes(h).u8(0);
  return w.finish();
}

/** BIP61 reject (bcoin still sends it): message, code, reason and, for tx/block, the hash. */
export function decodeReject(p: Uint8Array): {
  message: string;
  code: number;
  reason: string;
  hash?: Uint8Array;
} {
  const r = new ByteReader(p);
  const td = new TextDecoder();
  const message = td.decode(r.varBytes('reject.message'));
  const code = r.u8('reject.code');
  const reason = td.decode(r.varBytes('reject.reason'));
  const hash = r.remaining >= 32 ? r.bytes(32) : undefined;
  return { message, code, reason, hash };
}
