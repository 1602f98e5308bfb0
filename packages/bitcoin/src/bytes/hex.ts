import { DecodeError } from '../errors.ts';

const HEX = '0123456789abcdef';
const TABLE: string[] = Array.from({ length: 256 }, (_, i) => HEX[i >> 4] + HEX[i & 15]);

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += TABLE[b[i]];
  return s;
}

/** Parses hex (either case). Errors name the offending character position. */
export function fromHex(s: string, what = 'hex'): Uint8Array {
  if (s.length % 2 !== 0) throw new DecodeError('bad-hex', what, s.length, 'odd number of hex digits');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(s.charCodeAt(2 * i));
    const lo = nibble(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) {
      throw new DecodeError('bad-hex', what, hi < 0 ? 2 * i : 2 * i + 1, 'not a hex digit');
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Hashes are shown byte-reversed (Bitcoin's display order). */
export function toHexReversed(b: Uint8Array): string {
  let s = '';
  for (let i = b.length - 1; i >= 0; i--) s += TABLE[b[i]];
  return s;
}

export function fromHexReversed(s: string, what = 'hash'): Uint8Array {
  return fromHex(s, what).reverse();
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
