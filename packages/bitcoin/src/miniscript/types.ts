/**
 * Miniscript type system (basic types B V K W and properties z o n d u e f s m x g h i j k),
 * transcribed from Bitcoin Core's miniscript.cpp ComputeType so that validity, malleability,
 * signature need and timelock mixing agree with Core on its own vectors.
 */
import type { Fragment, MsContext } from './node.ts';

const LETTERS = 'BVKWzondufesmxghijk';
const BIT: Record<string, number> = {};
for (let i = 0; i < LETTERS.length; i++) BIT[LETTERS[i]] = 1 << i;

/** Bit set for the letters in s. */
export function T(s: string): number {
  let v = 0;
  for (const c of s) v |= BIT[c];
  return v;
}

/** a has every property of b. */
export function has(a: number, b: number): boolean {
  return (a & b) === b;
}

export function typeString(t: number): string {
  let s = '';
  for (let i = 0; i < LETTERS.length; i++) if (t & (1 << i)) s += LETTERS[i];
  return s;
}

const BASE = T('BVKW');
const GHIJ = T('ghij');
const GHIJK = T('ghijk');

function iff(cond: boolean, t: number): number {
  return cond ? t : 0;
}

function noMix(x: number, y: number): boolean {
  return !(
    (has(x, T('g')) && has(y, T('h'))) ||
    (has(x, T('h')) && has(y, T('g'))) ||
    (has(x, T('i')) && has(y, T('j'))) ||
    (has(x, T('j')) && has(y, T('i')))
  );
}

/** Core's SanitizeType: a type without exactly one basic type is no type (0). */
function sanitize(t: number): number {
  const base = t & BASE;
  if (base === 0 || (base & (base - 1)) !== 0) return 0;
  return t;
}

