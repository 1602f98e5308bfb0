import { addressParams, addressToScript } from '@lnpbp/bitcoin/address/index';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { DecodeError } from '@lnpbp/bitcoin/errors';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import {
  blockChecksum,
  decodeShortId,
  inputLo,
  offchainInputId,
  offchainItemMatchesTxid,
  offchainOutputId,
  offchainTxId,
  onchainHi,
  outputLo,
  type ShortIdItem,
  shortIdFromParts,
} from '@lnpbp/bitcoin/shortid/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import type { Handlers } from '@lnpbp/bus';
import type { Index } from '../index/index.ts';
import type { Mempool } from '../index/mempool.ts';
import { IndexView, type Spend } from '../index/view.ts';
import type { ChainSource } from '../source/types.ts';
import { fail, pageLimit } from './args.ts';
import { MatchWatchTable, makeMatchHandlers } from './match.ts';
import type { BpdMessages } from './messages.ts';
import { type Publish, TOPIC } from './push.ts';
import { SUBSCRIPTION_RE, WatchLimitError, WatchTable } from './watch.ts';

export const BPD_VERSION = '0.1.0';

export interface ApiDeps {
  readonly network: NetworkName;
  readonly index: Index;
  readonly mempool: Mempool;
  readonly source: Pick<ChainSource, 'broadcast' | 'getTip'>;
  readonly sourceName: string;
  readonly startedAt: number;
  readonly watches: WatchTable;
  /** Pattern and descriptor subscriptions (issue 5); default: an empty table kept in memory. */
  readonly matchWatches?: MatchWatchTable;
  readonly pub: Publish;
  /** True once the syncer reached the source's tip (and while it stays there). */
  readonly synced: () => boolean;
  /** The source's tip height as last seen (refreshed in the background). */
  readonly sourceTip: () => number | undefined;
}

const NO_SPEND = { spent: false } as const;

function spendRef(s: Spend) {
  if (!s.spent) return NO_SPEND;
  return { spent: true, txid: s.txid, vin: s.vin, height: s.height ?? undefined, shortId: s.shortId };
}

/** View cursors: 0x00 | item id (8), or 0x01 | mempool seq u32 BE (see index/view.ts). */
function viewCursor(c: Uint8Array | undefined): Uint8Array | null {
  if (c === undefined) return null;
  if ((c.length === 9 && c[0] === 0) || (c.length === 5 && c[0] === 1)) return c;
  return fail('badCursor', `cursor of ${c.length} bytes is not one this query returns`);
}

/** Addresses of bcoin's regtest use hrp "rb" besides Core's "bcrt": both are accepted there. */
export function scriptOfAddress(network: NetworkName, address: string): Uint8Array {
  const nets =
    network === 'regtest' ? [addressParams('regtest'), addressParams('regtest', { hrp: 'rb' })] : [network];
  let last: unknown;
  for (const n of nets) {
    try {
      return addressToScript(address, n);
    } catch (e) {
      last = e;
    }
  }
  return fail('badRequest', `address ${address}: ${(last as Error).message}`);
}

