import { EventEmitter } from 'node:events';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import {
  blockChecksum,
  inputLo,
  offchainInputId,
  offchainOutputId,
  onchainHi,
  outputLo,
  shortIdFromParts,
} from '@lnpbp/bitcoin/shortid/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import type { BodyOf, NotificationName } from '@lnpbp/bus';
import type { ConnectResult, Index } from '../index/index.ts';
import type { AddResult, Mempool, MempoolEntry } from '../index/mempool.ts';
import { type BpdMessages, MAX_BATCH_ITEMS, WATCH_BATCH_BYTES } from './messages.ts';
import { outpointKey, type WatchSet, type WatchTable } from './watch.ts';

/** What push needs of a publisher (the bus's Publisher fits; tests may record instead). */
export interface Publish {
  publish<N extends NotificationName<BpdMessages>>(
    topic: string,
    name: N,
    body: BodyOf<BpdMessages, N>,
  ): unknown;
}

export const TOPIC = {
  block: 'block',
  reorg: 'reorg',
  tx: 'tx',
  watch: (channel: string) => `watch/${channel}`,
  ping: (token: bigint) => `ping/${token.toString(16).padStart(16, '0')}`,
} as const;

/** Pattern and descriptor subscriptions (api/match.ts MatchPusher), matched after the watch sets. */
export interface MatchPush {
  mempoolAdded(e: MempoolEntry): void;
  blockConnected(r: ConnectResult): void;
}

interface SyncEvents {
  on(event: 'block', cb: (r: ConnectResult) => void): unknown;
  on(
    event: 'reorg',
    cb: (r: { fromHeight: number; toHeight: number; forkHash: Uint8Array }) => void,
  ): unknown;
}

type WatchMatches = BodyOf<BpdMessages, 'watchMatches'>;
type SubMatches = WatchMatches['subscriptions'][number];
type SpendMatch = SubMatches['spends'][number];
type ScriptMatch = SubMatches['scripts'][number];

/**
 * Encoded size bounds, for cutting a channel's batch into parts below WATCH_BATCH_BYTES (one
 * entry always fits an empty part: a script is at most MAX_SCRIPT bytes). Ids are ASCII, so
 * their length is their byte length.
 */
const SPEND_BYTES = 32 + 4 + 32 + 4 + 8;
const SCRIPT_BYTES = 3 + 32 + 1 + 4 + 8 + 8;
/** Plus the id: its length byte and two list counts. */
const SUB_BYTES = 1 + 2 * 3;
/** Plus the channel id: optional height and hash, `more`, the list count. */
const HEADER_BYTES = 1 + 5 + 33 + 1 + 3;

/**
 * The matches of one block or one mempool tx, gathered per channel and per set, then published
 * as one `watchMatches` per channel: the cost per block is one encode and one send per channel,
 * whatever the number of matches (the per-match part is a push onto an array).
 */
class Batch {
  private readonly bySet = new Map<WatchSet, SubMatches>();
  spends = 0;
  scripts = 0;

  private entry(set: WatchSet): SubMatches {
    let e = this.bySet.get(set);
    if (!e) {
      e = { subscription: set.id, spends: [], scripts: [] };
      this.bySet.set(set, e);
    }
    return e;
  }

  spend(set: WatchSet, m: SpendMatch): void {
    this.entry(set).spends.push(m);
    this.spends++;
  }

  script(set: WatchSet, m: ScriptMatch): void {
    this.entry(set).scripts.push(m);
    this.scripts++;
  }

  get empty(): boolean {
    return this.bySet.size === 0;
  }

