import { DecodeError, ValueError } from '../errors.ts';

/**
 * CScriptNum: little-endian sign-magnitude integers as script arithmetic sees them. Values are JS
 * numbers: consensus caps operands at 4 bytes (5 for CLTV/CSV), far inside 2^53.
 */

/** Minimal encoding of n (empty for 0), as Core's CScriptNum::serialize. |n| must be < 2^48. */
export function encodeScriptNum(n: number | bigint): Uint8Array {
  let v = typeof n === 'bigint' ? Number(n) : n;
  if (!Number.isSafeInteger(v) || Math.abs(v) >= 2 ** 48) {
    throw new ValueError('script number', `${n} is not an integer below 2^48 in magnitude`);
  }
  if (v === 0) return new Uint8Array(0);
  const neg = v < 0;
  v = Math.abs(v);
  const out: number[] = [];
  while (v > 0) {
    out.push(v % 256);
    v = Math.floor(v / 256);
  }
  // The top bit is the sign: add a byte when the magnitude already uses it.
  if (out[out.length - 1] & 0x80) out.push(neg ? 0x80 : 0);
  else if (neg) out[out.length - 1] |= 0x80;
  return Uint8Array.from(out);
}

/** True when data is the shortest encoding of its value (Core's fRequireMinimal check). */
export function isMinimalScriptNum(data: Uint8Array): boolean {
  const n = data.length;
  if (n === 0) return true;
  // A last byte of 0x00/0x80 is only needed when the byte before it has its top bit set.
  if ((data[n - 1] & 0x7f) === 0) return n > 1 && (data[n - 2] & 0x80) !== 0;
  return true;
}

export interface ScriptNumOptions {
  /** Largest accepted encoding in bytes (Core: 4 for arithmetic, 5 for lock times). Default 4, max 6. */
  maxSize?: number;
  /** Refuse non-minimal encodings (SCRIPT_VERIFY_MINIMALDATA). Default false. */
  minimal?: boolean;
}

/** Decodes a CScriptNum. Throws DecodeError when too long or (with `minimal`) not minimal. */
export function decodeScriptNum(data: Uint8Array, opts: ScriptNumOptions = {}): number {
  const maxSize = opts.maxSize ?? 4;
  if (maxSize > 6) throw new ValueError('script number', 'maxSize above 6 bytes is not supported');
  if (data.length > maxSize) {
    throw new DecodeError('oversized', 'script number', 0, `${data.length} bytes, max ${maxSize}`);
  }
  if (opts.minimal && !isMinimalScriptNum(data)) {
    throw new DecodeError('non-canonical', 'script number', data.length - 1, 'not minimally encoded');
  }
  if (data.length === 0) return 0;
  let v = 0;
  for (let i = data.length - 1; i >= 0; i--) v = v * 256 + (i === data.length - 1 ? data[i] & 0x7f : data[i]);
  // 0x80 is negative zero: report it as 0, not -0.
  return data[data.length - 1] & 0x80 && v !== 0 ? -v : v;
}
