import { homedir } from 'node:os';
import { join } from 'node:path';
import { fromHex, fromHexReversed, toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { type BpdMessages, bpdMessages, MAX_WATCH_ITEMS } from '@lnpbp/bp-node/api/messages';
import {
  type CurveClientOptions,
  defaultEndpoint,
  type ReplyOf,
  type RequestOptions,
  RpcClient,
  type StatusReply,
} from '@lnpbp/bus';
import {
  type DescriptorSubscribeOptions,
  type MatchSubscribeOptions,
  MatchSubscription,
  type SubscribeOptions,
  Subscription,
} from './subscribe.ts';
import {
  WatchChannel,
  type WatchChannelOptions,
  type WatchSubscribeOptions,
  WatchSubscription,
} from './watch.ts';

/**
 * Typed client of bpd's bus API. Txids and block hashes are display-order hex strings on this
 * side (as every explorer and bitcoin-cli shows them); cursors are hex; short ids are bigint.
 * Errors: RpcError (the server's error reply: `code` from BpdError or the bus's codes) and
 * BusError (timeouts, refused Curve keys, a closed client).
 */

export interface BpClientOptions {
  /** RPC endpoint; default ipc://<datadir>/bpd.rpc.sock. */
  readonly endpoint?: string;
  /** Notification endpoint; default ipc://<datadir>/bpd.pub.sock (or derived from a tcp endpoint: port + 1 is NOT assumed, give it). */
  readonly pubEndpoint?: string;
  /** bpd's datadir for the default endpoints; default ~/.lnpbp/bpd (as bpd's). */
  readonly datadir?: string;
  /** Required for tcp:// endpoints. */
  readonly curve?: CurveClientOptions;
  readonly timeoutMs?: number;
}

export const DEFAULT_DATADIR = join(homedir(), '.lnpbp', 'bpd');

/** A script to ask about: an address, scriptPubKey hex, or an Electrum-style script hash (display hex). */
export type ScriptQuery = { address: string } | { script: string | Uint8Array } | { scriptHash: string };

export interface HeaderInfo {
  height: number;
  hash: string;
  shortId: bigint;
  header: string;
  txCount: number;
  size: number;
}

export interface TxInfo {
  txid: string;
  raw: Uint8Array;
  /** null: in the mempool. */
  height: number | null;
  blockHash: string | null;
  position: number | null;
  shortId: bigint;
}

export type Outspend =
  | { spent: false }
  | { spent: true; txid: string; vin: number; height: number | null; shortId: bigint };

export interface HistoryEntry {
  txid: string;
  height: number | null;
  kind: 'funding' | 'spending';
  /** vout for funding, vin for spending. */
  index: number;
  value: bigint;
  shortId: bigint;
}

export interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
  height: number | null;
  shortId: bigint;
}

export interface Page<T> {
  items: T[];
  /** Hex cursor of the next page; null at the end. */
  next: string | null;
}

export interface PageOptions {
  cursor?: string | null;
  limit?: number;
}

export interface Info {
  network: string;
  tip: { height: number; hash: string } | null;
  baseHeight: number | null;
  sourceTipHeight: number | null;
  syncing: boolean;
  mempoolTxs: number;
  mempoolBytes: number;
  indexBytes: number;
  blockFileBytes: number;
  watchSets: number;
  watchItems: number;
  uptimeSec: number;
  version: string;
  source: string;
}

export interface WatchRequest {
  subscription?: string;
  /** The channel whose "watch/<channel>" topic carries the set's matches; default: the set's own. */
  channel?: string;
  outpoints?: readonly { txid: string; vout: number }[];
  /** scriptPubKeys, hex or bytes. */
  scripts?: readonly (string | Uint8Array)[];
  addresses?: readonly string[];
  persist?: boolean;
}

/** A script reveal matching a pattern (see bpd's `match`). */
export interface MatchEntry {
  txid: string;
  /** The revealing input; null for a non-standard scriptPubKey (then vout). */
  vin: number | null;
  vout: number | null;
  /** null: in the mempool. */
  height: number | null;
  context: 'p2sh' | 'p2wsh' | 'tapscript' | 'scriptPubKey';
  /** The revealed script, hex. */
  script: string;
  /** Its normalized shape. */
  shape: string;
  /** Wildcard values: keys and hashes hex, numbers as numbers. */
  bindings: Record<string, string | number>;
  shortId: bigint;
}

