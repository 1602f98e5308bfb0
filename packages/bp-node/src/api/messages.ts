import { type Codec, defineMessages, t } from '@lnpbp/bus';

/**
 * bpd's bus API: every request, reply and notification, declared once. The client library
 * (@lnpbp/bp-client), bp-cli and docs/bpd-api.md are all derived from this table.
 *
 * Conventions: hashes and txids are 32 bytes in internal order (clients show them reversed);
 * LNPBP-5 short ids are u64; heights are absent for mempool items; cursors are opaque bytes
 * returned by the previous page; a `limit` of 0 means the default page size (100), above
 * MAX_PAGE is refused.
 */
export const MAX_PAGE = 1_000;
/** Items per watch request (a request must fit the 1 MiB frame); a set grows by repeated requests. */
export const MAX_WATCH_ITEMS = 20_000;
/**
 * Match entries (spends + script entries) in one `watchMatches` message: a channel's matches in
 * one block past this, or past WATCH_BATCH_BYTES, come in several parts.
 */
export const MAX_BATCH_ITEMS = 10_000;
export const WATCH_BATCH_BYTES = 1 << 20;
const MAX_TX = 4_000_000;
const MAX_BLOCK = 4_000_000;
export const MAX_SCRIPT = 10_000;
const MAX_CURSOR = 16;
const SUBSCRIPTION = t.string(64);

/** A paged reply: up to MAX_PAGE items, and the cursor of the next page when there is one. */
const pageOf = <T>(item: Codec<T>) => ({
  items: t.list(item, MAX_PAGE),
  next: t.optional(t.bytes(MAX_CURSOR)),
});

/** A watched outpoint spent: `vin` of `spendingTxid`. */
const spendMatch = t.struct({
  txid: t.bytes32,
  vout: t.u32,
  spendingTxid: t.bytes32,
  vin: t.u32,
  shortId: t.u64,
});

/** A tx funding (kind 0, index = vout) or spending from (kind 1, index = vin) a watched script. */
const scriptMatch = t.struct({
  script: t.bytes(MAX_SCRIPT),
  txid: t.bytes32,
  kind: t.u8,
  index: t.u32,
  value: t.u64,
  shortId: t.u64,
});

/** `watchMatches` and `watchWithdrawn` (one layout, one writer, one client reader). */
const watchMatchesFields = {
  channel: SUBSCRIPTION,
  height: t.optional(t.u32),
  blockHash: t.optional(t.bytes32),
  more: t.bool,
  subscriptions: t.list(
    t.struct({
      subscription: SUBSCRIPTION,
      spends: t.list(spendMatch, MAX_BATCH_ITEMS),
      scripts: t.list(scriptMatch, MAX_BATCH_ITEMS),
    }),
    MAX_BATCH_ITEMS,
  ),
} as const;

const headerInfo = {
  height: t.u32,
  hash: t.bytes32,
  shortId: t.u64,
  header: t.fixed(80),
  txCount: t.u32,
  size: t.u32,
} as const;

const blockSelector = { height: t.optional(t.u32), hash: t.optional(t.bytes32) } as const;

const spendRef = t.struct({
  spent: t.bool,
  txid: t.optional(t.bytes32),
  vin: t.optional(t.u32),
  height: t.optional(t.u32),
  shortId: t.optional(t.u64),
});

const historyItem = t.struct({
  txid: t.bytes32,
  height: t.optional(t.u32),
  /** 0 funding (an output paying the script), 1 spending (an input spending such an output). */
  kind: t.u8,
  /** vout for funding, vin for spending. */
  index: t.u32,
  value: t.u64,
  shortId: t.u64,
});

const utxoItem = t.struct({
  txid: t.bytes32,
  vout: t.u32,
  value: t.u64,
  height: t.optional(t.u32),
  shortId: t.u64,
});

/** A script to query by: exactly one of scriptPubKey bytes, sha256(script) (internal order), or an address. */
const scriptQuery = {
  script: t.optional(t.bytes(MAX_SCRIPT)),
  scriptHash: t.optional(t.bytes32),
  address: t.optional(t.string(128)),
} as const;

const page = { cursor: t.optional(t.bytes(MAX_CURSOR)), limit: t.u32 } as const;

/** Pattern and descriptor texts (issue 5): long enough for a tr() tree of xpubs. */
export const MAX_PATTERN_TEXT = 16_384;
export const MAX_DESCRIPTOR_TEXT = 16_384;
/** A revealed script: P2WSH witnessScripts stop at 10,000 bytes, tapscript leaves only at the block size. */
const MAX_REVEALED = MAX_BLOCK;
/** A page of matches is cut short (with a cursor) before its reply passes this many script bytes. */
export const MATCH_REPLY_BUDGET = 768 * 1024;