export function makeHandlers(d: ApiDeps): Handlers<BpdMessages> {
  const { index, mempool, watches } = d;
  const view = new IndexView(index, mempool);
  const matchWatches = d.matchWatches ?? new MatchWatchTable(null);

  const scriptHashOf = (q: {
    script?: Uint8Array;
    scriptHash?: Uint8Array;
    address?: string;
  }): Uint8Array => {
    const given = (q.script ? 1 : 0) + (q.scriptHash ? 1 : 0) + (q.address !== undefined ? 1 : 0);
    if (given !== 1) fail('badRequest', 'give exactly one of script, scriptHash, address');
    if (q.scriptHash) return q.scriptHash;
    if (q.script) return sha256(q.script);
    return sha256(scriptOfAddress(d.network, q.address!));
  };

  const blockHeight = (b: { height?: number; hash?: Uint8Array }): number => {
    if ((b.height === undefined) === (b.hash === undefined))
      fail('badRequest', 'give exactly one of height, hash');
    if (b.height !== undefined) return b.height;
    const h = index.heightOf(b.hash!);
    if (h === null)
      fail('notFound', `block ${toHex(Uint8Array.from(b.hash!).reverse())} not in the best chain`);
    return h!;
  };

  const header = (b: { height?: number; hash?: Uint8Array }) => {
    const height = blockHeight(b);
    const h = index.header(height);
    if (!h) fail('notFound', `no block at height ${height}`);
    return h!;
  };

  const mempoolByShortId = (item: ShortIdItem) => {
    if (item.kind !== 'offchain-tx' && item.kind !== 'offchain-input' && item.kind !== 'offchain-output')
      return null;
    for (const e of mempool.list()) if (offchainItemMatchesTxid(item, e.txid)) return e;
    return null;
  };

  const decodeId = (id: bigint): ShortIdItem => {
    try {
      return decodeShortId(id);
    } catch (e) {
      return fail('badRequest', `short id: ${(e as Error).message}`);
    }
  };

  return {
    getinfo() {
      const tip = index.tip();
      const st = index.stats();
      const src = d.sourceTip();
      return {
        network: d.network,
        tipHeight: tip?.height,
        tipHash: tip?.hash,
        baseHeight: index.base() ?? undefined,
        sourceTipHeight: src,
        syncing: !d.synced() || (src !== undefined && (tip?.height ?? -1) < src),
        mempoolTxs: mempool.size,
        mempoolBytes: BigInt(mempool.totalBytes),
        indexBytes: BigInt(st.lmdbBytes),
        blockFileBytes: BigInt(st.blockFileBytes),
        watchSets: watches.sets.size,
        watchItems: watches.itemCount,
        uptimeSec: Math.floor((Date.now() - d.startedAt) / 1000),
        version: BPD_VERSION,
        source: d.sourceName.slice(0, 256),
      };
    },

    header: (b) => header(b),

    block(b) {
      const h = header(b);
      const raw = index.blockRaw(h.height);
      if (!raw) fail('notFound', `block ${h.height} not stored`);
      return { ...h, raw: raw! };
    },

    tx(b) {
      if ((b.txid === undefined) === (b.shortId === undefined))
        fail('badRequest', 'give exactly one of txid, shortId');
      if (b.txid) {
        const t = view.tx(b.txid);
        if (!t) fail('notFound', `tx ${toHex(Uint8Array.from(b.txid).reverse())} not found`);
        if (t!.confirmed)
          return {
            txid: t!.txid,
            raw: t!.raw,
            height: t!.height,
            blockHash: t!.blockHash,
            position: t!.position,
            shortId: t!.shortId,
          };
        return { txid: t!.txid, raw: t!.raw, shortId: t!.shortId };
      }
      const item = decodeId(b.shortId!);
      if (item.kind === 'tx' || item.kind === 'block') {
        const t = index.txByShortId(b.shortId!);
        if (!t) fail('notFound', `no tx with short id ${b.shortId}`);
        return {
          txid: t!.txid,
          raw: t!.raw,
          height: t!.height,
          blockHash: t!.blockHash,
          position: t!.position,
          shortId: t!.shortId,
        };
      }
      if (item.kind === 'offchain-tx') {
        const e = mempoolByShortId(item);
        if (!e) fail('notFound', `no mempool tx with short id ${b.shortId}`);
        return { txid: e!.txid, raw: e!.raw, shortId: e!.shortId };
      }
      return fail('badRequest', `short id ${b.shortId} names a ${item.kind}, not a tx`);
    },

    outspend: (b) => ({ spend: spendRef(view.outspend(b.txid, b.vout)) }),

    outspends(b) {
      const s = view.outspends(b.txid);
      if (s === null) fail('notFound', `tx ${toHex(Uint8Array.from(b.txid).reverse())} not found`);
      return { spends: s!.map(spendRef) };
    },

    history(b) {
      const p = view.history(scriptHashOf(b), { cursor: viewCursor(b.cursor), limit: pageLimit(b.limit) });
      return {
        items: p.items.map((i) => ({
          txid: i.txid,
          height: i.height ?? undefined,
          kind: i.kind === 'funding' ? 0 : 1,
          index: i.index,
          value: i.value,
          shortId: i.shortId,
        })),
        next: p.next ?? undefined,
      };
    },

    utxos(b) {
      const p = view.utxos(scriptHashOf(b), { cursor: viewCursor(b.cursor), limit: pageLimit(b.limit) });
      return {
        items: p.items.map((u) => ({ ...u, height: u.height ?? undefined })),
        next: p.next ?? undefined,
      };
    },

    balance: (b) => view.balance(scriptHashOf(b)),

    shortidResolve(b) {
      const item = decodeId(b.shortId);
      if (item.kind === 'block' || item.kind === 'tx' || item.kind === 'input' || item.kind === 'output') {
        const blockHash = index.blockHash(item.height);
        if (!blockHash || blockChecksum(blockHash) !== item.checksum)
          fail('notFound', `short id ${b.shortId}: no such block in the best chain (height ${item.height})`);
        if (item.kind === 'block') return { kind: item.kind, height: item.height, blockHash: blockHash! };
        const txid = index.store.txidAt(item.height, item.position);
        if (!txid) fail('notFound', `short id ${b.shortId}: no tx at position ${item.position}`);
        return {
          kind: item.kind,
          height: item.height,
          blockHash: blockHash!,
          txid: txid!,
          index: item.kind === 'tx' ? undefined : item.index,
        };
      }
      const e = mempoolByShortId(item);
      if (!e) fail('notFound', `short id ${b.shortId}: no matching mempool tx`);
      return { kind: item.kind, txid: e!.txid, index: item.kind === 'offchain-tx' ? undefined : item.index };
    },

    shortidOf(b) {
      if (b.blockHash) {
        if (b.txid || b.vin !== undefined || b.vout !== undefined)
          fail('badRequest', 'blockHash excludes txid, vin, vout');
        const h = index.heightOf(b.blockHash);
        if (h === null) fail('notFound', 'block not in the best chain');
        return { shortId: shortIdFromParts(onchainHi(h!, blockChecksum(b.blockHash)), 0), confirmed: true };
      }
      if (!b.txid) return fail('badRequest', 'give blockHash or txid');
      if (b.vin !== undefined && b.vout !== undefined) fail('badRequest', 'give vin or vout, not both');
      const c = index.txByTxid(b.txid);
      if (c) {
        const hi = onchainHi(c.height, blockChecksum(c.blockHash));
        if (b.vin !== undefined)
          return { shortId: shortIdFromParts(hi, inputLo(c.position, b.vin)), confirmed: true };
        if (b.vout !== undefined)
          return { shortId: shortIdFromParts(hi, outputLo(c.position, b.vout)), confirmed: true };
        return { shortId: c.shortId, confirmed: true };
      }
      // Off-chain ids depend only on the txid: answered for any tx, known or not.
      try {
        if (b.vin !== undefined) return { shortId: offchainInputId(b.txid, b.vin), confirmed: false };
        if (b.vout !== undefined) return { shortId: offchainOutputId(b.txid, b.vout), confirmed: false };
        return { shortId: offchainTxId(b.txid), confirmed: false };
      } catch (e) {
        return fail('badRequest', (e as Error).message);
      }
    },

    mempoolList(b) {
      const limit = pageLimit(b.limit);
      let after = -1;
      if (b.cursor !== undefined) {
        if (b.cursor.length !== 4) fail('badCursor', 'mempool cursor is 4 bytes');
        after = new DataView(b.cursor.buffer, b.cursor.byteOffset, 4).getUint32(0);
      }
      const txids: Uint8Array[] = [];
      let last = -1;
      for (const e of mempool.list(after)) {
        if (txids.length === limit) {
          const next = new Uint8Array(4);
          new DataView(next.buffer).setUint32(0, last);
          return { txids, next };
        }
        txids.push(e.txid);
        last = e.seq;
      }
      return { txids };
    },

    mempoolEntry(b) {
      const e = mempool.get(b.txid);
      if (!e) fail('notFound', `tx ${toHex(Uint8Array.from(b.txid).reverse())} not in the mempool`);
      return { raw: e!.raw, vsize: e!.vsize, fee: e!.fee ?? undefined, time: e!.time, shortId: e!.shortId };
    },

    feeHistogram: () => ({
      bins: mempool.feeHistogram().map((x) => ({ feeRate: x.feeRate, vsize: BigInt(x.vsize) })),
    }),

    async broadcast(b) {
      let txid: Uint8Array;
      try {
        const tx = parseTx(b.raw);
        if (tx.isCoinbase) return fail('rejected', 'a coinbase cannot be broadcast');
        txid = tx.txid();
      } catch (e) {
        if (e instanceof DecodeError) return fail('rejected', `tx does not parse: ${e.message}`);
        throw e;
      }
      try {
        await d.source.broadcast(b.raw);
      } catch (e) {
        return fail('rejected', `source refused: ${(e as Error).message}`);
      }
      return { txid };
    },

    watch(b) {
      const id = b.subscription ?? WatchTable.newId();
      if (!SUBSCRIPTION_RE.test(id)) fail('badRequest', 'subscription ids are 1-64 of A-Z a-z 0-9 _ . -');
      if (b.channel !== undefined && !SUBSCRIPTION_RE.test(b.channel))
        fail('badRequest', 'channel ids are 1-64 of A-Z a-z 0-9 _ . -');
      const scripts = [...b.scripts, ...b.addresses.map((a) => scriptOfAddress(d.network, a))];
      try {
        const set = watches.add(id, b.outpoints, scripts, b.persist, b.channel);
        return {
          subscription: id,
          channel: set.channel,
          outpoints: set.outpoints.size,
          scripts: set.scripts.size,
          persisted: set.persist,
        };
      } catch (e) {
        if (e instanceof WatchLimitError) return fail('watchLimit', e.message);
        throw e;
      }
    },

    unwatch(b) {
      const set = watches.remove(b.subscription);
      const match = matchWatches.remove(b.subscription);
      return { removed: set || match };
    },

    ...makeMatchHandlers({ index, mempool, matchWatches }),

    ping(b) {
      d.pub.publish(TOPIC.ping(b.token), 'pong', { token: b.token });
      return {};
    },
  };
}
