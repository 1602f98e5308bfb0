import { DecodeError } from '@lnpbp/bitcoin/errors';
import { type BpdMessages, MAX_BATCH_ITEMS, MAX_SCRIPT } from '@lnpbp/bp-node/api/messages';
import type { BodyOf } from '@lnpbp/bus';

/**
 * A client-side reader for `watchMatches` (and `watchWithdrawn`, the same layout) bodies, the mirror of bpd's WatchBatch writer
 * (bp-node/src/api/watch-batch.ts). A block's message to one channel can hold thousands of
 * entries; the bus's generic schema decoder builds an object per struct and a copied
 * Uint8Array per hash for each, in code that is cold when the message arrives (one per block),
 * and that was most of the time from a block indexed to its matches delivered. This walks the
 * body once with a DataView, checking it against the schema exactly as the generic decoder
 * does (same bounds, canonical CompactSize, strict UTF-8, no trailing bytes), and keeps only
 * offsets into it; entries become objects only when asked for.
 */

export type WatchMatchesBody = BodyOf<BpdMessages, 'watchMatches'>;
export type WatchSetMatches = WatchMatchesBody['subscriptions'][number];
export type SpendMatch = WatchSetMatches['spends'][number];
export type ScriptMatch = WatchSetMatches['scripts'][number];

/** Encoded sizes (see the `watchMatches` entry of bp-node's messages.ts). */
const SPEND_BYTES = 32 + 4 + 32 + 4 + 8;
/** A script entry after its script: txid, kind, index, value, shortId. */
const SCRIPT_TAIL = 32 + 1 + 4 + 8 + 8;
/** The smallest script entry: an empty script. */
const SCRIPT_MIN = 1 + SCRIPT_TAIL;
/** The smallest set entry: a 1-byte id, no spends, no scripts. */
const SET_MIN = 2 + 1 + 1;
const MAX_ID_BYTES = 64;

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * One decoded `watchMatches` body. The header fields are read; the sets and their entries are
 * offsets into the message bytes (which this keeps alive) read on demand. `subscriptions` gives
 * the body exactly as `bpdMessages.decode` does, built on first use.
 */
export class WatchMatchesView {
  private built: WatchSetMatches[] | undefined;

  /** @internal Made by readWatchMatches. */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly dv: DataView,
    readonly channel: string,
    readonly height: number | undefined,
    readonly blockHash: Uint8Array | undefined,
    readonly more: boolean,
    /** Subscription id of each set. */
    readonly ids: readonly string[],
    /** Set s's spends are entries spFirst[s] .. spFirst[s + 1] - 1 (length: sets + 1). */
    private readonly spFirst: Uint32Array,
    private readonly scFirst: Uint32Array,
    /** Byte offset of each spend entry. */
    private readonly spOff: Uint32Array,
    /** Byte offset of each script entry's script, and its length. */
    private readonly scOff: Uint32Array,
    private readonly scLen: Uint32Array,
  ) {}

  get setCount(): number {
    return this.ids.length;
  }

  /** Spend entries in the message, all sets together. */
  get spendCount(): number {
    return this.spFirst[this.ids.length];
  }

  get scriptCount(): number {
    return this.scFirst[this.ids.length];
  }

  /** Set `s`'s spends are entries firstSpend(s) .. firstSpend(s + 1) - 1 of spend(). */
  firstSpend(s: number): number {
    return this.spFirst[s];
  }

  /** Set `s`'s script entries are firstScript(s) .. firstScript(s + 1) - 1 of script(). */
  firstScript(s: number): number {
    return this.scFirst[s];
  }

  spend(i: number): SpendMatch {
    const o = this.spOff[i];
    const b = this.bytes;
    return {
      txid: b.slice(o, o + 32),
      vout: this.dv.getUint32(o + 32, true),
      spendingTxid: b.slice(o + 36, o + 68),
      vin: this.dv.getUint32(o + 68, true),
      shortId: this.dv.getBigUint64(o + 72, true),
    };
  }

  script(i: number): ScriptMatch {
    const s = this.scOff[i];
    const o = s + this.scLen[i];
    const b = this.bytes;
    return {
      script: b.slice(s, o),
      txid: b.slice(o, o + 32),
      kind: b[o + 32],
      index: this.dv.getUint32(o + 33, true),
      value: this.dv.getBigUint64(o + 37, true),
      shortId: this.dv.getBigUint64(o + 45, true),
    };
  }

  /** The sets with their entries as objects, as the schema decoder gives them (built once). */
  get subscriptions(): WatchSetMatches[] {
    if (this.built) return this.built;
    const out: WatchSetMatches[] = new Array(this.ids.length);
    for (let s = 0; s < this.ids.length; s++) {
      const spends: SpendMatch[] = [];
      for (let i = this.spFirst[s]; i < this.spFirst[s + 1]; i++) spends.push(this.spend(i));
      const scripts: ScriptMatch[] = [];
      for (let i = this.scFirst[s]; i < this.scFirst[s + 1]; i++) scripts.push(this.script(i));
      out[s] = { subscription: this.ids[s], spends, scripts };
    }
    this.built = out;
    return out;
  }

  /** The whole body as plain data, equal to `bpdMessages.decode(...).body`. */
  toBody(): WatchMatchesBody {
    const b: WatchMatchesBody = { channel: this.channel, more: this.more, subscriptions: this.subscriptions };
    if (this.height !== undefined) b.height = this.height;
    if (this.blockHash !== undefined) b.blockHash = this.blockHash;
    return b;
  }
}

/**
 * Reads a `watchMatches` body (the bytes after the bus's notification header). Every count and
 * length is checked against the schema's maximum and the bytes left before anything is sized
 * by it. Throws DecodeError (the bus counts it as a malformed notification) on bytes the schema
 * decoder would reject.
 */
