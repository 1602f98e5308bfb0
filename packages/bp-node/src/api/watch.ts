import { randomBytes } from 'node:crypto';
import { fromHex, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { WatchFiles } from './watch-files.ts';

/**
 * Watch sets: per subscription, the outpoints and scripts a client wants to hear about, and the
 * channel its matches are published on (many sets share one: a client's thousands of sets cost
 * one message per block). Two reverse maps (outpoint -> sets, sha256(script) -> sets) make
 * matching a block or a mempool tx one map lookup per input and output, whatever the number of
 * sets. Persisted sets live in `<dir>/<subscription>.json` (WatchFiles).
 */
export interface WatchSet {
  readonly id: string;
  /** Matches go out on "watch/<channel>"; a set made without one is its own channel. */
  channel: string;
  /** A small number unique among the table's live sets (reused after removal): push keeps per-set state in arrays indexed by it. */
  readonly slot: number;
  /** outpointKey(txid, vout). */
  readonly outpoints: Set<string>;
  /** sha256(script) hex -> script. */
  readonly scripts: Map<string, Uint8Array>;
  persist: boolean;
}

export const SUBSCRIPTION_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export interface WatchLimits {
  /** Outpoints + scripts in one set. */
  maxPerSet: number;
  /** Sets in the table. */
  maxSets: number;
}

export class WatchLimitError extends Error {}

const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string }
).latin1Slice;

/**
 * The table's key of an outpoint: the txid's 32 bytes as a one-byte string (one native call; a
 * hex string is built char pair by char pair and is twice as long to hash and keep), then vout
 * in decimal. Matching a block makes one per input.
 */
export function outpointKey(txid: Uint8Array, vout: number): string {
  return latin1Slice.call(txid, 0, 32) + vout;
}

/** "txidhex:vout" (internal-order hex), as persisted sets keep outpoints. */
function outpointText(key: string): string {
  return `${toHex(Buffer.from(key.slice(0, 32), 'latin1'))}:${key.slice(32)}`;
}

export class WatchTable {
  readonly sets = new Map<string, WatchSet>();
  // Arrays rather than Sets: nearly every item has one watcher, and 100,000s of small Sets cost
  // memory and GC time (a set never holds an item twice, so an array has no duplicates).
  private readonly byOutpoint = new Map<string, WatchSet[]>();
  private readonly byScript = new Map<string, WatchSet[]>();
  private items = 0;
  private readonly freeSlots: number[] = [];
  private slots = 0;
  private readonly files: WatchFiles;

  constructor(
    /** Directory of persisted sets; null keeps nothing on disk. */
    dir: string | null,
    private readonly limits: WatchLimits = { maxPerSet: 1_000_000, maxSets: 100_000 },
  ) {
    this.files = new WatchFiles(dir);
  }

  get itemCount(): number {
    return this.items;
  }

  /** One more than the highest slot in use. */
  get slotCount(): number {
    return this.slots;
  }

  private newSet(id: string, channel: string, persist: boolean): WatchSet {
    const slot = this.freeSlots.pop() ?? this.slots++;
    const set = {
      id,
      channel,
      slot,
      outpoints: new Set<string>(),
      scripts: new Map<string, Uint8Array>(),
      persist,
    };
    this.sets.set(id, set);
    return set;
  }

  static newId(): string {
    return randomBytes(8).toString('hex');
  }

  /**
   * Adds outpoints and scripts to a set (created if new) and, when `channel` is given, moves the
   * set to that channel; returns the set. Ids and channels are checked by the caller
   * (SUBSCRIPTION_RE).
   */
  add(
    id: string,
    outpoints: readonly { txid: Uint8Array; vout: number }[],
    scripts: readonly Uint8Array[],
    persist: boolean,
    channel?: string,
  ): WatchSet {
    const existing = this.sets.get(id);
    if (!existing && this.sets.size >= this.limits.maxSets)
      throw new WatchLimitError(`watch table full (${this.limits.maxSets} sets)`);
    const size = existing ? existing.outpoints.size + existing.scripts.size : 0;
    if (size + outpoints.length + scripts.length > this.limits.maxPerSet)
      throw new WatchLimitError(`watch set ${id} would exceed ${this.limits.maxPerSet} items`);
    let set = existing;
    if (!set) set = this.newSet(id, channel ?? id, persist);
    else if (channel !== undefined) set.channel = channel;
    for (const o of outpoints) this.addOutpoint(set, o.txid, o.vout);
    for (const s of scripts) this.addScript(set, toHex(sha256(s)), s);
    set.persist = set.persist || persist;
    if (set.persist) this.save(set);
    return set;
  }

