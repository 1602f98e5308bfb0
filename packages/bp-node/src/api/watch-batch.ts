import { MAX_BATCH_ITEMS, WATCH_BATCH_BYTES } from './messages.ts';
import type { WatchSet } from './watch.ts';

/** Encoded sizes (see the `watchMatches` entry of messages.ts). */
const SPEND_BYTES = 32 + 4 + 32 + 4 + 8;
/** A script entry without its script's length prefix and bytes. */
const SCRIPT_FIXED = 32 + 1 + 4 + 8 + 8;

const varintSize = (n: number) => (n < 0xfd ? 1 : n <= 0xffff ? 3 : 5);

/** Some of one set's hits: `spN` spends from hit `sp`, `scN` script entries from hit `sc` (following `next`). */
interface Segment {
  set: WatchSet;
  sp: number;
  spN: number;
  sc: number;
  scN: number;
}

/**
 * The watch-set matches of one block or one mempool tx, collected and written straight into
 * `watchMatches` bodies, one per channel (cut into parts when above MAX_BATCH_ITEMS entries or
 * WATCH_BATCH_BYTES). A match is a few numbers pushed onto arrays and linked into its set's list
 * (per-set state lives in arrays indexed by the set's slot, reused from batch to batch): no
 * object per match, and no generic encoder walking one. The bytes are exactly what
 * `bpdMessages.encode('watchMatches', ...)` gives for the same content (the tests check it).
 */
export class WatchBatch {
  // Per hit.
  private readonly txA: Uint8Array[] = [];
  /** Spend: the spending txid; script: the script. */
  private readonly txB: Uint8Array[] = [];
  /** Spend: the watched vout; script: 0 funding, 1 spending. */
  private readonly n1: number[] = [];
  /** Spend: vin; script: vout (funding) or vin (spending). */
  private readonly n2: number[] = [];
  private readonly idHi: number[] = [];
  private readonly idLo: number[] = [];
  private readonly values: bigint[] = [];
  private readonly next: number[] = [];
  // Per set slot; `mark[slot] === gen` when the set has hits in this batch.
  private gen = 1;
  private mark = new Uint32Array(0);
  private spHead = new Int32Array(0);
  private spTail = new Int32Array(0);
  private spN = new Int32Array(0);
  private scHead = new Int32Array(0);
  private scTail = new Int32Array(0);
  private scN = new Int32Array(0);
  private scBytes = new Float64Array(0);
  private readonly touched: WatchSet[] = [];
  spends = 0;
  scripts = 0;

  /** Empties the batch for the next block or tx; `slots` bounds the slots of the sets to come. */
  reset(slots: number): void {
    if (slots > this.mark.length) {
      const n = Math.max(slots, this.mark.length * 2, 64);
      this.mark = new Uint32Array(n);
      this.spHead = new Int32Array(n);
      this.spTail = new Int32Array(n);
      this.spN = new Int32Array(n);
      this.scHead = new Int32Array(n);
      this.scTail = new Int32Array(n);
      this.scN = new Int32Array(n);
      this.scBytes = new Float64Array(n);
      this.gen = 1;
    } else if (++this.gen === 0xffffffff) {
      this.mark.fill(0);
      this.gen = 1;
    }
    this.touched.length = 0;
    this.txA.length = 0;
    this.txB.length = 0;
    this.n1.length = 0;
    this.n2.length = 0;
    this.idHi.length = 0;
    this.idLo.length = 0;
    this.values.length = 0;
    this.next.length = 0;
    this.spends = 0;
    this.scripts = 0;
  }

  get empty(): boolean {
    return this.touched.length === 0;
  }

  private hit(
    a: Uint8Array,
    b: Uint8Array,
    n1: number,
    n2: number,
    hi: number,
    lo: number,
    value: bigint,
  ): number {
    const h = this.txA.length;
    this.txA.push(a);
    this.txB.push(b);
    this.n1.push(n1);
    this.n2.push(n2);
    this.idHi.push(hi);
    this.idLo.push(lo);
    this.values.push(value);
    this.next.push(-1);
    return h;
  }