/** Where a descriptor item's script comes from: derivation index (null: not ranged) and multipath branch. */
export interface Derivation {
  script: string;
  derivationIndex: number | null;
  branch: number;
}

export type DescriptorHistoryEntry = HistoryEntry & Derivation;
export type DescriptorUtxo = Utxo & Derivation;

export interface DescriptorPageOptions extends PageOptions {
  /** Gap limit for ranged descriptors (default 20, at most 10,000). */
  gap?: number;
}

export interface DescriptorBalance {
  confirmed: bigint;
  /** Mempool outputs paying, and mempool inputs spending from, the descriptor's scripts. */
  unconfirmedIn: bigint;
  unconfirmedOut: bigint;
  utxoCount: number;
  usedScripts: number;
  derivedScripts: number;
  /** Per multipath branch: last used derivation index (null: none) and the next unused. */
  branches: { lastUsed: number | null; nextIndex: number }[];
}

/** Bindings from the wire's list form. */
export function bindingsOf(list: readonly { name: string; value: string; number: boolean }[]) {
  const o: Record<string, string | number> = {};
  for (const b of list) o[b.name] = b.number ? Number(b.value) : b.value;
  return o;
}

const rev = (s: string, what: string) => fromHexReversed(s, what);
const opt = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const bytes = (v: string | Uint8Array, what: string) => (typeof v === 'string' ? fromHex(v, what) : v);

function scriptFields(q: ScriptQuery) {
  if ('address' in q) return { address: q.address };
  if ('script' in q) return { script: bytes(q.script, 'script') };
  // Electrum shows sha256(script) reversed; the wire carries it in internal order.
  return { scriptHash: rev(q.scriptHash, 'scriptHash') };
}

/** Reads a CLI-style argument: 64 hex digits = script hash, other hex = script, anything else = address. */
export function parseScriptArg(text: string): ScriptQuery {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { scriptHash: text };
  if (/^([0-9a-fA-F]{2})+$/.test(text)) return { script: text };
  return { address: text };
}

function header(h: ReplyOf<BpdMessages, 'header'>): HeaderInfo {
  return { ...h, hash: toHexReversed(h.hash), header: toHex(h.header) };
}

function spend(s: ReplyOf<BpdMessages, 'outspend'>['spend']): Outspend {
  if (!s.spent) return { spent: false };
  return {
    spent: true,
    txid: toHexReversed(s.txid!),
    vin: s.vin!,
    height: opt(s.height),
    shortId: s.shortId!,
  };
}

export class BpClient {
  private constructor(
    readonly rpc: RpcClient<BpdMessages>,
    private readonly options: BpClientOptions,
  ) {}

  /** Connects (with the bus handshake: the server must be bpd of this schema version). */
  static async connect(options: BpClientOptions = {}): Promise<BpClient> {
    const datadir = options.datadir ?? DEFAULT_DATADIR;
    const endpoint = options.endpoint ?? defaultEndpoint(datadir, 'bpd', 'rpc');
    const rpc = await RpcClient.connect({
      schema: bpdMessages,
      endpoint,
      curve: options.curve,
      timeoutMs: options.timeoutMs,
    });
    return new BpClient(rpc, { ...options, datadir, endpoint });
  }

  /** The endpoint notifications come from. */
  get pubEndpoint(): string {
    if (this.options.pubEndpoint) return this.options.pubEndpoint;
    const ep = this.options.endpoint!;
    if (ep.startsWith('ipc://') && ep.endsWith('.rpc.sock')) return ep.replace(/\.rpc\.sock$/, '.pub.sock');
    return defaultEndpoint(this.options.datadir!, 'bpd', 'pub');
  }

  get curve(): CurveClientOptions | undefined {
    return this.options.curve;
  }

  /** The bus's built-in status (request counters, rejects). */
  busStatus(o?: RequestOptions): Promise<StatusReply> {
    return this.rpc.status(o);
  }

