/**
 * Entries numbered 0, 1, 2, ... in the order added, found by the first 48 bits of a txid (the
 * txid table's prefix): an open-addressing hash table in typed arrays. Entries sharing a
 * prefix are chained newest first; callers confirm the full txid.
 *
 * Why not a Map: a batch keeps one entry per tx until its commit, and a Map of 48-bit number
 * keys holds a heap number and a table slot per entry that every young-generation collection
 * of the batch copies (docs/performance.md, "Indexing"). These arrays are a few objects.
 */
export class PrefixTable {
  /** Per slot: 1 + the newest entry with the slot's prefix; 0 when free. */
  private slots: Int32Array;
  private mask: number;
  /** Prefixes in use (occupied slots). */
  private used = 0;
  /** Per entry: the prefix (bytes 0-3 little-endian, bytes 4-5) and the previous entry with it. */
  private k0: Uint32Array;
  private k1: Uint16Array;
  private prevOf: Int32Array;
  /** Entries added. */
  count = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < 2 * capacity) n *= 2;
    this.slots = new Int32Array(n);
    this.mask = n - 1;
    this.k0 = new Uint32Array(capacity);
    this.k1 = new Uint16Array(capacity);
    this.prevOf = new Int32Array(capacity);
  }

  /** Forgets every entry (keeps the arrays). */
  clear(): void {
    this.slots.fill(0);
    this.used = 0;
    this.count = 0;
  }

  /** The newest entry whose prefix is t[at..at+6), or -1. */
  find(t: Uint8Array, at = 0): number {
    const a = (t[at] | (t[at + 1] << 8) | (t[at + 2] << 16) | (t[at + 3] << 24)) >>> 0;
    const b = t[at + 4] | (t[at + 5] << 8);
    const slots = this.slots;
    for (let s = slot(a, b, this.mask); ; s = (s + 1) & this.mask) {
      const e = slots[s] - 1;
      if (e < 0) return -1;
      if (this.k0[e] === a && this.k1[e] === b) return e;
    }
  }

  /** The entry added before `e` with the same prefix, or -1. */
  prev(e: number): number {
    return this.prevOf[e];
  }

  /** Adds an entry for the prefix t[at..at+6); returns its number. */
  add(t: Uint8Array, at = 0): number {
    const a = (t[at] | (t[at + 1] << 8) | (t[at + 2] << 16) | (t[at + 3] << 24)) >>> 0;
    const b = t[at + 4] | (t[at + 5] << 8);
    const e = this.count;
    if (e === this.k0.length) this.growEntries();
    if (2 * (this.used + 1) > this.slots.length) this.growSlots();
    this.k0[e] = a;
    this.k1[e] = b;
    const slots = this.slots;
    let s = slot(a, b, this.mask);
    for (; ; s = (s + 1) & this.mask) {
      const h = slots[s] - 1;
      if (h < 0) {
        this.prevOf[e] = -1;
        this.used++;
        break;
      }
      if (this.k0[h] === a && this.k1[h] === b) {
        this.prevOf[e] = h;
        break;
      }
    }
    slots[s] = e + 1;
    this.count = e + 1;
    return e;
  }

  private growEntries(): void {
    const n = 2 * this.k0.length;
    const k0 = new Uint32Array(n);
    const k1 = new Uint16Array(n);
    const prevOf = new Int32Array(n);
    k0.set(this.k0);
    k1.set(this.k1);
    prevOf.set(this.prevOf);
    this.k0 = k0;
    this.k1 = k1;
    this.prevOf = prevOf;
  }

  private growSlots(): void {
    const old = this.slots;
    const slots = new Int32Array(2 * old.length);
    const mask = slots.length - 1;
    for (let i = 0; i < old.length; i++) {
      const e = old[i] - 1;
      if (e < 0) continue;
      let s = slot(this.k0[e], this.k1[e], mask);
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** Txids are uniform: the low bits of the first word would do; the mix guards crafted ones. */
function slot(a: number, b: number, mask: number): number {
  return (Math.imul(a ^ (b << 7), 0x9e3779b1) >>> 8) & mask;
}

/** a[i..i+32) equals b[j..j+32): full txids, compared without views. */
export function sameHash(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  for (let k = 0; k < 32; k++) if (a[i + k] !== b[j + k]) return false;
  return true;
}

/**
 * In a table whose entry e is the tx with txid txids[32e..32e+32) (a block's txs, added in
 * order), the newest entry whose full txid is t[at..at+32), or -1.
 */
export function findTxid(table: PrefixTable, txids: Uint8Array, t: Uint8Array, at: number): number {
  for (let e = table.find(t, at); e >= 0; e = table.prev(e)) if (sameHash(txids, 32 * e, t, at)) return e;
  return -1;
}
