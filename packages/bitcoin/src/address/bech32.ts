import { bech32, bech32m } from '@scure/base';
import { AddressError } from './errors.ts';

export type Bech32Encoding = 'bech32' | 'bech32m';

export interface Bech32String {
  /** Lower case. */
  readonly hrp: string;
  /** 5-bit data values without the checksum. */
  readonly words: number[];
  /** Which checksum constant verified (BIP-173 bech32 or BIP-350 bech32m). */
  readonly encoding: Bech32Encoding;
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/** BIP-173 limit for segwit addresses and the strings of its test vectors. */
export const BECH32_MAX_LENGTH = 90;

/**
 * Decodes a bech32 or bech32m string (BIP-173/350 string rules: length <= 90, hrp of 1-83
 * characters in 33..126, one case, data from the charset, 6-character checksum). The structural
 * checks come first so the error names the actual fault; @scure/base verifies the checksum.
 */
export function decodeBech32(s: string, limit = BECH32_MAX_LENGTH): Bech32String {
  if (s.length > limit) throw new AddressError('bad-length', `${s.length} characters, max ${limit}`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 33 || c > 126) throw new AddressError('bad-character', `character code ${c} out of range`, i);
  }
  const lower = s.toLowerCase();
  if (lower !== s && s.toUpperCase() !== s) throw new AddressError('bad-character', 'mixed case');
  const sep = lower.lastIndexOf('1');
  if (sep < 1)
    throw new AddressError('bad-format', sep === 0 ? 'empty human-readable part' : 'no separator "1"');
  if (sep > 83) throw new AddressError('bad-length', 'human-readable part longer than 83 characters');
  for (let i = sep + 1; i < lower.length; i++) {
    if (!CHARSET.includes(lower[i]))
      throw new AddressError('bad-character', `"${s[i]}" is not a bech32 character`, i);
  }
  if (lower.length - sep - 1 < 6) throw new AddressError('bad-length', 'data part shorter than the checksum');
  const m = bech32.decodeUnsafe(lower, limit);
  if (m) return { hrp: m.prefix, words: m.words, encoding: 'bech32' };
  const mm = bech32m.decodeUnsafe(lower, limit);
  if (mm) return { hrp: mm.prefix, words: mm.words, encoding: 'bech32m' };
  throw new AddressError('bad-checksum', 'neither a bech32 nor a bech32m checksum');
}

export interface WitnessProgram {
  readonly version: number;
  readonly program: Uint8Array;
}

/**
 * Segwit address payload per BIP-173/350: version 0-16, program 2-40 bytes (20 or 32 for v0),
 * bech32 for v0 and bech32m for v1+. Does not check the hrp: the caller knows its network.
 */
export function decodeSegwit(s: string): Bech32String & WitnessProgram {
  const d = decodeBech32(s);
  if (d.words.length === 0) throw new AddressError('bad-length', 'empty data section');
  const version = d.words[0];
  if (version > 16) throw new AddressError('bad-version', `witness version ${version} above 16`);
  const program = bech32.fromWordsUnsafe(d.words.slice(1));
  if (!program) throw new AddressError('bad-padding', 'more than 4 padding bits, or non-zero padding');
  if (program.length < 2 || program.length > 40) {
    throw new AddressError('bad-length', `witness program of ${program.length} bytes (2-40 allowed)`);
  }
  if (version === 0 && program.length !== 20 && program.length !== 32) {
    throw new AddressError('bad-length', `version 0 program of ${program.length} bytes (20 or 32 allowed)`);
  }
  const want: Bech32Encoding = version === 0 ? 'bech32' : 'bech32m';
  if (d.encoding !== want) {
    throw new AddressError('bad-checksum', `witness version ${version} needs ${want}, found ${d.encoding}`);
  }
  return { ...d, version, program };
}

/** Encodes a segwit address: bech32 for version 0, bech32m for 1-16 (lower case). */
export function encodeSegwit(hrp: string, version: number, program: Uint8Array): string {
  const coder = version === 0 ? bech32 : bech32m;
  return coder.encode(hrp, [version, ...coder.toWords(program)], BECH32_MAX_LENGTH);
}