  /**
   * Per channel, its sets' matches: one part when they fit MAX_BATCH_ITEMS entries and
   * WATCH_BATCH_BYTES (nearly always), else cut entry by entry into parts that do.
   */
  *parts(): Generator<{ channel: string; subs: SubMatches[]; more: boolean }> {
    const byChannel = new Map<string, SubMatches[]>();
    for (const [set, e] of this.bySet) {
      const list = byChannel.get(set.channel);
      if (list) list.push(e);
      else byChannel.set(set.channel, [e]);
    }
    for (const [channel, subs] of byChannel) {
      const header = HEADER_BYTES + channel.length;
      let items = 0;
      let bytes = header;
      for (const e of subs) {
        items += e.spends.length + e.scripts.length;
        bytes += SUB_BYTES + e.subscription.length + e.spends.length * SPEND_BYTES;
        for (const m of e.scripts) bytes += SCRIPT_BYTES + m.script.length;
      }
      if (items <= MAX_BATCH_ITEMS && bytes <= WATCH_BATCH_BYTES) {
        yield { channel, subs, more: false };
        continue;
      }
      let part: SubMatches[] = [];
      let cur: SubMatches | undefined;
      items = 0;
      bytes = header;
      // Room for one more entry of `size` bytes in the current part, else the part goes out.
      const room = function* (size: number, subscription: string) {
        const subBytes = cur ? 0 : SUB_BYTES + subscription.length;
        if (items + 1 > MAX_BATCH_ITEMS || bytes + size + subBytes > WATCH_BATCH_BYTES) {
          yield { channel, subs: part, more: true };
          part = [];
          cur = undefined;
          items = 0;
          bytes = header;
        }
        if (!cur) {
          cur = { subscription, spends: [], scripts: [] };
          part.push(cur);
          bytes += SUB_BYTES + subscription.length;
        }
        items++;
        bytes += size;
      };
      for (const e of subs) {
        cur = undefined;
        for (const m of e.spends) {
          yield* room(SPEND_BYTES, e.subscription);
          cur!.spends.push(m);
        }
        for (const m of e.scripts) {
          yield* room(SCRIPT_BYTES + m.script.length, e.subscription);
          cur!.scripts.push(m);
        }
      }
      if (part.length > 0) yield { channel, subs: part, more: false };
    }
  }
}

/**
 * Turns index and mempool changes into notifications: every connected block (`block`), every
 * reorg (`reorg`), every mempool arrival (`tx`), and the matches against the watch table, one
 * `watchMatches` per channel per block or tx (`watch/<channel>`). The Mempool has no arrival
 * event, so its `add` is wrapped on this instance (txs that come back from disconnected blocks
 * go through `add` too, so they are announced again).
 */
export class Pusher extends EventEmitter {
  /** Published by kind, for status: spend and script count match entries, watchMatches messages. */
  readonly counts = { block: 0, reorg: 0, tx: 0, spend: 0, script: 0, watchMatches: 0 };
  private readonly topics = new Map<string, string>();

  constructor(
    private readonly index: Index,
    private readonly mempool: Mempool,
    private readonly watches: WatchTable,
    private readonly pub: Publish,
    private readonly matches?: MatchPush,
  ) {
    super();
  }

  attach(syncer: SyncEvents): void {
    const mp = this.mempool;
    const add = mp.add.bind(mp);
    mp.add = (raw: Uint8Array, time?: number): AddResult => {
      const r = add(raw, time);
      if (r === 'added') {
        const e = mp.get(parseTx(raw).txid());
        if (e) this.mempoolAdded(e);
      }
      return r;
    };
    syncer.on('block', (r) => this.blockConnected(r));
    syncer.on('reorg', (r) => {
      this.counts.reorg++;
      this.pub.publish(TOPIC.reorg, 'reorg', r);
      this.emit('published');
    });
  }

  private publishBatch(b: Batch, block?: { height: number; hash: Uint8Array }): void {
    if (b.empty) return;
    this.counts.spend += b.spends;
    this.counts.script += b.scripts;
    for (const p of b.parts()) {
      let topic = this.topics.get(p.channel);
      if (topic === undefined) {
        topic = TOPIC.watch(p.channel);
        // Bounded by the channels that ever matched; a channel is a client's, not a set's.
        if (this.topics.size > 100_000) this.topics.clear();
        this.topics.set(p.channel, topic);
      }
      this.counts.watchMatches++;
      this.pub.publish(topic, 'watchMatches', {
        channel: p.channel,
        height: block?.height,
        blockHash: block?.hash,
        more: p.more,
        subscriptions: p.subs,
      });
    }
  }

