/**
 * Fixed-width rows collected in one growing buffer, and their byte order: LSD radix sort over
 * 16-bit digits of a permutation (no comparator calls, no per-row objects). A batch writes its
 * rows in this order because lmdb-js inserts keys in order ~2-3x cheaper than random ones
 * (docs/performance.md, "Indexing").
 */
export class RowBuffer {
  buf: Uint8Array;
  count = 0;
  /**
   * Rows are pushed in ascending order of their bytes from `keyBytes` on (e.g. item ids pushed
   * in chain order after a random prefix), so sorting by the bytes before it, stably, sorts them
   * whole. Default: the whole row is the key.
   */
  keyBytes: number;

  constructor(
    readonly width: number,
    initialRows = 1024,
    keyBytes = width,
  ) {
    this.buf = new Uint8Array(width * initialRows);
    this.keyBytes = keyBytes;
  }

  /** Byte offset of a new row at the end (its bytes are the caller's to write). */
  push(): number {
    const at = this.count * this.width;
    if (at + this.width > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.count++;
    return at;
  }

  /** Row indices in ascending byte order of the rows (stable). */
  sortedOrder(): Uint32Array {
    return sortRows(this.buf, this.width, this.count, this.keyBytes);
  }

  /** Row indices in the order they were pushed. */
  pushedOrder(): Uint32Array {
    const o = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) o[i] = i;
    return o;
  }

  /** Copies row `i` into `out` (a reused row buffer of `width` bytes). */
  copyRow(i: number, out: Uint8Array): void {
    const b = this.buf;
    const w = this.width;
    for (let j = 0, at = i * w; j < w; j++) out[j] = b[at + j];
  }
}

let counts = new Uint32Array(65_536);

/**
 * Ascending order of `n` rows of `width` bytes in `buf` by their first `keyBytes` bytes, ties in
 * pushed order; LSD radix, 2 bytes a pass.
 */
export function sortRows(buf: Uint8Array, width: number, n: number, keyBytes = width): Uint32Array {
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 2) return order;
  if (counts.length < 65_536) counts = new Uint32Array(65_536);
  // From the last digit to the first; an odd key starts with its last byte alone.
  for (let d = keyBytes - 2; d > -2; d -= 2) {
    const one = d < 0; // the leading byte of an odd width
    const at = one ? 0 : d;
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const o = i * width + at;
      counts[one ? buf[o] : (buf[o] << 8) | buf[o + 1]]++;
    }
    // A digit every row shares orders nothing.
    const first = one ? buf[at] : (buf[at] << 8) | buf[at + 1];
    if (counts[first] === n) continue;
    let sum = 0;
    for (let v = 0; v < 65_536; v++) {
      const c = counts[v];
      counts[v] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const r = order[i];
      const o = r * width + at;
      next[counts[one ? buf[o] : (buf[o] << 8) | buf[o + 1]]++] = r;
    }
    const t = order;
    order = next;
    next = t;
  }
  return order;
}
