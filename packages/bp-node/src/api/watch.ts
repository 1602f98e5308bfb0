import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';

/**
 * Watch sets: per subscription, the outpoints and scripts a client wants to hear about. Two
 * reverse maps (outpoint -> subscriptions, sha256(script) -> subscriptions) make matching a
 * block or a mempool tx one map lookup per input and output, whatever the number of sets.
 * Persisted sets live in `<dir>/<subscription>.json` (written to a temp file, then renamed,
 * so a crash leaves the old or the new set, never half of one).
 */
export interface WatchSet {
  readonly id: string;
  /** "txidhex:vout" (internal-order hex). */
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

export const outpointKey = (txid: Uint8Array, vout: number) => `${toHex(txid)}:${vout}`;

export class WatchTable {
  readonly sets = new Map<string, WatchSet>();
  private readonly byOutpoint = new Map<string, Set<string>>();
  private readonly byScript = new Map<string, Set<string>>();
  private items = 0;

  constructor(
    /** Directory of persisted sets; null keeps nothing on disk. */
    private readonly dir: string | null,
    private readonly limits: WatchLimits = { maxPerSet: 1_000_000, maxSets: 100_000 },
  ) {}

  get itemCount(): number {
    return this.items;
  }

  static newId(): string {
    return randomBytes(8).toString('hex');
  }

  /** Adds outpoints and scripts to a set (created if new); returns the set. */
  add(
    id: string,
    outpoints: readonly { txid: Uint8Array; vout: number }[],
    scripts: readonly Uint8Array[],
    persist: boolean,
  ): WatchSet {
    let set = this.sets.get(id);
    if (!set) {
      if (this.sets.size >= this.limits.maxSets)
        throw new WatchLimitError(`watch table full (${this.limits.maxSets} sets)`);
      set = { id, outpoints: new Set(), scripts: new Map(), persist };
      this.sets.set(id, set);
    }
    if (set.outpoints.size + set.scripts.size + outpoints.length + scripts.length > this.limits.maxPerSet)
      throw new WatchLimitError(`watch set ${id} would exceed ${this.limits.maxPerSet} items`);
    for (const o of outpoints) this.addOutpoint(set, outpointKey(o.txid, o.vout));
    for (const s of scripts) this.addScript(set, toHex(sha256(s)), s);
    const wasPersisted = set.persist;
    set.persist = set.persist || persist;
    if (set.persist) this.save(set);
    else if (wasPersisted) this.unsave(id);
    return set;
  }

  private addOutpoint(set: WatchSet, key: string): void {
    if (set.outpoints.has(key)) return;
    set.outpoints.add(key);
    this.items++;
    let subs = this.byOutpoint.get(key);
    if (!subs) {
      subs = new Set();
      this.byOutpoint.set(key, subs);
    }
    subs.add(set.id);
  }

  private addScript(set: WatchSet, hash: string, script: Uint8Array): void {
    if (set.scripts.has(hash)) return;
    set.scripts.set(hash, Uint8Array.from(script));
    this.items++;
    let subs = this.byScript.get(hash);
    if (!subs) {
      subs = new Set();
      this.byScript.set(hash, subs);
    }
    subs.add(set.id);
  }

  remove(id: string): boolean {
    const set = this.sets.get(id);
    if (!set) return false;
    for (const k of set.outpoints) unlink(this.byOutpoint, k, id);
    for (const h of set.scripts.keys()) unlink(this.byScript, h, id);
    this.items -= set.outpoints.size + set.scripts.size;
    this.sets.delete(id);
    if (set.persist) this.unsave(id);
    return true;
  }

  /** Subscriptions watching an outpoint (undefined: none). */
  watchersOfOutpoint(key: string): ReadonlySet<string> | undefined {
    return this.byOutpoint.get(key);
  }

  /** Subscriptions watching sha256(script) hex. */
  watchersOfScript(hash: string): ReadonlySet<string> | undefined {
    return this.byScript.get(hash);
  }

  scriptOf(id: string, hash: string): Uint8Array | undefined {
    return this.sets.get(id)?.scripts.get(hash);
  }

  get hasScripts(): boolean {
    return this.byScript.size > 0;
  }

  get hasOutpoints(): boolean {
    return this.byOutpoint.size > 0;
  }

  private file(id: string): string {
    return join(this.dir!, `${id}.json`);
  }

  private save(set: WatchSet): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const body = JSON.stringify({
      id: set.id,
      outpoints: [...set.outpoints],
      scripts: [...set.scripts.values()].map(toHex),
    });
    const tmp = `${this.file(set.id)}.tmp`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, this.file(set.id));
  }

  private unsave(id: string): void {
    if (this.dir) rmSync(this.file(id), { force: true });
  }

  /** Loads persisted sets; returns how many, and the files it skipped as unreadable. */
  load(): { sets: number; skipped: string[] } {
    const skipped: string[] = [];
    if (!this.dir) return { sets: 0, skipped };
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { sets: 0, skipped };
    }
    let n = 0;
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      try {
        const j = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as {
          id: string;
          outpoints: string[];
          scripts: string[];
        };
        if (!SUBSCRIPTION_RE.test(j.id)) throw new Error('bad id');
        const outpoints = j.outpoints.map((k) => {
          const [txid, vout] = k.split(':');
          const v = Number(vout);
          if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error('bad outpoint');
          return { txid: fromHex(txid), vout: v };
        });
        const scripts = j.scripts.map((s) => fromHex(s));
        this.remove(j.id);
        const set = { id: j.id, outpoints: new Set<string>(), scripts: new Map(), persist: true };
        this.sets.set(j.id, set);
        for (const o of outpoints) this.addOutpoint(set, outpointKey(o.txid, o.vout));
        for (const s of scripts) this.addScript(set, toHex(sha256(s)), s);
        n++;
      } catch {
        skipped.push(name);
      }
    }
    return { sets: n, skipped };
  }
}

function unlink(map: Map<string, Set<string>>, key: string, id: string): void {
  const subs = map.get(key);
  if (!subs) return;
  subs.delete(id);
  if (subs.size === 0) map.delete(key);
}
