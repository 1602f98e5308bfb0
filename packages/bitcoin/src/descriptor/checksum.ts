/** BIP-380 descriptor checksum (8 characters, a BCH code over the descriptor's character set). */
const INPUT_CHARSET =
  '0123456789()[],\'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#"\\ ';
const CHECKSUM_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < INPUT_CHARSET.length; i++) INDEX[INPUT_CHARSET.charCodeAt(i)] = i;

function polymod(c: bigint, val: number): bigint {
  const c0 = c >> 35n;
  c = ((c & 0x7ffffffffn) << 5n) ^ BigInt(val);
  if (c0 & 1n) c ^= 0xf5dee51989n;
  if (c0 & 2n) c ^= 0xa9fdca3312n;
  if (c0 & 4n) c ^= 0x1bab10e32dn;
  if (c0 & 8n) c ^= 0x3706b1677an;
  if (c0 & 16n) c ^= 0x644d626ffdn;
  return c;
}

/** Position of the first character outside the descriptor character set, or -1. */
export function invalidCharPosition(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code >= 128 || INDEX[code] < 0) return i;
  }
  return -1;
}

/** Checksum of a descriptor body (without '#'); null when a character is outside the set. */
export function descriptorChecksum(s: string): string | null {
  let c = 1n;
  let cls = 0;
  let clscount = 0;
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const pos = code < 128 ? INDEX[code] : -1;
    if (pos < 0) return null;
    c = polymod(c, pos & 31);
    cls = cls * 3 + (pos >> 5);
    if (++clscount === 3) {
      c = polymod(c, cls);
      cls = 0;
      clscount = 0;
    }
  }
  if (clscount > 0) c = polymod(c, cls);
  for (let j = 0; j < 8; j++) c = polymod(c, 0);
  c ^= 1n;
  let out = '';
  for (let j = 0; j < 8; j++) out += CHECKSUM_CHARSET[Number((c >> BigInt(5 * (7 - j))) & 31n)];
  return out;
}

/** Appends '#checksum'. */
export function addChecksum(s: string): string {
  const c = descriptorChecksum(s);
  if (c === null) throw new Error('descriptor has characters outside the BIP-380 set');
  return `${s}#${c}`;
}