/** One wildcard binding: keys and hashes as hex, numbers in decimal (`number` true). */
const binding = t.struct({ name: t.string(128), value: t.string(8192), number: t.bool });

const matchItem = t.struct({
  txid: t.bytes32,
  /** The input that revealed the script; absent for a non-standard scriptPubKey (then vout). */
  vin: t.optional(t.u32),
  vout: t.optional(t.u32),
  height: t.optional(t.u32),
  /** "p2sh" | "p2wsh" | "tapscript" | "scriptPubKey". */
  context: t.string(16),
  script: t.bytes(MAX_REVEALED),
  /** The normalized shape (lifted miniscript or opcode template) the index keyed it under. */
  shape: t.string(MAX_PATTERN_TEXT),
  bindings: t.list(binding, 1_000),
  shortId: t.u64,
});

/** Derivation of a descriptor item: index absent for a descriptor without `/*`; branch of a multipath `<a;b>`. */
const derivation = { derivationIndex: t.optional(t.u32), branch: t.u32 } as const;

const descriptorHistoryItem = t.struct({
  txid: t.bytes32,
  height: t.optional(t.u32),
  kind: t.u8,
  index: t.u32,
  value: t.u64,
  shortId: t.u64,
  script: t.bytes(MAX_SCRIPT),
  ...derivation,
});

const descriptorUtxoItem = t.struct({
  txid: t.bytes32,
  vout: t.u32,
  value: t.u64,
  height: t.optional(t.u32),
  shortId: t.u64,
  script: t.bytes(MAX_SCRIPT),
  ...derivation,
});

/** `gap` 0 means the default (20); above 10,000 is refused. */
const descriptorQuery = { descriptor: t.string(MAX_DESCRIPTOR_TEXT), gap: t.u32 } as const;