/** Type of a fragment given its children's types; 0 when the combination is invalid. */
export function computeType(
  frag: Fragment,
  k: number,
  nKeys: number,
  subs: number[],
  ctx: MsContext,
): number {
  const x = subs[0] ?? 0;
  const y = subs[1] ?? 0;
  const z = subs[2] ?? 0;
  for (const s of subs) if (s === 0) return 0;
  const tap = ctx === 'tapscript';
  let t: number;
  switch (frag) {
    case 'just_0':
      t = T('Bzudemsxk');
      break;
    case 'just_1':
      t = T('Bzufmxk');
      break;
    case 'pk_k':
      t = T('Konudemsxk');
      break;
    case 'pk_h':
      t = T('Knudemsxk');
      break;
    case 'older':
      t = T('Bzfmxk') | (k & 0x400000 ? T('g') : T('h'));
      break;
    case 'after':
      t = T('Bzfmxk') | (k >= 500000000 ? T('i') : T('j'));
      break;
    case 'sha256':
    case 'ripemd160':
    case 'hash256':
    case 'hash160':
      t = T('Bonudmk');
      break;
    case 'multi':
      if (tap) return 0;
      if (k < 1 || k > nKeys || nKeys > 20) return 0;
      t = T('Bnudemsk');
      break;
    case 'multi_a':
      if (!tap) return 0;
      if (k < 1 || k > nKeys || nKeys > 999) return 0;
      t = T('Budemsk');
      break;
    case 'a':
      t = iff(has(x, T('B')), T('W')) | (x & GHIJK) | (x & T('udfems')) | T('x');
      break;
    case 's':
      t = iff(has(x, T('Bo')), T('W')) | (x & GHIJK) | (x & T('udfemsx'));
      break;
    case 'c':
      t = iff(has(x, T('K')), T('B')) | (x & GHIJK) | (x & T('ondfem')) | T('us');
      break;
    case 'd':
      t =
        iff(has(x, T('Vz')), T('B')) |
        iff(has(x, T('z')), T('o')) |
        iff(has(x, T('f')), T('e')) |
        (x & GHIJK) |
        (x & T('ms')) |
        iff(tap, T('u')) |
        T('ndx');
      break;
    case 'v':
      t = iff(has(x, T('B')), T('V')) | (x & GHIJK) | (x & T('zonms')) | T('fx');
      break;
    case 'j':
      t =
        iff(has(x, T('Bn')), T('B')) | iff(has(x, T('f')), T('e')) | (x & GHIJK) | (x & T('oums')) | T('ndx');
      break;
    case 'n':
      t = (x & GHIJK) | (x & T('Bzondfems')) | T('ux');
      break;
    case 'and_v':
      t =
        iff(has(x, T('V')), y & T('KVB')) |
        (x & T('n')) |
        iff(has(x, T('z')), y & T('n')) |
        iff(has(x | y, T('z')), (x | y) & T('o')) |
        (x & y & T('dmz')) |
        ((x | y) & T('s')) |
        iff(has(y, T('f')) || has(x, T('s')), T('f')) |
        (y & T('ux')) |
        ((x | y) & GHIJ) |
        iff(has(x & y, T('k')) && noMix(x, y), T('k'));
      break;
    case 'and_b':
      t =
        iff(has(y, T('W')), x & T('B')) |
        iff(has(x | y, T('z')), (x | y) & T('o')) |
        (x & T('n')) |
        iff(has(x, T('z')), y & T('n')) |
        iff(has(x & y, T('s')), x & y & T('e')) |
        (x & y & T('dzm')) |
        iff(has(x & y, T('f')) || has(x, T('sf')) || has(y, T('sf')), T('f')) |
        ((x | y) & T('s')) |
        T('ux') |
        ((x | y) & GHIJ) |
        iff(has(x & y, T('k')) && noMix(x, y), T('k'));
      break;
    case 'or_b':
      t =
        iff(has(x, T('Bd')) && has(y, T('Wd')), T('B')) |
        iff(has(x | y, T('z')), (x | y) & T('o')) |
        iff(has(x | y, T('s')) && has(x & y, T('e')), x & y & T('m')) |
        (x & y & T('zse')) |
        T('dux') |
        ((x | y) & GHIJ) |
        (x & y & T('k'));
      break;
    case 'or_d':
      t =
        iff(has(x, T('Bdu')), y & T('B')) |
        iff(has(y, T('z')), x & T('o')) |
        iff(has(x, T('e')) && has(x | y, T('s')), x & y & T('m')) |
        (x & y & T('zes')) |
        (y & T('ufd')) |
        T('x') |
        ((x | y) & GHIJ) |
        (x & y & T('k'));
      break;
    case 'or_c':
      t =
        iff(has(x, T('Bdu')), y & T('V')) |
        iff(has(y, T('z')), x & T('o')) |
        iff(has(x, T('e')) && has(x | y, T('s')), x & y & T('m')) |
        (x & y & T('zs')) |
        T('fx') |
        ((x | y) & GHIJ) |
        (x & y & T('k'));
      break;
    case 'or_i':
      t =
        (x & y & T('VBKufs')) |
        iff(has(x & y, T('z')), T('o')) |
        iff(has(x | y, T('f')), (x | y) & T('e')) |
        iff(has(x | y, T('s')), x & y & T('m')) |
        ((x | y) & T('d')) |
        T('x') |
        ((x | y) & GHIJ) |
        (x & y & T('k'));
      break;
    case 'andor':
      t =
        iff(has(x, T('Bdu')), y & z & T('BKV')) |
        (x & y & z & T('z')) |
        iff(has(x | (y & z), T('z')), (x | (y & z)) & T('o')) |
        (y & z & T('u')) |
        iff(has(x, T('s')) || has(y, T('f')), z & T('f')) |
        (z & T('d')) |
        iff(has(x, T('s')) || has(y, T('f')), z & T('e')) |
        iff(has(x, T('e')) && has(x | y | z, T('s')), x & y & z & T('m')) |
        (z & (x | y) & T('s')) |
        T('x') |
        ((x | y | z) & GHIJ) |
        iff(has(x & y & z, T('k')) && noMix(x, y), T('k'));
      break;
    case 'thresh': {
      const n = subs.length;
      if (k < 1 || k > n) return 0;
      let allE = true;
      let allM = true;
      let args = 0;
      let numS = 0;
      let acc = T('k');
      for (let i = 0; i < n; i++) {
        const s = subs[i];
        if (!has(s, i ? T('Wdu') : T('Bdu'))) return 0;
        if (!has(s, T('e'))) allE = false;
        if (!has(s, T('m'))) allM = false;
        if (has(s, T('s'))) numS++;
        args += has(s, T('z')) ? 0 : has(s, T('o')) ? 1 : 2;
        acc = ((acc | s) & GHIJ) | iff(has(acc & s, T('k')) && (k <= 1 || noMix(acc, s)), T('k'));
      }
      t =
        T('Bdu') |
        iff(args === 0, T('z')) |
        iff(args === 1, T('o')) |
        iff(allE && numS === n, T('e')) |
        iff(allE && allM && numS >= n - k, T('m')) |
        iff(numS >= n - k + 1, T('s')) |
        acc;
      break;
    }
  }
  return sanitize(t);
}

export const TYPE = { T, has };