  private addOutpoint(set: WatchSet, txid: Uint8Array, vout: number): void {
    const key = outpointKey(txid, vout);
    if (set.outpoints.has(key)) return;
    set.outpoints.add(key);
    this.items++;
    const subs = this.byOutpoint.get(key);
    if (subs) subs.push(set);
    else this.byOutpoint.set(key, [set]);
  }

  private addScript(set: WatchSet, hash: string, script: Uint8Array): void {
    if (set.scripts.has(hash)) return;
    set.scripts.set(hash, Uint8Array.from(script));
    this.items++;
    const subs = this.byScript.get(hash);
    if (subs) subs.push(set);
    else this.byScript.set(hash, [set]);
  }

  remove(id: string): boolean {
    const set = this.sets.get(id);
    if (!set) return false;
    for (const k of set.outpoints) unlink(this.byOutpoint, k, set);
    for (const h of set.scripts.keys()) unlink(this.byScript, h, set);
    this.items -= set.outpoints.size + set.scripts.size;
    this.sets.delete(id);
    this.freeSlots.push(set.slot);
    if (set.persist) this.unsave(id);
    return true;
  }

  /** Sets watching txid:vout (undefined: none). */
  watchersOfOutpoint(txid: Uint8Array, vout: number): readonly WatchSet[] | undefined {
    return this.byOutpoint.get(outpointKey(txid, vout));
  }

  /** Sets watching sha256(script) hex (the script is `set.scripts.get(hash)`). */
  watchersOfScript(hash: string): readonly WatchSet[] | undefined {
    return this.byScript.get(hash);
  }

  get hasScripts(): boolean {
    return this.byScript.size > 0;
  }

  get hasOutpoints(): boolean {
    return this.byOutpoint.size > 0;
  }

  private save(set: WatchSet): void {
    this.files.save(set.id, {
      id: set.id,
      channel: set.channel,
      outpoints: [...set.outpoints].map(outpointText),
      scripts: [...set.scripts.values()].map(toHex),
    });
  }

  private unsave(id: string): void {
    this.files.remove(id);
  }

  /** Loads persisted sets; returns how many, and the files it skipped as unreadable. */
  load(): { sets: number; skipped: string[] } {
    return this.files.load((json) => {
      const j = json as {
        id: string;
        /** Absent in sets kept before channels: their own channel. */
        channel?: string;
        outpoints: string[];
        scripts: string[];
      };
      if (!SUBSCRIPTION_RE.test(j.id)) throw new Error('bad id');
      const channel = j.channel ?? j.id;
      if (!SUBSCRIPTION_RE.test(channel)) throw new Error('bad channel');
      const outpoints = j.outpoints.map((k) => {
        const m = /^([0-9a-f]{64}):([0-9]{1,10})$/.exec(k);
        const v = Number(m?.[2]);
        if (!m || v > 0xffffffff) throw new Error('bad outpoint');
        return { txid: fromHex(m[1]), vout: v };
      });
      const scripts = j.scripts.map((s) => fromHex(s));
      this.remove(j.id);
      const set = this.newSet(j.id, channel, true);
      for (const o of outpoints) this.addOutpoint(set, o.txid, o.vout);
      for (const s of scripts) this.addScript(set, toHex(sha256(s)), s);
    });
  }
}

function unlink(map: Map<string, WatchSet[]>, key: string, set: WatchSet): void {
  const subs = map.get(key);
  if (!subs) return;
  const i = subs.indexOf(set);
  if (i >= 0) subs.splice(i, 1);
  if (subs.length === 0) map.delete(key);
}