  async getinfo(o?: RequestOptions): Promise<Info> {
    const r = await this.rpc.request('getinfo', {}, o);
    return {
      network: r.network,
      tip:
        r.tipHeight !== undefined && r.tipHash
          ? { height: r.tipHeight, hash: toHexReversed(r.tipHash) }
          : null,
      baseHeight: opt(r.baseHeight),
      sourceTipHeight: opt(r.sourceTipHeight),
      syncing: r.syncing,
      mempoolTxs: r.mempoolTxs,
      mempoolBytes: Number(r.mempoolBytes),
      indexBytes: Number(r.indexBytes),
      blockFileBytes: Number(r.blockFileBytes),
      watchSets: r.watchSets,
      watchItems: r.watchItems,
      uptimeSec: r.uptimeSec,
      version: r.version,
      source: r.source,
    };
  }

  /** By height (number) or display-hex hash. */
  async header(sel: number | string, o?: RequestOptions): Promise<HeaderInfo> {
    return header(await this.rpc.request('header', blockSel(sel), o));
  }

  async block(sel: number | string, o?: RequestOptions): Promise<HeaderInfo & { raw: Uint8Array }> {
    const r = await this.rpc.request('block', blockSel(sel), o);
    return { ...header(r), raw: r.raw };
  }

  /** By display-hex txid or LNPBP-5 short id. */
  async tx(sel: string | bigint, o?: RequestOptions): Promise<TxInfo> {
    const body = typeof sel === 'bigint' ? { shortId: sel } : { txid: rev(sel, 'txid') };
    const r = await this.rpc.request('tx', body, o);
    return {
      txid: toHexReversed(r.txid),
      raw: r.raw,
      height: opt(r.height),
      blockHash: r.blockHash ? toHexReversed(r.blockHash) : null,
      position: opt(r.position),
      shortId: r.shortId,
    };
  }

  async outspend(txid: string, vout: number, o?: RequestOptions): Promise<Outspend> {
    return spend((await this.rpc.request('outspend', { txid: rev(txid, 'txid'), vout }, o)).spend);
  }

  async outspends(txid: string, o?: RequestOptions): Promise<Outspend[]> {
    return (await this.rpc.request('outspends', { txid: rev(txid, 'txid') }, o)).spends.map(spend);
  }

  async history(q: ScriptQuery, p: PageOptions = {}, o?: RequestOptions): Promise<Page<HistoryEntry>> {
    const r = await this.rpc.request('history', { ...scriptFields(q), ...pageFields(p) }, o);
    return {
      items: r.items.map((i) => ({
        txid: toHexReversed(i.txid),
        height: opt(i.height),
        kind: i.kind === 0 ? 'funding' : 'spending',
        index: i.index,
        value: i.value,
        shortId: i.shortId,
      })),
      next: r.next ? toHex(r.next) : null,
    };
  }

  /** Every history entry, page by page (constant memory on both ends). */
  async *historyAll(q: ScriptQuery, pageSize = 1000): AsyncGenerator<HistoryEntry> {
    let cursor: string | null = null;
    do {
      const page: Page<HistoryEntry> = await this.history(q, { cursor, limit: pageSize });
      yield* page.items;
      cursor = page.next;
    } while (cursor !== null);
  }

  async utxos(q: ScriptQuery, p: PageOptions = {}, o?: RequestOptions): Promise<Page<Utxo>> {
    const r = await this.rpc.request('utxos', { ...scriptFields(q), ...pageFields(p) }, o);
    return {
      items: r.items.map((u) => ({ ...u, txid: toHexReversed(u.txid), height: opt(u.height) })),
      next: r.next ? toHex(r.next) : null,
    };
  }

  balance(q: ScriptQuery, o?: RequestOptions) {
    return this.rpc.request('balance', scriptFields(q), o);
  }

  async shortidResolve(shortId: bigint, o?: RequestOptions) {
    const r = await this.rpc.request('shortidResolve', { shortId }, o);
    return {
      kind: r.kind,
      height: opt(r.height),
      blockHash: r.blockHash ? toHexReversed(r.blockHash) : null,
      txid: r.txid ? toHexReversed(r.txid) : null,
      index: opt(r.index),
    };
  }

  shortidOf(
    q: { blockHash: string } | { txid: string; vin?: number; vout?: number },
    o?: RequestOptions,
  ): Promise<{ shortId: bigint; confirmed: boolean }> {
    if ('blockHash' in q)
      return this.rpc.request('shortidOf', { blockHash: rev(q.blockHash, 'blockHash') }, o);
    return this.rpc.request('shortidOf', { txid: rev(q.txid, 'txid'), vin: q.vin, vout: q.vout }, o);
  }

