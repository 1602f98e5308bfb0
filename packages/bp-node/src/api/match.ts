/**
 * The bus side of issue 5: pattern and descriptor queries (request handlers), pattern and
 * descriptor subscriptions (a table of them, persisted like watch sets), and their push (every
 * mempool arrival and connected block matched against the table). The matching itself is
 * src/match/; this module turns its results into bus messages and its errors into typed
 * error replies that keep the position of the fault.
 */
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
import type { BodyOf, Handlers } from '@lnpbp/bus';
import type { ConnectResult } from '../index/connect.ts';
import type { DisconnectResult } from '../index/disconnect.ts';
import type { Index } from '../index/index.ts';
import type { Mempool, MempoolEntry, RemoveReason } from '../index/mempool.ts';
import {
  checkGap,
  DEFAULT_GAP,
  type DescriptorOptions,
  descriptorBalance,
  descriptorHistory,
  descriptorUtxos,
  hasHistory,
  scanDescriptorAsync,
  usedIn,
  watchOnlyDescriptor,
} from '../match/descriptor.ts';
import { type MatchItem, matchView } from '../match/index.ts';
import {
  type DescriptorHit,
  DescriptorWatches,
  disconnectedSpentOutputs,
  type PatternHit,
  PatternWatches,
} from '../match/push.ts';
import { fail, pageLimit } from './args.ts';
import { type BpdMessages, MATCH_REPLY_BUDGET } from './messages.ts';
import { SUBSCRIPTION_RE, WatchTable } from './watch.ts';
import { WatchFiles } from './watch-files.ts';

export const MATCH_TOPIC = {
  match: (sub: string) => `match/${sub}`,
  descriptor: (sub: string) => `descriptor/${sub}`,
} as const;

type MatchRequests =
  | 'match'
  | 'descriptorHistory'
  | 'descriptorUtxos'
  | 'descriptorBalance'
  | 'watchPattern'
  | 'watchDescriptor';

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