  mempoolAdded(e: MempoolEntry): void {
    this.counts.tx++;
    this.pub.publish(TOPIC.tx, 'mempoolTx', {
      txid: e.txid,
      shortId: e.shortId,
      vsize: e.vsize,
      fee: e.fee ?? undefined,
    });
    const w = this.watches;
    const b = new Batch();
    if (w.hasOutpoints) {
      for (const [vin, inp] of e.tx.inputs.entries()) {
        const sets = w.watchersOfOutpoint(outpointKey(inp.prevTxid, inp.vout));
        if (!sets) continue;
        const shortId = this.mempool.outspend(inp.prevTxid, inp.vout)?.shortId ?? 0n;
        for (const set of sets)
          b.spend(set, { txid: inp.prevTxid, vout: inp.vout, spendingTxid: e.txid, vin, shortId });
      }
    }
    if (w.hasScripts) {
      for (const [vin, hash] of e.spentScripts.entries()) {
        const sets = hash === null ? undefined : w.watchersOfScript(hash);
        if (!sets || hash === null) continue;
        const inp = e.tx.inputs[vin];
        const value = this.prevValue(inp.prevTxid, inp.vout);
        const shortId = offchainInputId(e.txid, vin);
        for (const set of sets) {
          const script = set.scripts.get(hash)!;
          b.script(set, { script, txid: e.txid, kind: 1, index: vin, value, shortId });
        }
      }
      for (const [vout, hash] of e.outScripts.entries()) {
        const sets = w.watchersOfScript(hash);
        if (!sets) continue;
        const { value } = e.tx.outputs[vout];
        const shortId = offchainOutputId(e.txid, vout);
        for (const set of sets) {
          const script = set.scripts.get(hash)!;
          b.script(set, { script, txid: e.txid, kind: 0, index: vout, value, shortId });
        }
      }
    }
    this.publishBatch(b);
    this.matches?.mempoolAdded(e);
    this.emit('published');
  }

  private prevValue(txid: Uint8Array, vout: number): bigint {
    const parent = this.mempool.get(txid);
    if (parent) return parent.tx.outputs[vout]?.value ?? 0n;
    return this.index.output(txid, vout)?.value ?? 0n;
  }

  blockConnected(r: ConnectResult): void {
    const { height, hash, block } = r;
    const hi = onchainHi(height, blockChecksum(hash));
    this.counts.block++;
    this.pub.publish(TOPIC.block, 'blockConnected', {
      height,
      hash,
      shortId: shortIdFromParts(hi, 0),
      txCount: block.txs.length,
    });
    const w = this.watches;
    const b = new Batch();
    if (w.hasOutpoints) this.blockSpends(r, hi, b);
    if (w.hasScripts) this.blockScripts(r, hi, b);
    this.publishBatch(b, { height, hash });
    this.matches?.blockConnected(r);
    this.emit('published');
  }

  private blockSpends({ block }: ConnectResult, hi: number, b: Batch): void {
    const w = this.watches;
    const txs = block.txs;
    for (let p = 1; p < txs.length; p++) {
      const tx = txs[p];
      let txid: Uint8Array | undefined;
      for (let vin = 0; vin < tx.inputs.length; vin++) {
        const inp = tx.inputs[vin];
        const sets = w.watchersOfOutpoint(outpointKey(inp.prevTxid, inp.vout));
        if (!sets) continue;
        txid ??= tx.txid();
        const m = {
          txid: inp.prevTxid,
          vout: inp.vout,
          spendingTxid: txid,
          vin,
          shortId: shortIdFromParts(hi, inputLo(p, vin)),
        };
        for (const set of sets) b.spend(set, m);
      }
    }
  }

  /**
   * Funding: the block's output scripts hashed and looked up. Spending: the spent outputs'
   * scripts and values as connectBlock resolved them for the undo record (none for an output
   * below the index's base: its script is not known).
   */
  private blockScripts(r: ConnectResult, hi: number, b: Batch): void {
    const w = this.watches;
    const txs = r.block.txs;
    let k = 0;
    for (let p = 0; p < txs.length; p++) {
      const tx = txs[p];
      let txid: Uint8Array | undefined;
      if (p > 0) {
        for (let vin = 0; vin < tx.inputs.length; vin++, k++) {
          const prev = r.prevScripts[k];
          if (prev === undefined) continue;
          const h = toHex(sha256(prev));
          const sets = w.watchersOfScript(h);
          if (!sets) continue;
          txid ??= tx.txid();
          const value = r.prevValues[k];
          const shortId = shortIdFromParts(hi, inputLo(p, vin));
          for (const set of sets)
            b.script(set, { script: set.scripts.get(h)!, txid, kind: 1, index: vin, value, shortId });
        }
      }
      for (let vout = 0; vout < tx.outputs.length; vout++) {
        const o = tx.outputs[vout];
        const h = toHex(sha256(o.scriptPubKey));
        const sets = w.watchersOfScript(h);
        if (!sets) continue;
        txid ??= tx.txid();
        const shortId = shortIdFromParts(hi, outputLo(p, vout));
        for (const set of sets)
          b.script(set, { script: set.scripts.get(h)!, txid, kind: 0, index: vout, value: o.value, shortId });
      }
    }
  }
}