  async mempoolList(p: PageOptions = {}, o?: RequestOptions): Promise<Page<string>> {
    const r = await this.rpc.request('mempoolList', pageFields(p), o);
    return { items: r.txids.map(toHexReversed), next: r.next ? toHex(r.next) : null };
  }

  async mempoolEntry(txid: string, o?: RequestOptions) {
    const r = await this.rpc.request('mempoolEntry', { txid: rev(txid, 'txid') }, o);
    return { ...r, fee: opt(r.fee) };
  }

  async feeHistogram(o?: RequestOptions): Promise<{ feeRate: number; vsize: number }[]> {
    return (await this.rpc.request('feeHistogram', {}, o)).bins.map((b) => ({
      feeRate: b.feeRate,
      vsize: Number(b.vsize),
    }));
  }

  /** Relays a raw tx (hex or bytes) through bpd's chain source; returns its txid. */
  async broadcast(raw: string | Uint8Array, o?: RequestOptions): Promise<string> {
    return toHexReversed((await this.rpc.request('broadcast', { raw: bytes(raw, 'raw') }, o)).txid);
  }

  /**
   * Creates or extends a watch set, in as many requests as its size needs (each request holds
   * at most MAX_WATCH_ITEMS of each kind). Returns the subscription id and the set's totals.
   */
  async watch(w: WatchRequest, o?: RequestOptions) {
    const outpoints = (w.outpoints ?? []).map((p) => ({ txid: rev(p.txid, 'txid'), vout: p.vout }));
    const scripts = (w.scripts ?? []).map((s) => bytes(s, 'script'));
    const addresses = [...(w.addresses ?? [])];
    let subscription = w.subscription;
    let r: ReplyOf<BpdMessages, 'watch'> | undefined;
    let i = 0;
    do {
      const slice = <T>(a: T[]) => a.slice(i, i + MAX_WATCH_ITEMS);
      r = await this.rpc.request(
        'watch',
        {
          subscription,
          channel: w.channel,
          outpoints: slice(outpoints),
          scripts: slice(scripts),
          addresses: slice(addresses),
          persist: w.persist ?? false,
        },
        o,
      );
      subscription = r.subscription;
      i += MAX_WATCH_ITEMS;
    } while (i < Math.max(outpoints.length, scripts.length, addresses.length));
    return r;
  }

  /** Script reveals matching a miniscript pattern or ASM template (confirmed, then mempool); paged. */
  async match(pattern: string, p: PageOptions = {}, o?: RequestOptions): Promise<Page<MatchEntry>> {
    const r = await this.rpc.request('match', { pattern, ...pageFields(p) }, o);
    return {
      items: r.items.map((i) => ({
        txid: toHexReversed(i.txid),
        vin: opt(i.vin),
        vout: opt(i.vout),
        height: opt(i.height),
        context: i.context as MatchEntry['context'],
        script: toHex(i.script),
        shape: i.shape,
        bindings: bindingsOf(i.bindings),
        shortId: i.shortId,
      })),
      next: r.next ? toHex(r.next) : null,
    };
  }

  /** Confirmed history of every script a descriptor derives (gap-limited), with derivation indexes. */
  async descriptorHistory(
    descriptor: string,
    p: DescriptorPageOptions = {},
    o?: RequestOptions,
  ): Promise<Page<DescriptorHistoryEntry>> {
    const r = await this.rpc.request(
      'descriptorHistory',
      { descriptor, gap: p.gap ?? 0, ...pageFields(p) },
      o,
    );
    return {
      items: r.items.map((i) => ({
        txid: toHexReversed(i.txid),
        height: opt(i.height),
        kind: i.kind === 0 ? 'funding' : 'spending',
        index: i.index,
        value: i.value,
        shortId: i.shortId,
        script: toHex(i.script),
        derivationIndex: opt(i.derivationIndex),
        branch: i.branch,
      })),
      next: r.next ? toHex(r.next) : null,
    };
  }

  async descriptorUtxos(
    descriptor: string,
    p: DescriptorPageOptions = {},
    o?: RequestOptions,
  ): Promise<Page<DescriptorUtxo>> {
    const r = await this.rpc.request('descriptorUtxos', { descriptor, gap: p.gap ?? 0, ...pageFields(p) }, o);
    return {
      items: r.items.map((u) => ({
        txid: toHexReversed(u.txid),
        vout: u.vout,
        value: u.value,
        height: opt(u.height),
        shortId: u.shortId,
        script: toHex(u.script),
        derivationIndex: opt(u.derivationIndex),
        branch: u.branch,
      })),
      next: r.next ? toHex(r.next) : null,
    };
  }

