/**
 * The bus side of issue 5: pattern and descriptor queries (request handlers), pattern and
 * descriptor subscriptions (a table of them, persisted like watch sets), and their push (every
 * mempool arrival and connected block matched against the table). The matching itself is
 * src/match/; this module turns its results into bus messages and its errors into typed
 * error replies that keep the position of the fault.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { type Descriptor, parseDescriptor } from '@lnpbp/bitcoin/descriptor/index';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { type Bindings, type CompiledPattern, compilePattern } from '@lnpbp/bitcoin/pattern/index';
import {
  blockChecksum,
  inputLo,
  offchainInputId,
  offchainOutputId,
  onchainHi,
  outputLo,
  shortIdFromParts,
} from '@lnpbp/bitcoin/shortid/index';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import { type Handlers, RpcError } from '@lnpbp/bus';
import type { ConnectResult } from '../index/connect.ts';
import type { Index } from '../index/index.ts';
import type { Mempool, MempoolEntry } from '../index/mempool.ts';
import {
  checkGap,
  DEFAULT_GAP,
  descriptorBalance,
  descriptorHistory,
  descriptorUtxos,
  watchOnlyDescriptor,
} from '../match/descriptor.ts';
import { type MatchItem, matchView } from '../match/index.ts';
import { DescriptorWatches, PatternWatches } from '../match/push.ts';
import { BpdError, type BpdMessages, MATCH_REPLY_BUDGET, MAX_PAGE } from './messages.ts';
import type { Publish } from './push.ts';
import { SUBSCRIPTION_RE, WatchTable } from './watch.ts';

export const MATCH_TOPIC = {
  match: (sub: string) => `match/${sub}`,
  descriptor: (sub: string) => `descriptor/${sub}`,
} as const;

const DEFAULT_PAGE = 100;

type MatchRequests =
  | 'match'
  | 'descriptorHistory'
  | 'descriptorUtxos'
  | 'descriptorBalance'
  | 'watchPattern'
  | 'watchDescriptor';

const fail = (code: keyof typeof BpdError, message: string): never => {
  throw new RpcError(BpdError[code], message);
};

/** A pattern compiled, or a `badPattern` reply (the message says where the fault is). */
export function patternOf(text: string): CompiledPattern {
  try {
    return compilePattern(text);
  } catch (e) {
    if (e instanceof Error) return fail('badPattern', e.message);
    throw e;
  }
}

/** A watch-only descriptor, or `badDescriptor` / `privateKey` (with the position). */
export function descriptorOf(text: string): Descriptor {
  let d: Descriptor;
  try {
    d = parseDescriptor(text);
  } catch (e) {
    if (e instanceof Error) return fail('badDescriptor', e.message);
    throw e;
  }
  try {
    return watchOnlyDescriptor(d);
  } catch (e) {
    if (e instanceof Error) return fail('privateKey', e.message);
    throw e;
  }
}

/** 0 is the default gap; anything outside 1..MAX_GAP is `badGap`. */
export function gapOf(gap: number): number {
  try {
    return checkGap(gap === 0 ? DEFAULT_GAP : gap);
  } catch (e) {
    if (e instanceof ValueError) return fail('badGap', e.message);
    throw e;
  }
}

function limitOf(limit: number): number {
  if (limit === 0) return DEFAULT_PAGE;
  if (limit > MAX_PAGE) fail('badRequest', `limit ${limit} above ${MAX_PAGE}`);
  return limit;
}

/** Descriptor cursors are the 8-byte id of the previous page's last item. */
function itemCursor(c: Uint8Array | undefined): Uint8Array | null {
  if (c === undefined) return null;
  if (c.length !== 8) fail('badCursor', `cursor of ${c.length} bytes is not one this query returns`);
  return c;
}

export function bindingsList(b: Bindings) {
  return Object.entries(b).map(([name, v]) => ({ name, value: String(v), number: typeof v === 'number' }));
}

