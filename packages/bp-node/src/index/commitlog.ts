/**
 * The writer's recent commits, for checking resolve hints (hints.ts) read at a snapshot before
 * them: which txs each commit added and which UTXOs it deleted. A commit keeps its batch's
 * overlay (its txs, their blocks and which of their outputs it left unspent), so an input
 * spending an output committed after the worker's snapshot is resolved from memory too.
 */
import type { BlockLayout } from './layout.ts';
import type { PrefixTable } from './prefixtable.ts';

/** A committed block, as its batch held it. */
export interface CommittedBlock {
  height: number;
  /** Its LNPBP-5 id's high half. */
  hi: number;
  /** 32 bytes per tx. */
  txids: Uint8Array;
  lay: BlockLayout;
  /** sha256 of each output script, 32 bytes each, in the layout's output order. */
  outHashes: Uint8Array;
}

/** What one committed batch changed that a hint read before it could have missed. */
export interface Commit {
  /** Its first and last block's heights. */
  from: number;
  to: number;
  /** It was the index's first commit (the index was empty before it). */
  first: boolean;
  /** Its txs by 48-bit txid prefix (the batch's own table): entry e is tx txAt[e] of blocks[txBlock[e]] ... */
  txs: PrefixTable;
  txBlock: Uint32Array;
  txAt: Uint32Array;
  /** ... whose output v is unspent after the commit when live[txOut[e] + v] is 1. */
  txOut: Uint32Array;
  live: Uint8Array;
  blocks: readonly CommittedBlock[];
  /** Its blocks' bytes (what keeping it holds in memory). */
  bytes: number;
  /** The UTXOs it deleted, as ConnectBatch keys them (outKey). */
  spent: ReadonlySet<number | string>;
}

/**
 * The commits of the writer's recent batches, in order, for checking hints read before them:
 * ConnectBatch adds each commit; a disconnect, or any write that is not a batch's commit,
 * clears it (hints read before then are not trusted). It keeps the last few only: the worker
 * reads its snapshot a few blocks before the writer uses it.
 */
export class CommitLog {
  private readonly commits: Commit[] = [];
  /** Commits kept at most, and block bytes (beyond the newest commit's). */
  private static readonly KEEP = 8;
  private static readonly KEEP_BYTES = 64 * 2 ** 20;
  private bytes = 0;
  /** Commits since hints were last checked: past KEEP nobody reads them (a node at the tip). */
  private unread = 0;

  /** Commits it holds (for tests). */
  get size(): number {
    return this.commits.length;
  }

  add(c: Commit): void {
    if (this.unread >= CommitLog.KEEP) {
      // No worker reads the index: keeping blocks for hints would only hold memory.
      this.clear();
      return;
    }
    this.unread++;
    const cs = this.commits;
    const last = cs[cs.length - 1];
    if (last !== undefined && last.to + 1 !== c.from) this.clear();
    cs.push(c);
    this.bytes += c.bytes;
    while (cs.length > 1 && (cs.length > CommitLog.KEEP || this.bytes - c.bytes > CommitLog.KEEP_BYTES)) {
      this.bytes -= cs[0].bytes;
      cs.shift();
    }
  }

  clear(): void {
    this.commits.length = 0;
    this.bytes = 0;
  }

  /**
   * The commits after `snapshot` up to `tip` (the writer's committed tip, -1 if empty), when
   * the log holds all of them; null when it cannot tell (the writer then ignores the hints).
   */
  since(snapshot: number, tip: number): readonly Commit[] | null {
    this.unread = 0;
    if (snapshot === tip) return [];
    if (snapshot > tip) return null;
    const cs = this.commits;
    if (cs.length === 0 || cs[cs.length - 1].to !== tip) return null;
    for (let i = 0; i < cs.length; i++) {
      // A snapshot of the empty index is covered from the index's first commit on.
      if (snapshot === -1 ? !cs[i].first : cs[i].from !== snapshot + 1) continue;
      // Hints from this snapshot on need none of the older ones (a worker's snapshots only grow).
      for (let j = 0; j < i; j++) this.bytes -= cs[j].bytes;
      if (i > 0) cs.splice(0, i);
      return cs;
    }
    return null;
  }
}

/** Some commit of `cs` added a tx whose txid starts like t[at..at+6). */
export function sharesPrefix(cs: readonly Commit[], t: Uint8Array, at: number): boolean {
  for (let i = 0; i < cs.length; i++) if (cs[i].txs.find(t, at) >= 0) return true;
  return false;
}

/** Some commit of `cs` from index `from` on deleted the UTXO with that key. */
export function spentSince(cs: readonly Commit[], key: number | string, from = 0): boolean {
  for (let i = from; i < cs.length; i++) if (cs[i].spent.has(key)) return true;
  return false;
}