  async descriptorBalance(
    descriptor: string,
    p: { gap?: number } = {},
    o?: RequestOptions,
  ): Promise<DescriptorBalance> {
    const r = await this.rpc.request('descriptorBalance', { descriptor, gap: p.gap ?? 0 }, o);
    return { ...r, branches: r.branches.map((b) => ({ lastUsed: opt(b.lastUsed), nextIndex: b.nextIndex })) };
  }

  /** Registers a pattern subscription (matches on "match/<subscription>"); see subscribeMatch. */
  watchPattern(pattern: string, w: { subscription?: string; persist?: boolean } = {}, o?: RequestOptions) {
    return this.rpc.request(
      'watchPattern',
      { pattern, subscription: w.subscription, persist: w.persist ?? false },
      o,
    );
  }

  /** Registers a descriptor watch (activity on "descriptor/<subscription>"); see subscribeDescriptor. */
  async watchDescriptor(
    descriptor: string,
    w: { subscription?: string; gap?: number; persist?: boolean } = {},
    o?: RequestOptions,
  ) {
    const r = await this.rpc.request(
      'watchDescriptor',
      { descriptor, subscription: w.subscription, gap: w.gap ?? 0, persist: w.persist ?? false },
      o,
    );
    return {
      ...r,
      branches: r.branches.map((b) => ({ lastUsed: opt(b.lastUsed), derived: b.derived })),
    };
  }

  /**
   * Subscribes to a pattern's matches (mempool and confirmed), then registers it: no match
   * between the two is missed. Re-registered after a bpd restart.
   */
  subscribeMatch(pattern: string, opts: MatchSubscribeOptions): Promise<MatchSubscription> {
    return MatchSubscription.open(this, { kind: 'pattern', text: pattern }, opts);
  }

  /** As subscribeMatch, for a descriptor's activity (funding and spending, with derivation index). */
  subscribeDescriptor(
    descriptor: string,
    opts: DescriptorSubscribeOptions & { gap?: number },
  ): Promise<MatchSubscription> {
    return MatchSubscription.open(this, { kind: 'descriptor', text: descriptor, gap: opts.gap }, opts);
  }

  async unwatch(subscription: string, o?: RequestOptions): Promise<boolean> {
    return (await this.rpc.request('unwatch', { subscription }, o)).removed;
  }

  /** Asks bpd to publish `pong` on "ping/<token hex>". */
  async ping(token: bigint, o?: RequestOptions): Promise<void> {
    await this.rpc.request('ping', { token }, o);
  }

  /**
   * Subscribes to topics ("block", "reorg", "tx", "watch/<channel>", or prefixes) and
   * resolves once the subscription is active (confirmed by a ping through the publisher).
   */
  subscribe(topics: readonly string[], opts: SubscribeOptions): Promise<Subscription> {
    return Subscription.open(this, topics, opts);
  }

  /**
   * Registers a watch set and subscribes to its matches (plus `reorg`): the subscription is
   * active before the set is registered, so no match is missed. On a gap or a bpd restart the
   * set is registered again (if it was not persisted it is gone) and `onResync` runs: the app
   * re-reads what it watches by query.
   */
  watchSubscribe(w: WatchRequest, opts: WatchSubscribeOptions): Promise<WatchSubscription> {
    return WatchSubscription.open(this, w, opts);
  }

  /**
   * Opens a channel for many watch sets (`channel.watch(request)` adds one): bpd publishes the
   * matches of all of them as one message per block and per mempool tx. Resolves once the
   * channel's topic is active; gaps and restarts as for watchSubscribe, for the whole channel.
   */
  watchChannel(opts: WatchChannelOptions = {}): Promise<WatchChannel> {
    return WatchChannel.open(this, opts);
  }

  close(): void {
    this.rpc.close();
  }
}

function blockSel(sel: number | string) {
  return typeof sel === 'number' ? { height: sel } : { hash: rev(sel, 'hash') };
}

function pageFields(p: PageOptions) {
  return { cursor: p.cursor ? fromHex(p.cursor, 'cursor') : undefined, limit: p.limit ?? 0 };
}
