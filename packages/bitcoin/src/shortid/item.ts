/**
 * The seven kinds of LNPBP-5 item an id can name. Indexes are Bitcoin's own 0-based input/output
 * numbers (vin/vout); the id stores index + 1, the item does not.
 */
export type ShortIdKind =
  | 'block'
  | 'tx'
  | 'input'
  | 'output'
  | 'offchain-tx'
  | 'offchain-input'
  | 'offchain-output';

export interface BlockItem {
  readonly kind: 'block';
  /** 0 ..= 8,388,607 (23 bits). */
  readonly height: number;
  /** XOR of the 32 block-hash bytes (see blockChecksum). */
  readonly checksum: number;
}

export interface TxItem {
  readonly kind: 'tx';
  readonly height: number;
  readonly checksum: number;
  /** Position of the tx in its block, 0 = coinbase (whose id equals the block's id). */
  readonly position: number;
}

export interface InputItem {
  readonly kind: 'input';
  readonly height: number;
  readonly checksum: number;
  readonly position: number;
  /** 0-based input index. */
  readonly index: number;
}

export interface OutputItem {
  readonly kind: 'output';
  readonly height: number;
  readonly checksum: number;
  readonly position: number;
  /** 0-based output index; >= 32,767 uses the extended layout. */
  readonly index: number;
}

/**
 * Off-chain items carry `txidPrefix`: the top 47 bits of the txid read as the big-endian number its
 * display hex shows (0 <= txidPrefix < 2^47). An extended off-chain output (index >= 32,767) holds
 * only the top 30 of those bits, so its txidPrefix has the low 17 bits zero.
 */
export interface OffchainTxItem {
  readonly kind: 'offchain-tx';
  readonly txidPrefix: number;
}

export interface OffchainInputItem {
  readonly kind: 'offchain-input';
  readonly txidPrefix: number;
  readonly index: number;
}

export interface OffchainOutputItem {
  readonly kind: 'offchain-output';
  readonly txidPrefix: number;
  readonly index: number;
}

export type OnchainItem = BlockItem | TxItem | InputItem | OutputItem;
export type OffchainItem = OffchainTxItem | OffchainInputItem | OffchainOutputItem;
export type ShortIdItem = OnchainItem | OffchainItem;
