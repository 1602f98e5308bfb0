import { sha256 } from '@noble/hashes/sha2.js';
import { base58 } from '@scure/base';
import { DecodeError } from '../errors.ts';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Longest base58 text we decode: decoding is quadratic, and no address or WIF key comes near. */
export const BASE58_MAX_LENGTH = 512;

export function base58Encode(data: Uint8Array): string {
  return base58.encode(data);
}

/** Decodes base58 (Bitcoin alphabet). Throws DecodeError naming the first bad character. */
export function base58Decode(s: string, what = 'base58'): Uint8Array {
  if (s.length > BASE58_MAX_LENGTH) {
    throw new DecodeError(
      'oversized',
      what,
      BASE58_MAX_LENGTH,
      `${s.length} characters, max ${BASE58_MAX_LENGTH}`,
    );
  }
  for (let i = 0; i < s.length; i++) {
    if (!ALPHABET.includes(s[i]))
      throw new DecodeError('invalid-value', what, i, `"${s[i]}" is not a base58 character`);
  }
  return base58.decode(s);
}

function checksum(payload: Uint8Array): Uint8Array {
  return sha256(sha256(payload)).subarray(0, 4);
}

export function base58checkEncode(payload: Uint8Array): string {
  const out = new Uint8Array(payload.length + 4);
  out.set(payload);
  out.set(checksum(payload), payload.length);
  return base58.encode(out);
}

/** Decodes base58check and returns the payload without its 4-byte checksum. */
export function base58checkDecode(s: string, what = 'base58check'): Uint8Array {
  const raw = base58Decode(s, what);
  if (raw.length < 4) throw new DecodeError('truncated', what, 0, 'shorter than the 4-byte checksum');
  const payload = raw.subarray(0, raw.length - 4);
  const c = checksum(payload);
  for (let i = 0; i < 4; i++) {
    if (c[i] !== raw[payload.length + i])
      throw new DecodeError('bad-checksum', what, 0, 'base58check checksum mismatch');
  }
  return payload;
}
