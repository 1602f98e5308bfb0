/**
 * Parsed transaction and block values. Byte fields are views into the buffer the item was parsed
 * from (no copies): keep that buffer alive while the values are used, and copy what must outlive it.
 * Hashes (prevTxid, txid, block hashes) are in internal byte order; display order is reversed
 * (see bytes/hex.ts toHexReversed).
 */
export interface TxIn {
  /** Txid of the output spent, internal byte order (32 bytes). */
  readonly prevTxid: Uint8Array;
  /** Index of the output spent (0xffffffff for a coinbase). */
  readonly vout: number;
  readonly scriptSig: Uint8Array;
  readonly sequence: number;
  /** Witness stack items (empty array when the tx has no witness or this input has none). */
  readonly witness: Uint8Array[];
}

export interface TxOut {
  /** Amount in satoshis. */
  readonly value: bigint;
  readonly scriptPubKey: Uint8Array;
}

export interface Tx {
  readonly version: number;
  readonly inputs: TxIn[];
  readonly outputs: TxOut[];
  readonly locktime: number;
  /** BIP-144 serialization (marker 0x00, flag 0x01) was used. */
  readonly hasWitness: boolean;
  /** The whole serialization as parsed (a view). */
  readonly raw: Uint8Array;
  /** Offset within raw where the witness section starts (== raw.length - 4 when hasWitness is false). */
  readonly witnessOffset: number;
  /** Size without witness data (BIP-141 base size). */
  readonly baseSize: number;
  /** Total serialized size (raw.length). */
  readonly size: number;
  /** BIP-141 weight: baseSize * 3 + size. */
  readonly weight: number;
  /** ceil(weight / 4). */
  readonly vsize: number;
  /** Txid (sha256d of the serialization without witness), internal order. Computed once. */
  txid(): Uint8Array;
  /** Wtxid (sha256d of the full serialization), internal order; equals txid without witness. */
  wtxid(): Uint8Array;
  readonly isCoinbase: boolean;
}

export interface BlockHeader {
  readonly version: number;
  /** Previous block hash, internal order. */
  readonly prevHash: Uint8Array;
  readonly merkleRoot: Uint8Array;
  readonly time: number;
  readonly bits: number;
  readonly nonce: number;
  /** The 80 header bytes (a view). */
  readonly raw: Uint8Array;
  /** Block hash (sha256d of the header), internal order. */
  hash(): Uint8Array;
}

export interface Block {
  readonly header: BlockHeader;
  readonly txs: Tx[];
  /** The whole block serialization (a view). */
  readonly raw: Uint8Array;
}