const lastUsedOpt = (n: number) => (n < 0 ? undefined : n);

interface StoredWatch {
  id: string;
  kind: 'pattern' | 'descriptor';
  text: string;
  gap?: number;
}

/**
 * Pattern and descriptor subscriptions by id. Persisted ones live in `<dir>/<id>.json` (text,
 * kind, gap), written to a temp file then renamed as watch sets are.
 */
export class MatchWatchTable {
  readonly patterns = new PatternWatches();
  readonly descriptors = new DescriptorWatches();
  private readonly entries = new Map<string, StoredWatch & { persist: boolean }>();

  constructor(
    private readonly dir: string | null,
    private readonly maxSets = 10_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  private admit(id: string): void {
    if (!this.entries.has(id) && this.entries.size >= this.maxSets)
      fail('watchLimit', `pattern/descriptor watch table full (${this.maxSets})`);
  }

  addPattern(id: string, pattern: CompiledPattern, text: string, persist: boolean): void {
    this.admit(id);
    this.descriptors.remove(id);
    this.patterns.add(id, pattern);
    this.record({ id, kind: 'pattern', text }, persist);
  }

  addDescriptor(
    id: string,
    d: Descriptor,
    text: string,
    gap: number,
    persist: boolean,
    index: Index | undefined,
  ): { lastUsed: number[]; derived: number[] } {
    this.admit(id);
    this.patterns.remove(id);
    this.descriptors.add(id, d, { gap, index });
    this.record({ id, kind: 'descriptor', text, gap }, persist);
    return this.descriptors.window(id)!;
  }

  private record(w: StoredWatch, persist: boolean): void {
    const was = this.entries.get(w.id)?.persist ?? false;
    const p = persist || was;
    this.entries.set(w.id, { ...w, persist: p });
    if (p) this.save(w);
  }

  remove(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    this.patterns.remove(id);
    this.descriptors.remove(id);
    if (e.persist) this.unsave(id);
    return true;
  }

  persisted(id: string): boolean {
    return this.entries.get(id)?.persist ?? false;
  }

  private file(id: string): string {
    return join(this.dir!, `${id}.json`);
  }

  private save(w: StoredWatch): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(w.id)}.tmp`;
    writeFileSync(tmp, JSON.stringify(w), { mode: 0o600 });
    renameSync(tmp, this.file(w.id));
  }

  private unsave(id: string): void {
    if (this.dir) rmSync(this.file(id), { force: true });
  }

  /** Loads persisted watches (descriptor windows start past the index's used indexes). */
  load(index?: Index): { sets: number; skipped: string[] } {
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
        const w = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as StoredWatch;
        if (typeof w.id !== 'string' || !SUBSCRIPTION_RE.test(w.id) || typeof w.text !== 'string')
          throw new Error('bad watch file');
        if (w.kind === 'pattern') this.addPattern(w.id, compilePattern(w.text), w.text, true);
        else if (w.kind === 'descriptor')
          this.addDescriptor(w.id, watchOnlyDescriptor(w.text), w.text, checkGap(w.gap), true, index);
        else throw new Error('bad kind');
        n++;
      } catch {
        skipped.push(name);
      }
    }
    return { sets: n, skipped };
  }
}

export interface MatchApiDeps {
  readonly index: Index;
  readonly mempool: Mempool;
  readonly matchWatches: MatchWatchTable;
}

/** Handlers of the issue-5 requests (merged into makeHandlers). */
export function makeMatchHandlers(d: MatchApiDeps): Pick<Handlers<BpdMessages>, MatchRequests> {
  const { index, mempool, matchWatches: table } = d;

  const matchPage = (pat: CompiledPattern, cursor: Uint8Array | null, limit: number) => {
    try {
      return matchView(index, mempool, pat, { cursor, limit });
    } catch (e) {
      if (e instanceof ValueError && e.what === 'cursor')
        return fail('badCursor', 'cursor is not one a match query returns');
      throw e;
    }
  };

  return {
    match(b) {
      const pat = patternOf(b.pattern);
      const cursor = b.cursor ?? null;
      let limit = limitOf(b.limit);
      let page = matchPage(pat, cursor, limit);
      // Tapscript leaves can be large: a page stops before its reply would outgrow a frame.
      for (;;) {
        let bytes = 0;
        let fit = 0;
        for (const i of page.items) {
          bytes += i.script.length + i.shape.length + 200;
          if (bytes > MATCH_REPLY_BUDGET && fit > 0) break;
          fit++;
        }
        if (fit >= page.items.length || fit >= limit) break;
        limit = fit;
        page = matchPage(pat, cursor, limit);
      }
      return { items: page.items.map(matchItemBody), next: page.next ?? undefined };
    },

    descriptorHistory(b) {
      const desc = descriptorOf(b.descriptor);
      const gap = gapOf(b.gap);
      const r = descriptorHistory(index.store, desc, {
        gap,
        cursor: itemCursor(b.cursor),
        limit: limitOf(b.limit),
      });
      return {
        items: r.items.map((i) => ({
          txid: i.txid,
          height: i.height,
          kind: i.kind === 'funding' ? 0 : 1,
          index: i.index,
          value: i.value,
          shortId: i.shortId,
          script: i.script,
          derivationIndex: i.derivationIndex ?? undefined,
          branch: i.branch,
        })),
        next: r.next ?? undefined,
      };
    },

    descriptorUtxos(b) {
      const desc = descriptorOf(b.descriptor);
      const gap = gapOf(b.gap);
      const r = descriptorUtxos(index.store, desc, {
        gap,
        cursor: itemCursor(b.cursor),
        limit: limitOf(b.limit),
      });
      return {
        items: r.items.map((u) => ({
          txid: u.txid,
          vout: u.vout,
          value: u.value,
          height: u.height,
          shortId: u.shortId,
          script: u.script,
          derivationIndex: u.derivationIndex ?? undefined,
          branch: u.branch,
        })),
        next: r.next ?? undefined,
      };
    },

    descriptorBalance(b) {
      const desc = descriptorOf(b.descriptor);
      const r = descriptorBalance(index.store, desc, { gap: gapOf(b.gap) });
      return {
        confirmed: r.confirmed,
        utxoCount: r.utxoCount,
        usedScripts: r.usedScripts,
        derivedScripts: r.derivedScripts,
        branches: r.branches.map((x) => ({ lastUsed: lastUsedOpt(x.lastUsed), nextIndex: x.nextIndex })),
      };
    },

    watchPattern(b) {
      const id = subscriptionOf(b.subscription);
      const pat = patternOf(b.pattern);
      table.addPattern(id, pat, b.pattern, b.persist);
      return { subscription: id, shapes: pat.shapes.length, persisted: table.persisted(id) };
    },

    watchDescriptor(b) {
      const id = subscriptionOf(b.subscription);
      const desc = descriptorOf(b.descriptor);
      const gap = gapOf(b.gap);
      const w = table.addDescriptor(id, desc, b.descriptor, gap, b.persist, index);
      return {
        subscription: id,
        branches: w.lastUsed.map((u, i) => ({ lastUsed: lastUsedOpt(u), derived: w.derived[i] })),
        persisted: table.persisted(id),
      };
    },
  };
}

function subscriptionOf(s: string | undefined): string {
  const id = s ?? WatchTable.newId();
  if (!SUBSCRIPTION_RE.test(id)) fail('badRequest', 'subscription ids are 1-64 of A-Z a-z 0-9 _ . -');
  return id;
}

function matchItemBody(i: MatchItem) {
  return {
    txid: i.txid,
    vin: i.vin,
    vout: i.vout,
    height: i.height ?? undefined,
    context: i.context,
    script: i.script,
    shape: i.shape,
    bindings: bindingsList(i.bindings),
    shortId: i.shortId,
  };
}

/**
 * Push for pattern and descriptor subscriptions: each mempool arrival and connected block is
 * matched against the table (a shape-key lookup per revealed script, a script-hash lookup per
 * input and output) and every hit published on its subscription's topic.
 */
export class MatchPusher {
  readonly counts = { match: 0, descriptor: 0 };

  constructor(
    private readonly index: Index,
    private readonly mempool: Mempool,
    private readonly table: MatchWatchTable,
    private readonly pub: Publish,
  ) {}

  mempoolAdded(e: MempoolEntry): void {
    const { patterns, descriptors } = this.table;
    if (patterns.size > 0) {
      for (const h of patterns.matchMempoolTx(this.index, this.mempool, e.tx)) {
        this.counts.match++;
        this.pub.publish(MATCH_TOPIC.match(h.subscription), 'patternMatch', {
          subscription: h.subscription,
          txid: h.txid,
          vin: h.vin,
          vout: h.vout,
          context: h.context,
          script: h.script,
          bindings: bindingsList(h.bindings),
          shortId: h.vin !== undefined ? offchainInputId(h.txid, h.vin) : offchainOutputId(h.txid, h.vout!),
        });
      }
    }
    if (descriptors.size > 0) {
      for (const h of descriptors.matchMempoolTx(this.index, this.mempool, e.tx)) {
        this.counts.descriptor++;
        this.pub.publish(MATCH_TOPIC.descriptor(h.watch), 'descriptorActivity', {
          subscription: h.watch,
          txid: h.txid,
          kind: h.kind === 'funding' ? 0 : 1,
          index: h.index,
          value: h.value ?? undefined,
          script: h.script,
          derivationIndex: h.derivationIndex ?? undefined,
          branch: h.branch,
          shortId:
            h.kind === 'funding' ? offchainOutputId(h.txid, h.index) : offchainInputId(h.txid, h.index),
        });
      }
    }
  }

  blockConnected(r: ConnectResult): void {
    const { patterns, descriptors } = this.table;
    if (patterns.size === 0 && descriptors.size === 0) return;
    const { height, hash, block } = r;
    const hi = onchainHi(height, blockChecksum(hash));
    const positionOf = positions(block);
    if (patterns.size > 0) {
      for (const h of patterns.matchBlock(this.index, block, height)) {
        const p = positionOf(h.txid);
        this.counts.match++;
        this.pub.publish(MATCH_TOPIC.match(h.subscription), 'patternMatch', {
          subscription: h.subscription,
          txid: h.txid,
          vin: h.vin,
          vout: h.vout,
          context: h.context,
          script: h.script,
          bindings: bindingsList(h.bindings),
          shortId: shortIdFromParts(hi, h.vin !== undefined ? inputLo(p, h.vin) : outputLo(p, h.vout!)),
          height,
          blockHash: hash,
        });
      }
    }
    if (descriptors.size > 0) {
      for (const h of descriptors.matchBlock(this.index, block, height)) {
        const p = positionOf(h.txid);
        this.counts.descriptor++;
        this.pub.publish(MATCH_TOPIC.descriptor(h.watch), 'descriptorActivity', {
          subscription: h.watch,
          txid: h.txid,
          kind: h.kind === 'funding' ? 0 : 1,
          index: h.index,
          value: h.value ?? undefined,
          script: h.script,
          derivationIndex: h.derivationIndex ?? undefined,
          branch: h.branch,
          shortId: shortIdFromParts(hi, h.kind === 'funding' ? outputLo(p, h.index) : inputLo(p, h.index)),
          height,
          blockHash: hash,
        });
      }
    }
  }
}

/** txid -> position in the block, built on first use (hits are rare; most blocks have none). */
function positions(block: Block): (txid: Uint8Array) => number {
  let map: Map<string, number> | null = null;
  return (txid) => {
    map ??= new Map(block.txs.map((t, i) => [toHex(t.txid()), i]));
    return map.get(toHex(txid)) ?? 0;
  };
}