  private touch(set: WatchSet): number {
    const s = set.slot;
    if (this.mark[s] !== this.gen) {
      this.mark[s] = this.gen;
      this.spN[s] = 0;
      this.scN[s] = 0;
      this.scBytes[s] = 0;
      this.touched.push(set);
    }
    return s;
  }

  /** `spendingTxid`:`vin` spends the watched `txid`:`vout`; short id halves `hi`, `lo`. */
  spend(
    set: WatchSet,
    txid: Uint8Array,
    vout: number,
    spendingTxid: Uint8Array,
    vin: number,
    hi: number,
    lo: number,
  ): void {
    const s = this.touch(set);
    const h = this.hit(txid, spendingTxid, vout, vin, hi, lo, 0n);
    if (this.spN[s]++ === 0) this.spHead[s] = h;
    else this.next[this.spTail[s]] = h;
    this.spTail[s] = h;
    this.spends++;
  }

  /** `txid` funds (kind 0, index = vout) or spends from (kind 1, index = vin) `script`. */
  script(
    set: WatchSet,
    script: Uint8Array,
    txid: Uint8Array,
    kind: 0 | 1,
    index: number,
    value: bigint,
    hi: number,
    lo: number,
  ): void {
    const s = this.touch(set);
    const h = this.hit(txid, script, kind, index, hi, lo, value);
    if (this.scN[s]++ === 0) this.scHead[s] = h;
    else this.next[this.scTail[s]] = h;
    this.scTail[s] = h;
    this.scBytes[s] += varintSize(script.length) + script.length + SCRIPT_FIXED;
    this.scripts++;
  }

  private scriptEntrySize(h: number): number {
    const len = this.txB[h].length;
    return varintSize(len) + len + SCRIPT_FIXED;
  }

  /** The encoded `watchMatches` bodies: per channel, its parts in order (`more` on all but the last). */
  *bodies(block?: {
    height: number;
    hash: Uint8Array;
  }): Generator<{ channel: string; body: Uint8Array; more: boolean; sets: number }> {
    const byChannel = new Map<string, WatchSet[]>();
    for (const set of this.touched) {
      const list = byChannel.get(set.channel);
      if (list) list.push(set);
      else byChannel.set(set.channel, [set]);
    }
    for (const [channel, sets] of byChannel) {
      const header = varintSize(channel.length) + channel.length + (block ? 1 + 4 + 1 + 32 : 2) + 1 + 5;
      let part: Segment[] = [];
      let items = 0;
      let bytes = header;
      const out: Segment[][] = [];
      for (const set of sets) {
        const s = set.slot;
        let sp = this.spHead[s];
        let spLeft = this.spN[s];
        let sc = this.scHead[s];
        let scLeft = this.scN[s];
        // Whole sets while they fit, entry by entry otherwise.
        const whole = 1 + set.id.length + 6 + spLeft * SPEND_BYTES + this.scBytes[s];
        if (items + spLeft + scLeft <= MAX_BATCH_ITEMS && bytes + whole <= WATCH_BATCH_BYTES) {
          part.push({ set, sp, spN: spLeft, sc, scN: scLeft });
          items += spLeft + scLeft;
          bytes += whole;
          continue;
        }
        while (spLeft > 0 || scLeft > 0) {
          const segHeader = 1 + set.id.length + 6;
          const first = spLeft > 0 ? SPEND_BYTES : this.scriptEntrySize(sc);
          if (
            part.length > 0 &&
            (items >= MAX_BATCH_ITEMS || bytes + segHeader + first > WATCH_BATCH_BYTES)
          ) {
            out.push(part);
            part = [];
            items = 0;
            bytes = header;
          }
          const seg: Segment = { set, sp, spN: 0, sc, scN: 0 };
          bytes += segHeader;
          while (spLeft > 0 && items < MAX_BATCH_ITEMS && bytes + SPEND_BYTES <= WATCH_BATCH_BYTES) {
            seg.spN++;
            spLeft--;
            items++;
            bytes += SPEND_BYTES;
            sp = this.next[sp];
          }
          while (scLeft > 0 && items < MAX_BATCH_ITEMS) {
            const b = this.scriptEntrySize(sc);
            if (bytes + b > WATCH_BATCH_BYTES) break;
            seg.scN++;
            scLeft--;
            items++;
            bytes += b;
            sc = this.next[sc];
          }
          part.push(seg);
          if (spLeft > 0 || scLeft > 0) {
            out.push(part);
            part = [];
            items = 0;
            bytes = header;
          }
        }
      }
      if (part.length > 0) out.push(part);
      for (const [i, p] of out.entries()) {
        const more = i < out.length - 1;
        yield { channel, body: this.write(channel, p, more, block), more, sets: p.length };
      }
    }
  }