export const bpdMessages = defineMessages(
  {
    getinfo: {
      id: 0x0100,
      doc: 'Node status: network, tip, sync progress, mempool, index sizes, watch sets, uptime.',
      fields: {},
      reply: {
        network: t.string(16),
        tipHeight: t.optional(t.u32),
        tipHash: t.optional(t.bytes32),
        baseHeight: t.optional(t.u32),
        sourceTipHeight: t.optional(t.u32),
        syncing: t.bool,
        mempoolTxs: t.u32,
        mempoolBytes: t.u64,
        indexBytes: t.u64,
        blockFileBytes: t.u64,
        watchSets: t.u32,
        watchItems: t.u32,
        uptimeSec: t.u32,
        version: t.string(32),
        source: t.string(256),
      },
    },
    header: {
      id: 0x0101,
      doc: 'A best-chain block header by height or hash (exactly one).',
      fields: blockSelector,
      reply: headerInfo,
    },
    block: {
      id: 0x0102,
      doc: 'A best-chain block (raw) by height or hash (exactly one).',
      fields: blockSelector,
      reply: { ...headerInfo, raw: t.bytes(MAX_BLOCK) },
    },
    tx: {
      id: 0x0103,
      doc: 'A transaction by txid or by its LNPBP-5 short id (exactly one; confirmed or in the mempool).',
      fields: { txid: t.optional(t.bytes32), shortId: t.optional(t.u64) },
      reply: {
        txid: t.bytes32,
        raw: t.bytes(MAX_TX),
        height: t.optional(t.u32),
        blockHash: t.optional(t.bytes32),
        position: t.optional(t.u32),
        shortId: t.u64,
      },
    },
    outspend: {
      id: 0x0104,
      doc: 'Which input spends txid:vout (confirmed, or in the mempool: no height).',
      fields: { txid: t.bytes32, vout: t.u32 },
      reply: { spend: spendRef },
    },
    outspends: {
      id: 0x0105,
      doc: 'One spend entry per output of txid.',
      fields: { txid: t.bytes32 },
      reply: { spends: t.list(spendRef, 200_000) },
    },
    history: {
      id: 0x0106,
      doc: 'Funding and spending entries of a script in chain order, then mempool; paged by cursor.',
      fields: { ...scriptQuery, ...page },
      reply: pageOf(historyItem),
    },
    utxos: {
      id: 0x0107,
      doc: 'Unspent outputs paying a script (mempool spends removed, mempool outputs added); paged.',
      fields: { ...scriptQuery, ...page },
      reply: pageOf(utxoItem),
    },
    balance: {
      id: 0x0108,
      doc: 'Confirmed and unconfirmed balance of a script, in satoshis.',
      fields: scriptQuery,
      reply: { confirmed: t.u64, unconfirmedIn: t.u64, unconfirmedOut: t.u64, utxoCount: t.u32 },
    },
    shortidResolve: {
      id: 0x0109,
      doc: 'What an LNPBP-5 short id names: kind, block, txid and input/output index (mempool for off-chain ids).',
      fields: { shortId: t.u64 },
      reply: {
        kind: t.string(16),
        height: t.optional(t.u32),
        blockHash: t.optional(t.bytes32),
        txid: t.optional(t.bytes32),
        index: t.optional(t.u32),
      },
    },
    shortidOf: {
      id: 0x010a,
      doc: 'The LNPBP-5 short id of a block (blockHash), a tx (txid), or one of its inputs (vin) or outputs (vout).',
      fields: {
        blockHash: t.optional(t.bytes32),
        txid: t.optional(t.bytes32),
        vin: t.optional(t.u32),
        vout: t.optional(t.u32),
      },
      reply: { shortId: t.u64, confirmed: t.bool },
    },
    mempoolList: {
      id: 0x010b,
      doc: 'Txids in the mempool, in arrival order; paged.',
      fields: page,
      reply: { txids: t.list(t.bytes32, MAX_PAGE), next: t.optional(t.bytes(MAX_CURSOR)) },
    },
    mempoolEntry: {
      id: 0x010c,
      doc: 'A mempool entry: raw tx, vsize, fee (when every input is known), arrival time.',
      fields: { txid: t.bytes32 },
      reply: {
        raw: t.bytes(MAX_TX),
        vsize: t.u32,
        fee: t.optional(t.u64),
        time: t.u32,
        shortId: t.u64,
      },
    },
    feeHistogram: {
      id: 0x010d,
      doc: 'Electrum-style fee histogram: [feerate sat/vB, vsize] pairs from high to low feerate.',
      fields: {},
      reply: { bins: t.list(t.struct({ feeRate: t.u32, vsize: t.u64 }), 10_000) },
    },
    broadcast: {
      id: 0x010e,
      doc: 'Relays a raw transaction through the chain source.',
      fields: { raw: t.bytes(MAX_TX) },
      reply: { txid: t.bytes32 },
    },
    watch: {
      id: 0x0110,
      doc: 'Creates or extends a watch set in a channel; matches are published per block and per mempool tx as one `watchMatches` on "watch/<channel>" for all the channel\'s sets. Without a subscription id bpd makes one; without a channel a new set gets its own (the subscription id), an existing one keeps its channel.',
      fields: {
        subscription: t.optional(SUBSCRIPTION),
        channel: t.optional(SUBSCRIPTION),
        outpoints: t.list(t.struct({ txid: t.bytes32, vout: t.u32 }), MAX_WATCH_ITEMS),
        scripts: t.list(t.bytes(MAX_SCRIPT), MAX_WATCH_ITEMS),
        addresses: t.list(t.string(128), MAX_WATCH_ITEMS),
        persist: t.bool,
      },
      reply: {
        subscription: SUBSCRIPTION,
        channel: SUBSCRIPTION,
        outpoints: t.u32,
        scripts: t.u32,
        persisted: t.bool,
      },
    },
    unwatch: {
      id: 0x0111,
      doc: 'Drops a watch set (and its persisted copy).',
      fields: { subscription: SUBSCRIPTION },
      reply: { removed: t.bool },
    },
    ping: {
      id: 0x0112,
      doc: 'Publishes `pong` with the token on topic "ping/<token hex>": a subscriber that sees it knows its earlier topic subscriptions are active.',
      fields: { token: t.u64 },
      reply: {},
    },
    match: {
      id: 0x0120,
      doc: 'Script reveals (P2SH redeemScript, P2WSH witnessScript, tapscript leaf, non-standard scriptPubKey) matching a miniscript pattern or ASM template, with the bound wildcard values: confirmed in chain order, then mempool; paged. Bad patterns get `badPattern` with the position in the message.',
      fields: { pattern: t.string(MAX_PATTERN_TEXT), ...page },
      reply: pageOf(matchItem),
    },
    descriptorHistory: {
      id: 0x0121,
      doc: 'Funding and spending entries of every script an output descriptor derives (gap-limited for ranged ones), in chain order then mempool arrival order (no height), each with its derivation index and branch; paged.',
      fields: { ...descriptorQuery, ...page },
      reply: pageOf(descriptorHistoryItem),
    },
    descriptorUtxos: {
      id: 0x0122,
      doc: 'Unspent outputs paying any script a descriptor derives (mempool spends removed, mempool outputs added), with derivation index and branch; paged.',
      fields: { ...descriptorQuery, ...page },
      reply: pageOf(descriptorUtxoItem),
    },
    descriptorBalance: {
      id: 0x0123,
      doc: 'Balance of a descriptor: confirmed, and mempool in/out as `balance` gives for one script; per branch the last used derivation index (absent: none; mempool use counts) and the next unused one.',
      fields: descriptorQuery,
      reply: {
        confirmed: t.u64,
        utxoCount: t.u32,
        usedScripts: t.u32,
        derivedScripts: t.u32,
        branches: t.list(t.struct({ lastUsed: t.optional(t.u32), nextIndex: t.u32 }), 1_000),
        unconfirmedIn: t.u64,
        unconfirmedOut: t.u64,
      },
    },
    watchPattern: {
      id: 0x0124,
      doc: 'Subscribes to a pattern: every mempool or confirmed tx revealing a match is published on "match/<subscription>" (`patternMatch`). Replaces a pattern watch of the same id; `unwatch` drops it.',
      fields: {
        subscription: t.optional(SUBSCRIPTION),
        pattern: t.string(MAX_PATTERN_TEXT),
        persist: t.bool,
      },
      reply: { subscription: SUBSCRIPTION, shapes: t.u32, persisted: t.bool },
    },
    watchDescriptor: {
      id: 0x0125,
      doc: 'Watches a descriptor: outputs paying and inputs spending its derived scripts are published on "descriptor/<subscription>" (`descriptorActivity`). The window starts past the last index used on chain and moves forward as indexes get used.',
      fields: {
        subscription: t.optional(SUBSCRIPTION),
        ...descriptorQuery,
        persist: t.bool,
      },
      reply: {
        subscription: SUBSCRIPTION,
        branches: t.list(t.struct({ lastUsed: t.optional(t.u32), derived: t.u32 }), 1_000),
        persisted: t.bool,
      },
    },
    // Notifications (PUB/SUB). The topic is the notification's topic name, plus "/<channel>" for
    // watch matches and "/<subscription>" for pattern/descriptor ones, so a client subscribes to
    // exactly its own matches.
    blockConnected: {
      id: 0x0200,
      doc: 'Topic "block": a block was connected to the best chain.',
      fields: { height: t.u32, hash: t.bytes32, shortId: t.u64, txCount: t.u32 },
    },
    reorg: {
      id: 0x0201,
      doc: 'Topic "reorg": blocks `fromHeight`..`toHeight` were disconnected; `forkHash` is the block they now follow.',
      fields: { fromHeight: t.u32, toHeight: t.u32, forkHash: t.bytes32 },
    },
    mempoolTx: {
      id: 0x0202,
      doc: 'Topic "tx": a transaction entered the mempool.',
      fields: { txid: t.bytes32, shortId: t.u64, vsize: t.u32, fee: t.optional(t.u64) },
    },
    // 0x0203 (spend) and 0x0204 (scriptActivity), one notification per match on
    // "spend/<subscription>" and "script/<subscription>", are retired: see watchMatches.
    pong: {
      id: 0x0205,
      doc: 'Topic "ping/<token hex>": the answer to a `ping` request.',
      fields: { token: t.u64 },
    },
    patternMatch: {
      id: 0x0206,
      doc: 'Topic "match/<subscription>": a tx revealed a script matching the subscribed pattern (mempool: no height; confirmed: height and block hash).',
      fields: {
        subscription: SUBSCRIPTION,
        txid: t.bytes32,
        vin: t.optional(t.u32),
        vout: t.optional(t.u32),
        context: t.string(16),
        script: t.bytes(MAX_REVEALED),
        bindings: t.list(binding, 1_000),
        shortId: t.u64,
        height: t.optional(t.u32),
        blockHash: t.optional(t.bytes32),
      },
    },
    descriptorActivity: {
      id: 0x0207,
      doc: 'Topic "descriptor/<subscription>": a tx funds (kind 0, index = vout) or spends from (kind 1, index = vin) a script the watched descriptor derives.',
      fields: {
        subscription: SUBSCRIPTION,
        txid: t.bytes32,
        kind: t.u8,
        index: t.u32,
        value: t.optional(t.u64),
        script: t.bytes(MAX_SCRIPT),
        ...derivation,
        shortId: t.u64,
        height: t.optional(t.u32),
        blockHash: t.optional(t.bytes32),
      },
    },
    patternWithdrawn: {
      id: 0x0208,
      doc: 'Topic "match/<subscription>": a published match no longer holds. With `height` and `blockHash`: it was confirmed there and a reorg disconnected the block (published per disconnected block before `reorg`); `shortId` is the id it had there; `inMempool`: the tx is back in the mempool (false: it left the mempool later, conflicted by the new branch or dropped by the source, or never returned); a match that confirms again on the new branch is published again as `patternMatch`. Without them: a mempool match (`patternMatch` without height) whose tx left the mempool without confirming (conflicted by a block, replaced, evicted), `inMempool` false.',
      fields: {
        subscription: SUBSCRIPTION,
        txid: t.bytes32,
        vin: t.optional(t.u32),
        vout: t.optional(t.u32),
        context: t.string(16),
        script: t.bytes(MAX_REVEALED),
        bindings: t.list(binding, 1_000),
        shortId: t.u64,
        height: t.optional(t.u32),
        blockHash: t.optional(t.bytes32),
        inMempool: t.bool,
      },
    },
    descriptorWithdrawn: {
      id: 0x0209,
      doc: 'Topic "descriptor/<subscription>": published descriptor activity no longer holds: confirmed at `height` in `blockHash` and disconnected by a reorg, or (neither) mempool activity whose tx left the mempool without confirming; fields as `descriptorActivity`, `inMempool` as in `patternWithdrawn`. Activity confirmed again on the new branch is published again as `descriptorActivity`.',
      fields: {
        subscription: SUBSCRIPTION,
        txid: t.bytes32,
        kind: t.u8,
        index: t.u32,
        value: t.optional(t.u64),
        script: t.bytes(MAX_SCRIPT),
        ...derivation,
        shortId: t.u64,
        height: t.optional(t.u32),
        blockHash: t.optional(t.bytes32),
        inMempool: t.bool,
      },
    },
    watchMatches: {
      id: 0x020a,
      doc: 'Topic "watch/<channel>": every match of the channel\'s watch sets in one connected block (`height`, `blockHash`) or one mempool tx (neither), grouped by subscription. A watched outpoint spent from the mempool is published again when confirmed; a mempool match whose tx leaves without confirming is taken back by `watchWithdrawn`. `more`: further parts of the same block or tx follow (a part holds at most MAX_BATCH_ITEMS entries). The topic\'s sequence number counts per channel: a gap means every set of the channel may have missed matches.',
      fields: watchMatchesFields,
    },
    watchWithdrawn: {
      id: 0x020b,
      doc: "Topic \"watch/<channel>\": a mempool tx whose matches were published (`watchMatches` without height) left the mempool without confirming; the entries are those matches again (the tx is each spend's `spendingTxid` and each script entry's `txid`), for the channel's sets now. `height`, `blockHash`: the connected block whose conflicting spend pushed it out (its own `watchMatches` follows); neither: the chain source dropped it (replaced, evicted for size, expired, or conflicted by a tx). Same layout and parts as `watchMatches`, same topic and sequence.",
      fields: watchMatchesFields,
    },
    hello: {
      id: 0x020c,
      doc: 'Topic "hello": published when bpd\'s publisher starts and every `intervalMs` after, so a subscriber that heard nothing else learns of a restart (a new epoch in the bus header) within that time, and of a bpd gone quiet (none for a few intervals). `startedAt`: unix seconds bpd started.',
      fields: { startedAt: t.u32, intervalMs: t.u32 },
    },
  },
  // 2: watch sets in channels, matches batched in watchMatches (spend, scriptActivity retired).
  // 3: watchWithdrawn, hello; pattern/descriptor withdrawals of mempool matches (no height).
  { service: 'bpd', version: 3 },
);

export type BpdMessages = typeof bpdMessages.table;

/** Application error codes of bpd's error replies (bus codes are below 0x100). */
export const BpdError = {
  /** The block, tx, entry or item asked for is not in the index or the mempool. */
  notFound: 0x100,
  /** Well-formed but unusable arguments: none or two of a choice, a bad address, a limit too large. */
  badRequest: 0x101,
  /** A cursor that no page of this query returned. */
  badCursor: 0x102,
  /** The chain source refused a broadcast, or the tx does not parse. */
  rejected: 0x103,
  /** A watch set or the watch table is full. */
  watchLimit: 0x104,
  /** A descriptor that does not parse, or fails its checksum; the message gives the position. */
  badDescriptor: 0x105,
  /** A descriptor holding a private key (or needing one for hardened derivation): refused. */
  privateKey: 0x106,
  /** A pattern that is not valid miniscript or template text; the message gives the position. */
  badPattern: 0x107,
  /** A gap limit outside 1..10,000. */
  badGap: 0x108,
} as const;
export type BpdErrorName = keyof typeof BpdError;
