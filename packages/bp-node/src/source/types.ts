/**
 * The contract between a chain source (a Bitcoin node reached over P2P, Core's RPC + ZMQ, ...)
 * and the indexer. Hashes are in internal byte order (as they appear in headers), never
 * display order.
 */
export interface BlockRef {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
}

/** A block as handed to the indexer: its header hash equals `hash` and its bytes frame exactly. */
export interface SourceBlock {
  height: number;
  hash: Uint8Array;
  raw: Uint8Array;
}

export type SourceKind = 'p2p' | 'rpc' | 'blocks';

export interface ChainSource {
  readonly kind: SourceKind;
  /** Connects and, for P2P, syncs headers up to the peer's tip before resolving. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The source's best chain tip. */
  getTip(): Promise<BlockRef>;
  /** Best-chain hash at `height`; null above the tip. */
  getBlockHash(height: number): Promise<Uint8Array | null>;
  /**
   * Blocks `from`..`to` inclusive, in height order, fetched with several requests in flight.
   * Each block's header hash was checked against the hash asked for and its transactions frame
   * exactly; a block that fails is never yielded (the iterator throws instead).
   */
  getBlocks(from: number, to: number): AsyncIterable<SourceBlock>;
  /** Raw transactions now in the source's mempool. */
  getMempool(): Promise<Uint8Array[]>;
  broadcast(rawTx: Uint8Array): Promise<void>;
  /** The chain changed: the indexer re-syncs (it finds the fork point via getBlockHash). */
  on(event: 'tip', cb: () => void): void;
  /** A transaction arrived in the mempool (with witness serialization). */
  on(event: 'tx', cb: (rawTx: Uint8Array) => void): void;
  /** A tx left the mempool for a reason other than confirmation, where the source tells. */
  on(event: 'txRemoved', cb: (txid: Uint8Array) => void): void;
  /** For logging; the source itself backs off and reconnects. */
  on(event: 'error', cb: (err: Error) => void): void;
  // biome-ignore lint/suspicious/noExplicitAny: listeners of any of the events above
  off(event: 'tip' | 'tx' | 'txRemoved' | 'error', cb: (...args: any[]) => void): void;
}

/** Raised by a source for faults of the remote side (peer, RPC server, publisher). */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    /** Which source and endpoint, e.g. "p2p 127.0.0.1:18444". */
    readonly where: string,
    readonly code: SourceErrorCode,
    detail: string,
  ) {
    super(`${where}: ${code}: ${detail}`);
  }
}

export type SourceErrorCode =
  | 'connect'
  | 'disconnected'
  | 'timeout'
  | 'protocol'
  | 'bad-block'
  | 'bad-header'
  | 'not-found'
  | 'auth'
  | 'rpc'
  | 'zmq-gap'
  | 'rejected'
  | 'stopped';