  private write(
    channel: string,
    segs: Segment[],
    more: boolean,
    block?: { height: number; hash: Uint8Array },
  ): Uint8Array {
    let size =
      varintSize(channel.length) +
      channel.length +
      (block ? 1 + 4 + 1 + 32 : 2) +
      1 +
      varintSize(segs.length);
    for (const g of segs) {
      size += varintSize(g.set.id.length) + g.set.id.length + varintSize(g.spN) + varintSize(g.scN);
      size += g.spN * SPEND_BYTES;
      for (let h = g.sc, n = 0; n < g.scN; n++, h = this.next[h]) size += this.scriptEntrySize(h);
    }
    const buf = new Uint8Array(size);
    const dv = new DataView(buf.buffer);
    let o = 0;
    const varint = (n: number) => {
      if (n < 0xfd) buf[o++] = n;
      else if (n <= 0xffff) {
        buf[o] = 0xfd;
        dv.setUint16(o + 1, n, true);
        o += 3;
      } else {
        buf[o] = 0xfe;
        dv.setUint32(o + 1, n, true);
        o += 5;
      }
    };
    // Ids are ASCII (SUBSCRIPTION_RE): one byte per char.
    const ascii = (t: string) => {
      varint(t.length);
      for (let i = 0; i < t.length; i++) buf[o++] = t.charCodeAt(i);
    };
    const bytes32 = (b: Uint8Array) => {
      buf.set(b.length === 32 ? b : b.subarray(0, 32), o);
      o += 32;
    };
    ascii(channel);
    if (block) {
      buf[o++] = 1;
      dv.setUint32(o, block.height, true);
      o += 4;
      buf[o++] = 1;
      bytes32(block.hash);
    } else {
      buf[o++] = 0;
      buf[o++] = 0;
    }
    buf[o++] = more ? 1 : 0;
    varint(segs.length);
    for (const g of segs) {
      ascii(g.set.id);
      varint(g.spN);
      for (let h = g.sp, n = 0; n < g.spN; n++, h = this.next[h]) {
        bytes32(this.txA[h]);
        dv.setUint32(o, this.n1[h], true);
        o += 4;
        bytes32(this.txB[h]);
        dv.setUint32(o, this.n2[h], true);
        dv.setUint32(o + 4, this.idLo[h], true);
        dv.setUint32(o + 8, this.idHi[h], true);
        o += 12;
      }
      varint(g.scN);
      for (let h = g.sc, n = 0; n < g.scN; n++, h = this.next[h]) {
        const script = this.txB[h];
        varint(script.length);
        buf.set(script, o);
        o += script.length;
        bytes32(this.txA[h]);
        buf[o++] = this.n1[h];
        dv.setUint32(o, this.n2[h], true);
        dv.setBigUint64(o + 4, this.values[h], true);
        dv.setUint32(o + 12, this.idLo[h], true);
        dv.setUint32(o + 16, this.idHi[h], true);
        o += 20;
      }
    }
    if (o !== size) throw new Error(`watchMatches: wrote ${o} of ${size} bytes`);
    return buf;
  }
}