export function readWatchMatches(input: Uint8Array): WatchMatchesView {
  return readWatchBody(input, 'watchMatches');
}

/** Reads a `watchWithdrawn` body: the layout of `watchMatches` (one schema for both). */
export function readWatchWithdrawn(input: Uint8Array): WatchMatchesView {
  return readWatchBody(input, 'watchWithdrawn');
}

function readWatchBody(input: Uint8Array, what: 'watchMatches' | 'watchWithdrawn'): WatchMatchesView {
  // A plain Uint8Array over the same memory: a received Buffer's slice() would not copy, and
  // the hashes and scripts handed out are copies (as the schema decoder's are).
  const body = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const end = body.length;
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let o = 0;

  const fail = (code: 'truncated' | 'oversized' | 'non-canonical' | 'invalid-value', at: number, d: string) =>
    new DecodeError(code, what, at, d);
  const need = (n: number, field: string) => {
    if (end - o < n) throw fail('truncated', o, `${field}: ${n} bytes needed, ${end - o} left`);
  };
  const varint = (field: string): number => {
    need(1, field);
    const at = o;
    const p = body[o++];
    if (p < 0xfd) return p;
    if (p === 0xfd) {
      need(2, field);
      const v = dv.getUint16(o, true);
      o += 2;
      if (v < 0xfd) throw fail('non-canonical', at, field);
      return v;
    }
    if (p === 0xfe) {
      need(4, field);
      const v = dv.getUint32(o, true);
      o += 4;
      if (v < 0x10000) throw fail('non-canonical', at, field);
      return v;
    }
    need(8, field);
    const v = dv.getBigUint64(o, true);
    o += 8;
    if (v < 0x100000000n) throw fail('non-canonical', at, field);
    // Any count this large exceeds every maximum below.
    throw fail('oversized', at, `${field}: varint ${v}`);
  };
  /** A length prefix bounded by `max` and by the bytes left (each item at least `minItem`). */
  const length = (field: string, max: number, minItem: number): number => {
    const at = o;
    const n = varint(field);
    if (n > max) throw fail('oversized', at, `${field}: length ${n} exceeds maximum ${max}`);
    if (n > Math.floor((end - o) / minItem))
      throw fail('truncated', at, `${field}: length ${n} exceeds remaining ${end - o} bytes`);
    return n;
  };
  const string = (field: string): string => {
    const n = length(field, MAX_ID_BYTES, 1);
    const at = o;
    let ascii = true;
    for (let i = at; i < at + n; i++) if (body[i] >= 0x80) ascii = false;
    o += n;
    // Ids are ASCII in practice (bpd accepts no other); any other valid UTF-8 still reads.
    if (ascii) return String.fromCharCode.apply(null, body.subarray(at, o) as unknown as number[]);
    try {
      return utf8Strict.decode(body.subarray(at, o));
    } catch {
      throw fail('invalid-value', at, `${field}: not valid UTF-8`);
    }
  };
  const tag = (field: string): boolean => {
    need(1, field);
    const v = body[o];
    if (v > 1) throw fail('invalid-value', o, `${field}: must be 0 or 1, got ${v}`);
    o++;
    return v === 1;
  };

  const channel = string('channel');
  let height: number | undefined;
  if (tag('height')) {
    need(4, 'height');
    height = dv.getUint32(o, true);
    o += 4;
  }
  let blockHash: Uint8Array | undefined;
  if (tag('blockHash')) {
    need(32, 'blockHash');
    blockHash = body.slice(o, o + 32);
    o += 32;
  }
  const more = tag('more');
  const sets = length('subscriptions', MAX_BATCH_ITEMS, SET_MIN);
  const ids: string[] = new Array(sets);
  const spFirst = new Uint32Array(sets + 1);
  const scFirst = new Uint32Array(sets + 1);
  // Sized by what the rest of the body can hold (a fraction of its size), once: a message comes
  // once per block, and growing arrays as entries are read showed up as GC in that round.
  const spOff = new Uint32Array(Math.floor((end - o) / SPEND_BYTES));
  const scOff = new Uint32Array(Math.floor((end - o) / SCRIPT_MIN));
  const scLen = new Uint32Array(scOff.length);
  let spN = 0;
  let scN = 0;
  for (let s = 0; s < sets; s++) {
    ids[s] = string(`subscriptions[${s}].subscription`);
    spFirst[s] = spN;
    const sp = length(`subscriptions[${s}].spends`, MAX_BATCH_ITEMS, SPEND_BYTES);
    for (let i = 0; i < sp; i++, o += SPEND_BYTES) spOff[spN++] = o;
    scFirst[s] = scN;
    const sc = length(`subscriptions[${s}].scripts`, MAX_BATCH_ITEMS, SCRIPT_MIN);
    for (let i = 0; i < sc; i++) {
      const n = length(`subscriptions[${s}].scripts[${i}].script`, MAX_SCRIPT, 1);
      need(n + SCRIPT_TAIL, `subscriptions[${s}].scripts[${i}]`);
      scOff[scN] = o;
      scLen[scN++] = n;
      o += n + SCRIPT_TAIL;
    }
  }
  spFirst[sets] = spN;
  scFirst[sets] = scN;
  if (o !== end) throw new DecodeError('trailing-bytes', what, o, `${end - o} bytes after the body`);
  return new WatchMatchesView(
    body,
    dv,
    channel,
    height,
    blockHash,
    more,
    ids,
    spFirst,
    scFirst,
    spOff,
    scOff,
    scLen,
  );
}

/** The bodies the client reads with its own decoders (see Subscriber's `decoders`). */
export const bpdDecoders = { watchMatches: readWatchMatches, watchWithdrawn: readWatchWithdrawn } as const;