/** Descriptor cursors are `0x00 | item id` or `0x01 | mempool seq | skip` (match/descriptor.ts). */
function descriptorCursor(c: Uint8Array | undefined): Uint8Array | null {
  if (c === undefined) return null;
  if (c.length !== 9 || c[0] > 1)
    fail('badCursor', `cursor of ${c.length} bytes is not one this query returns`);
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

type Entry = StoredWatch & { persist: boolean };

/**
 * Pattern and descriptor subscriptions by id. Persisted ones live in `<dir>/<id>.json` (text,
 * kind, gap; WatchFiles, as watch sets).
 */
export class MatchWatchTable {
  readonly patterns = new PatternWatches();
  readonly descriptors = new DescriptorWatches();
  private readonly entries = new Map<string, Entry>();
  private readonly files: WatchFiles;
  /** Loaded descriptor watches whose gap scan has not finished (not matched yet). */
  private readonly rescans = new Set<string>();
  /** Settles when the scans `load` started are done. */
  rescanned: Promise<void> = Promise.resolve();

  constructor(
    dir: string | null,
    private readonly maxSets = 10_000,
  ) {
    this.files = new WatchFiles(dir);
  }

  /** Loaded descriptor watches still being scanned. */
  get rescanning(): number {
    return this.rescans.size;
  }

  /** Watches being matched (status `matchWatches`): loaded descriptor watches once scanned. */
  get size(): number {
    return this.entries.size - this.rescans.size;
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

  /** `from`: the index to scan for used indexes, or their result (scanDescriptorAsync) per branch. */
  addDescriptor(
    id: string,
    d: Descriptor,
    text: string,
    gap: number,
    persist: boolean,
    from: Index | readonly number[] | undefined,
  ): { lastUsed: number[]; derived: number[] } {
    this.admit(id);
    this.patterns.remove(id);
    this.descriptors.add(
      id,
      d,
      Array.isArray(from) ? { gap, lastUsed: from } : { gap, index: from as Index },
    );
    this.record({ id, kind: 'descriptor', text, gap }, persist);
    return this.descriptors.window(id)!;
  }

  private record(w: StoredWatch, persist: boolean): void {
    const was = this.entries.get(w.id)?.persist ?? false;
    const p = persist || was;
    this.entries.set(w.id, { ...w, persist: p });
    this.rescans.delete(w.id); // a load's scan pending for this id no longer applies
    if (p) this.files.save(w.id, w);
  }

  remove(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    this.rescans.delete(id);
    this.patterns.remove(id);
    this.descriptors.remove(id);
    if (e.persist) this.files.remove(id);
    return true;
  }

  persisted(id: string): boolean {
    return this.entries.get(id)?.persist ?? false;
  }

  /**
   * Loads persisted watches. With an index, a descriptor watch's window starts past the indexes
   * the chain has used: that gap scan is the one requests use (scanDescriptorAsync, in slices),
   * run in the background one watch after another, so a large persisted watch does not hold up
   * start-up or the requests served meanwhile; each watch is matched once its scan is done
   * (`rescanned` settles when all are). Its subscriber, like any after a restart, re-reads by
   * query. The count includes them.
   */
  load(index?: Index): { sets: number; skipped: string[] } {
    const queue: { id: string; d: Descriptor; gap: number; entry: Entry }[] = [];
    const r = this.files.load((json) => {
      const w = json as StoredWatch;
      if (typeof w.id !== 'string' || !SUBSCRIPTION_RE.test(w.id) || typeof w.text !== 'string')
        throw new Error('bad watch file');
      if (w.kind === 'pattern') this.addPattern(w.id, compilePattern(w.text), w.text, true);
      else if (w.kind === 'descriptor') {
        const d = watchOnlyDescriptor(w.text);
        const gap = checkGap(w.gap);
        if (!index) {
          this.addDescriptor(w.id, d, w.text, gap, true, undefined);
          return;
        }
        this.admit(w.id);
        this.patterns.remove(w.id);
        this.descriptors.remove(w.id);
        const entry: Entry = { id: w.id, kind: 'descriptor', text: w.text, gap, persist: true };
        this.entries.set(w.id, entry);
        this.rescans.add(w.id);
        queue.push({ id: w.id, d, gap, entry });
      } else throw new Error('bad kind');
    });
    if (index && queue.length > 0) this.rescanned = this.rescan(index, queue);
    return r;
  }

  private async rescan(
    index: Index,
    queue: { id: string; d: Descriptor; gap: number; entry: Entry }[],
  ): Promise<void> {
    for (const q of queue) {
      try {
        // Replaced by a request (which scanned for itself) or dropped meanwhile: nothing to do.
        if (this.entries.get(q.id) !== q.entry) continue;
        const scan = await scanDescriptorAsync(q.d, q.gap, (h) => hasHistory(index.store, h));
        if (this.entries.get(q.id) !== q.entry) continue;
        const lastUsed = scan.branches.map((b) => b.lastUsed);
        this.descriptors.add(q.id, q.d, { gap: q.gap, lastUsed });
      } catch {
        // The index closed under it (shutdown): the file stays for the next start.
      } finally {
        this.rescans.delete(q.id);
      }
    }
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

  /** The gap scan, sliced so other requests are served meanwhile (a request's cancel stops it). */
  const scanOf = (desc: Descriptor, gap: number, signal: AbortSignal) =>
    scanDescriptorAsync(desc, gap, usedIn(index.store, mempool), { signal });

  /** A descriptor page request checked (every bound before any work), then its scan. */
  const pageOf = async (
    b: { descriptor: string; gap: number; cursor?: Uint8Array; limit: number },
    signal: AbortSignal,
  ): Promise<{ desc: Descriptor; opts: DescriptorOptions }> => {
    const desc = descriptorOf(b.descriptor);
    const gap = gapOf(b.gap);
    const cursor = descriptorCursor(b.cursor);
    const limit = pageLimit(b.limit);
    return { desc, opts: { gap, cursor, limit, mempool, scan: await scanOf(desc, gap, signal) } };
  };

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
      let limit = pageLimit(b.limit);
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

    async descriptorHistory(b, ctx) {
      const { desc, opts } = await pageOf(b, ctx.signal);
      const r = descriptorHistory(index.store, desc, opts);
      return {
        items: r.items.map((i) => ({
          txid: i.txid,
          height: i.height ?? undefined,
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

    async descriptorUtxos(b, ctx) {
      const { desc, opts } = await pageOf(b, ctx.signal);
      const r = descriptorUtxos(index.store, desc, opts);
      return {
        items: r.items.map((u) => ({
          txid: u.txid,
          vout: u.vout,
          value: u.value,
          height: u.height ?? undefined,
          shortId: u.shortId,
          script: u.script,
          derivationIndex: u.derivationIndex ?? undefined,
          branch: u.branch,
        })),
        next: r.next ?? undefined,
      };
    },

    async descriptorBalance(b, ctx) {
      const desc = descriptorOf(b.descriptor);
      const gap = gapOf(b.gap);
      const scan = await scanOf(desc, gap, ctx.signal);
      const r = descriptorBalance(index.store, desc, { gap, mempool, scan });
      return {
        confirmed: r.confirmed,
        unconfirmedIn: r.unconfirmedIn,
        unconfirmedOut: r.unconfirmedOut,
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

    async watchDescriptor(b, ctx) {
      const id = subscriptionOf(b.subscription);
      const desc = descriptorOf(b.descriptor);
      const gap = gapOf(b.gap);
      // The window starts past what the chain has used (confirmed only, as at a restart's load).
      const scan = await scanDescriptorAsync(desc, gap, (h) => hasHistory(index.store, h), {
        signal: ctx.signal,
      });
      const lastUsed = scan.branches.map((x) => x.lastUsed);
      const w = table.addDescriptor(id, desc, b.descriptor, gap, b.persist, lastUsed);
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

/** What match push needs of a publisher (the bus's Publisher fits; tests may record instead). */
export interface MatchPublish {
  publish<N extends 'patternMatch' | 'descriptorActivity' | 'patternWithdrawn' | 'descriptorWithdrawn'>(
    topic: string,
    name: N,
    body: BodyOf<BpdMessages, N>,
  ): unknown;
}

type PatternBody = BodyOf<BpdMessages, 'patternMatch'>;
type DescriptorBody = BodyOf<BpdMessages, 'descriptorActivity'>;
type Confirmed = { height: number; blockHash: Uint8Array };

/** A withdrawn match whose tx went back to the mempool: told again if it leaves without confirming. */
type Pending =
  | { name: 'patternWithdrawn'; body: BodyOf<BpdMessages, 'patternWithdrawn'> }
  | { name: 'descriptorWithdrawn'; body: BodyOf<BpdMessages, 'descriptorWithdrawn'> };

/** Withdrawn matches followed until their tx confirms again or leaves the mempool. */
const MAX_PENDING = 100_000;

interface DisconnectEvents {
  on(event: 'disconnect', cb: (d: DisconnectResult) => void): unknown;
}

function patternBody(h: PatternHit, shortId: bigint, at?: Confirmed): PatternBody {
  return {
    subscription: h.subscription,
    txid: h.txid,
    vin: h.vin,
    vout: h.vout,
    context: h.context,
    script: h.script,
    bindings: bindingsList(h.bindings),
    shortId,
    height: at?.height,
    blockHash: at?.blockHash,
  };
}

function descriptorBody(h: DescriptorHit, shortId: bigint, at?: Confirmed): DescriptorBody {
  return {
    subscription: h.watch,
    txid: h.txid,
    kind: h.kind === 'funding' ? 0 : 1,
    index: h.index,
    value: h.value ?? undefined,
    script: h.script,
    derivationIndex: h.derivationIndex ?? undefined,
    branch: h.branch,
    shortId,
    height: at?.height,
    blockHash: at?.blockHash,
  };
}

/** The off-chain short id of a mempool hit's input or output. */
const mempoolPatternId = (h: PatternHit) =>
  h.vin !== undefined ? offchainInputId(h.txid, h.vin) : offchainOutputId(h.txid, h.vout!);
const mempoolDescriptorId = (h: DescriptorHit) =>
  h.kind === 'funding' ? offchainOutputId(h.txid, h.index) : offchainInputId(h.txid, h.index);

/** The input or output a hit names, as `inputLo`/`outputLo` want it. */
const patternLo = (p: number, h: PatternHit) =>
  h.vin !== undefined ? inputLo(p, h.vin) : outputLo(p, h.vout!);
const descriptorLo = (p: number, h: DescriptorHit) =>
  h.kind === 'funding' ? outputLo(p, h.index) : inputLo(p, h.index);

/**
 * Push for pattern and descriptor subscriptions: each mempool arrival and connected block is
 * matched against the table (a shape-key lookup per revealed script, a script-hash lookup per
 * input and output) and every hit published on its subscription's topic.
 *
 * Reorgs: each disconnected block is matched again (its spent outputs are back in the index)
 * and every hit published as withdrawn, with whether its tx went back to the mempool (the
 * Syncer puts a disconnected block's txs back before it reports the block). Those that did are
 * followed: when a later block neither confirms them nor leaves them in the mempool (a
 * conflicting tx of the new branch), they are withdrawn again with `inMempool` false. Ones that
 * confirm again are published as matches by the block that holds them, as any match is.
 */
export class MatchPusher {
  readonly counts = { match: 0, descriptor: 0, withdrawn: 0 };
  /** txid hex -> withdrawn notifications whose tx is back in the mempool. */
  private readonly pending = new Map<string, Pending[]>();

  constructor(
    private readonly index: Index,
    private readonly mempool: Mempool,
    private readonly table: MatchWatchTable,
    private readonly pub: MatchPublish,
  ) {}

  /** Follows the Syncer's disconnects (blocks and mempool arrivals come through Pusher). */
  attach(syncer: DisconnectEvents): void {
    syncer.on('disconnect', (d) => this.blockDisconnected(d));
  }

  mempoolAdded(e: MempoolEntry): void {
    const { patterns, descriptors } = this.table;
    if (patterns.size > 0) {
      for (const h of patterns.matchEntry(e)) {
        this.counts.match++;
        this.pub.publish(
          MATCH_TOPIC.match(h.subscription),
          'patternMatch',
          patternBody(h, mempoolPatternId(h)),
        );
      }
    }
    if (descriptors.size > 0) {
      for (const h of descriptors.matchEntry(e)) {
        this.counts.descriptor++;
        this.pub.publish(
          MATCH_TOPIC.descriptor(h.watch),
          'descriptorActivity',
          descriptorBody(h, mempoolDescriptorId(h)),
        );
      }
    }
  }

  /**
   * A tx left the mempool without confirming: what it matched when it came is withdrawn (no
   * height, `inMempool` false). A tx followed since a reorg withdrew its confirmed matches is
   * withdrawn again as such (with the height it had), not twice.
   */
  mempoolRemoved(e: MempoolEntry, _why: RemoveReason): void {
    const key = toHex(e.txid);
    const followed = this.pending.get(key);
    const told = new Set<string>();
    if (followed) {
      this.pending.delete(key);
      for (const n of followed) {
        const sub = n.body.subscription;
        if (!this.table.has(sub)) continue;
        told.add(sub);
        this.publishWithdrawn(sub, { ...n, body: { ...n.body, inMempool: false } } as Pending);
      }
    }
    const { patterns, descriptors } = this.table;
    if (patterns.size > 0) {
      for (const h of patterns.matchEntry(e)) {
        if (told.has(h.subscription)) continue;
        this.publishWithdrawn(h.subscription, {
          name: 'patternWithdrawn',
          body: { ...patternBody(h, mempoolPatternId(h)), inMempool: false },
        });
      }
    }
    if (descriptors.size > 0) {
      for (const h of descriptors.matchEntry(e, false)) {
        if (told.has(h.watch)) continue;
        this.publishWithdrawn(h.watch, {
          name: 'descriptorWithdrawn',
          body: { ...descriptorBody(h, mempoolDescriptorId(h)), inMempool: false },
        });
      }
    }
  }

  blockConnected(r: ConnectResult): void {
    if (this.pending.size > 0) this.settlePending(r.block);
    const { patterns, descriptors } = this.table;
    if (patterns.size === 0 && descriptors.size === 0) return;
    const { height, hash, block } = r;
    const hi = onchainHi(height, blockChecksum(hash));
    const positionOf = positions(block);
    const at = { height, blockHash: hash };
    if (patterns.size > 0) {
      for (const h of patterns.matchBlock(this.index, block, height)) {
        this.counts.match++;
        const shortId = shortIdFromParts(hi, patternLo(positionOf(h.txid), h));
        this.pub.publish(MATCH_TOPIC.match(h.subscription), 'patternMatch', patternBody(h, shortId, at));
      }
    }
    if (descriptors.size > 0) {
      for (const h of descriptors.matchBlock(this.index, block, height)) {
        this.counts.descriptor++;
        const shortId = shortIdFromParts(hi, descriptorLo(positionOf(h.txid), h));
        this.pub.publish(
          MATCH_TOPIC.descriptor(h.watch),
          'descriptorActivity',
          descriptorBody(h, shortId, at),
        );
      }
    }
  }

  /** A block taken off the chain (the index is already at the block below it). */
  blockDisconnected(d: DisconnectResult): void {
    const { patterns, descriptors } = this.table;
    if (patterns.size === 0 && descriptors.size === 0) return;
    const { height, hash, block } = d;
    const hi = onchainHi(height, blockChecksum(hash));
    const positionOf = positions(block);
    const at = { height, blockHash: hash };
    const spent = disconnectedSpentOutputs(this.index, block);
    if (patterns.size > 0) {
      const prev = spent.map((o) => o?.script);
      for (const h of patterns.matchBlock(this.index, block, height, prev)) {
        const shortId = shortIdFromParts(hi, patternLo(positionOf(h.txid), h));
        this.withdraw(h.subscription, h.txid, {
          name: 'patternWithdrawn',
          body: { ...patternBody(h, shortId), ...at, inMempool: false },
        });
      }
    }
    if (descriptors.size > 0) {
      for (const h of descriptors.matchBlock(this.index, block, height, spent, false)) {
        const shortId = shortIdFromParts(hi, descriptorLo(positionOf(h.txid), h));
        this.withdraw(h.watch, h.txid, {
          name: 'descriptorWithdrawn',
          body: { ...descriptorBody(h, shortId), ...at, inMempool: false },
        });
      }
    }
  }

  private withdraw(sub: string, txid: Uint8Array, n: Pending): void {
    n.body.inMempool = this.mempool.has(txid);
    this.publishWithdrawn(sub, n);
    if (!n.body.inMempool) return;
    const key = toHex(txid);
    let list = this.pending.get(key);
    if (!list) {
      // Bounded: the oldest followed tx is dropped (its subscriber re-reads after `reorg`).
      if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
      list = [];
      this.pending.set(key, list);
    }
    list.push(n);
  }

  private publishWithdrawn(sub: string, n: Pending): void {
    this.counts.withdrawn++;
    if (n.name === 'patternWithdrawn') this.pub.publish(MATCH_TOPIC.match(sub), n.name, n.body);
    else this.pub.publish(MATCH_TOPIC.descriptor(sub), n.name, n.body);
  }

  /**
   * After a block of the new branch: followed txs it confirms are done (the block's own match
   * says so); ones no longer in the mempool were conflicted out, and are withdrawn for good.
   */
  private settlePending(block: Block): void {
    const inBlock = new Set(block.txs.map((t) => toHex(t.txid())));
    for (const [key, list] of this.pending) {
      if (inBlock.has(key)) {
        this.pending.delete(key);
        continue;
      }
      if (this.mempool.has(list[0].body.txid)) continue;
      this.pending.delete(key);
      for (const n of list) {
        if (!this.table.has(n.body.subscription)) continue;
        this.publishWithdrawn(n.body.subscription, {
          ...n,
          body: { ...n.body, inMempool: false },
        } as Pending);
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
