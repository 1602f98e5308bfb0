/**
 * Light walks over a stored tx's bytes that find one input or output without parsing the rest
 * or allocating. The bytes come from blocks.dat (verified when their block was connected), but
 * every step is still bounds-checked: a walk that runs off the end answers -1, never garbage.
 */

/** Offset just past the compactSize read by the last `skipVarint`, and its value. */
let varValue = 0;

/** Reads the compactSize at `p`; returns the offset after it (-1 past the end). */
function skipVarint(raw: Uint8Array, p: number): number {
  if (p >= raw.length) return -1;
  const b = raw[p];
  if (b < 0xfd) {
    varValue = b;
    return p + 1;
  }
  if (b === 0xfd) {
    if (p + 3 > raw.length) return -1;
    varValue = raw[p + 1] | (raw[p + 2] << 8);
    return p + 3;
  }
  if (b === 0xfe) {
    if (p + 5 > raw.length) return -1;
    varValue = (raw[p + 1] | (raw[p + 2] << 8) | (raw[p + 3] << 16) | (raw[p + 4] << 24)) >>> 0;
    return p + 5;
  }
  // 0xff: a 64-bit count no tx can hold.
  return -1;
}

/** Offset of the input count (after version and the segwit marker/flag). */
function inputsStart(raw: Uint8Array): number {
  if (raw.length < 10) return -1;
  return raw[4] === 0 && raw[5] === 1 ? 6 : 4;
}

/** Offset of input `vin`'s outpoint (prev txid 32 | vout u32 LE), or -1. */
export function inputAt(raw: Uint8Array, vin: number): number {
  const p = skipVarint(raw, inputsStart(raw));
  if (p < 0 || vin < 0 || vin >= varValue) return -1;
  const q = skipInputs(raw, p, vin);
  return q >= 0 && q + 36 <= raw.length ? q : -1;
}

/** Offset after `n` inputs starting at `p` (outpoint 36 | script | sequence 4), or -1. */
function skipInputs(raw: Uint8Array, p: number, n: number): number {
  for (let i = 0; i < n; i++) {
    p = skipVarint(raw, p + 36);
    if (p < 0) return -1;
    p += varValue + 4;
  }
  return p;
}

/** Offset of the output count (past every input), or -1. */
function outputsStart(raw: Uint8Array): number {
  const p = skipVarint(raw, inputsStart(raw));
  return p < 0 ? -1 : skipInputs(raw, p, varValue);
}

/** Offset of output `vout`'s value (u64 LE, then compactSize script length | script), or -1. */
export function outputAt(raw: Uint8Array, vout: number): number {
  let p = skipVarint(raw, outputsStart(raw));
  if (p < 0 || vout < 0 || vout >= varValue) return -1;
  for (let i = 0; i < vout; i++) {
    p = skipVarint(raw, p + 8);
    if (p < 0) return -1;
    p += varValue;
  }
  return p + 9 <= raw.length ? p : -1;
}

/** Number of outputs, or -1. */
export function outputCount(raw: Uint8Array): number {
  return skipVarint(raw, outputsStart(raw)) < 0 ? -1 : varValue;
}

/** The u64 LE value at `off` (an output's value). */
export function valueAt(raw: Uint8Array, off: number): bigint {
  const lo = (raw[off] | (raw[off + 1] << 8) | (raw[off + 2] << 16) | (raw[off + 3] << 24)) >>> 0;
  const hi = (raw[off + 4] | (raw[off + 5] << 8) | (raw[off + 6] << 16) | (raw[off + 7] << 24)) >>> 0;
  // Valid values fit 51 bits (21e14 sat): one Number, one BigInt.
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** The scriptPubKey of the output whose value is at `off` (a view into raw), or null. */
export function scriptAt(raw: Uint8Array, off: number): Uint8Array | null {
  const p = skipVarint(raw, off + 8);
  if (p < 0 || p + varValue > raw.length) return null;
  return raw.subarray(p, p + varValue);
}

/** The vout of the outpoint at `off` (u32 LE). */
export function voutAt(raw: Uint8Array, off: number): number {
  return (raw[off + 32] | (raw[off + 33] << 8) | (raw[off + 34] << 16) | (raw[off + 35] << 24)) >>> 0;
}
