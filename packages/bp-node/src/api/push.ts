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
import type { Block } from '@lnpbp/bitcoin/tx/types';
import type { BodyOf } from '@lnpbp/bus';
import type { ConnectResult, Index } from '../index/index.ts';
import type { AddResult, Mempool, MempoolEntry } from '../index/mempool.ts';
import type { BpdMessages } from './messages.ts';
import { outpointKey, type WatchTable } from './watch.ts';

/** What push needs of a publisher (the bus's Publisher fits; tests may record instead). */
export interface Publish {
  publish<
    N extends
      | 'blockConnected'
      | 'reorg'
      | 'mempoolTx'
      | 'spend'
      | 'scriptActivity'
      | 'pong'
      | 'patternMatch'
      | 'descriptorActivity',
  >(topic: string, name: N, body: BodyOf<BpdMessages, N>): unknown;
}

export const TOPIC = {
  block: 'block',
  reorg: 'reorg',
  tx: 'tx',
  spend: (sub: string) => `spend/${sub}`,
  script: (sub: string) => `script/${sub}`,
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

/**
 * Turns index and mempool changes into notifications: every connected block (`block`), every
 * reorg (`reorg`), every mempool arrival (`tx`), and matches against the watch table (`spend`,
 * `script`). The Mempool has no arrival event, so its `add` is wrapped on this instance (txs
 * that come back from disconnected blocks go through `add` too, so they are announced again).
 */
export class Pusher extends EventEmitter {
  /** Notifications published by kind, for status. */
  readonly counts = { block: 0, reorg: 0, tx: 0, spend: 0, script: 0 };

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

  mempoolAdded(e: MempoolEntry): void {
    this.counts.tx++;
    this.pub.publish(TOPIC.tx, 'mempoolTx', {
      txid: e.txid,
      shortId: e.shortId,
      vsize: e.vsize,
      fee: e.fee ?? undefined,
    });
    const w = this.watches;
    if (w.hasOutpoints) {
      for (const [vin, inp] of e.tx.inputs.entries()) {
        const subs = w.watchersOfOutpoint(outpointKey(inp.prevTxid, inp.vout));
        if (!subs) continue;
        const shortId = this.mempool.outspend(inp.prevTxid, inp.vout)?.shortId ?? 0n;
        for (const sub of subs) {
          this.counts.spend++;
          this.pub.publish(TOPIC.spend(sub), 'spend', {
            subscription: sub,
            txid: inp.prevTxid,
            vout: inp.vout,
            spendingTxid: e.txid,
            vin,
            shortId,
          });
        }
      }
    }
    if (w.hasScripts) {
      for (const [vin, hash] of e.spentScripts.entries()) {
        const subs = hash === null ? undefined : w.watchersOfScript(hash);
        if (!subs || hash === null) continue;
        const inp = e.tx.inputs[vin];
        const value = this.prevValue(inp.prevTxid, inp.vout);
        this.scriptMatch(subs, hash, {
          txid: e.txid,
          kind: 1,
          index: vin,
          value,
          shortId: offchainInputId(e.txid, vin),
        });
      }
      for (const [vout, hash] of e.outScripts.entries()) {
        const subs = w.watchersOfScript(hash);
        if (!subs) continue;
        this.scriptMatch(subs, hash, {
          txid: e.txid,
          kind: 0,
          index: vout,
          value: e.tx.outputs[vout].value,
          shortId: offchainOutputId(e.txid, vout),
        });
      }
    }
    this.matches?.mempoolAdded(e);
    this.emit('published');
  }

  private prevValue(txid: Uint8Array, vout: number): bigint {
    const parent = this.mempool.get(txid);
    if (parent) return parent.tx.outputs[vout]?.value ?? 0n;
    return this.index.output(txid, vout)?.value ?? 0n;
  }

  private scriptMatch(
    subs: ReadonlySet<string>,
    hash: string,
    m: { txid: Uint8Array; kind: number; index: number; value: bigint; shortId: bigint },
    block?: { height: number; hash: Uint8Array },
  ): void {
    for (const sub of subs) {
      const script = this.watches.scriptOf(sub, hash);
      if (!script) continue;
      this.counts.script++;
      this.pub.publish(TOPIC.script(sub), 'scriptActivity', {
        subscription: sub,
        script,
        ...m,
        height: block?.height,
        blockHash: block?.hash,
      });
    }
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
    if (w.hasOutpoints) this.blockSpends(block, hi, height, hash);
    if (w.hasScripts) this.blockScripts(block, hi, height, hash);
    this.matches?.blockConnected(r);
    this.emit('published');
  }

  private blockSpends(block: Block, hi: number, height: number, hash: Uint8Array): void {
    const w = this.watches;
    for (const [position, tx] of block.txs.entries()) {
      if (position === 0) continue;
      let txid: Uint8Array | undefined;
      for (const [vin, inp] of tx.inputs.entries()) {
        const subs = w.watchersOfOutpoint(outpointKey(inp.prevTxid, inp.vout));
        if (!subs) continue;
        txid ??= tx.txid();
        for (const sub of subs) {
          this.counts.spend++;
          this.pub.publish(TOPIC.spend(sub), 'spend', {
            subscription: sub,
            txid: inp.prevTxid,
            vout: inp.vout,
            spendingTxid: txid,
            vin,
            shortId: shortIdFromParts(hi, inputLo(position, vin)),
            height,
            blockHash: hash,
          });
        }
      }
    }
  }

  /**
   * Funding: the block's output scripts hashed and looked up. Spending: the spent output's script
   * is not in the block, so the index answers it (its value for an indexed output, from the
   * block's own earlier txs, else nothing: outputs below an index's base are not known).
   */
  private blockScripts(block: Block, hi: number, height: number, hash: Uint8Array): void {
    const w = this.watches;
    const at = { height, hash };
    const own = new Map<string, { value: bigint; script: Uint8Array }>();
    for (const [position, tx] of block.txs.entries()) {
      const txid = tx.txid();
      const txHex = toHex(txid);
      if (position > 0) {
        for (const [vin, inp] of tx.inputs.entries()) {
          const key = outpointKey(inp.prevTxid, inp.vout);
          const prev = own.get(key) ?? this.index.output(inp.prevTxid, inp.vout);
          if (!prev) continue;
          const h = toHex(sha256(prev.script));
          const subs = w.watchersOfScript(h);
          if (subs)
            this.scriptMatch(
              subs,
              h,
              {
                txid,
                kind: 1,
                index: vin,
                value: prev.value,
                shortId: shortIdFromParts(hi, inputLo(position, vin)),
              },
              at,
            );
        }
      }
      for (const [vout, o] of tx.outputs.entries()) {
        own.set(`${txHex}:${vout}`, { value: o.value, script: o.scriptPubKey });
        const h = toHex(sha256(o.scriptPubKey));
        const subs = w.watchersOfScript(h);
        if (subs)
          this.scriptMatch(
            subs,
            h,
            {
              txid,
              kind: 0,
              index: vout,
              value: o.value,
              shortId: shortIdFromParts(hi, outputLo(position, vout)),
            },
            at,
          );
      }
    }
  }
}
