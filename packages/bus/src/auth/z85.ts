import { ValueError } from '@lnpbp/bitcoin/errors';

/** Z85 (ZeroMQ RFC 32), the text form ZeroMQ uses for Curve keys. */
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new ValueError('z85', 'input length must be a multiple of 4');
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let v = ((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]) >>> 0;
    const chunk = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chunk[j] = ALPHABET[v % 85];
      v = Math.floor(v / 85);
    }
    out += chunk.join('');
  }
  return out;
}

export function z85Decode(s: string, what = 'z85'): Uint8Array {
  if (s.length % 5 !== 0) throw new ValueError(what, 'length must be a multiple of 5');
  const out = new Uint8Array((s.length / 5) * 4);
  for (let i = 0, o = 0; i < s.length; i += 5, o += 4) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const c = s.charCodeAt(i + j);
      const d = c < 128 ? DECODE[c] : -1;
      if (d < 0) throw new ValueError(what, `invalid character at ${i + j}`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new ValueError(what, `group at ${i} overflows 32 bits`);
    out[o] = v >>> 24;
    out[o + 1] = (v >>> 16) & 0xff;
    out[o + 2] = (v >>> 8) & 0xff;
    out[o + 3] = v & 0xff;
  }
  return out;
}
