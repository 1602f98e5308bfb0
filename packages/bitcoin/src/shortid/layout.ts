/**
 * LNPBP-5 bit layout. An id is a u64 handled as two u32 halves: hi = bits 0-31, lo = bits 32-63
 * (bit 0 = most significant). Keys are stored big-endian so byte order = numeric order = chain order.
 *
 * Ordinary on-chain (spec):   hi = 0 | height:23 | checksum:8
 *                             lo = position:16 | out:1 | index+1:15
 * Extended on-chain output:   lo = 1 | position:14 | index-32767:17
 *   (bit 32 is the top bit of the spec's position field, which no real tx can set: a block holds
 *   at most 16,666 txs; a block holding a tx with >= 32,768 outputs holds at most 11,750.)
 * Ordinary off-chain (spec):  hi = 1 | txid bits 0-30;  lo = txid bits 31-46 | out:1 | index+1:15
 * Extended off-chain output:  hi = 1 | txid bits 0-29 | (index-32767) bit 16
 *                             lo = (index-32767) bits 0-15 | 1 | 0:15
 *   (the pattern out=1, index+1=0 is unused by the spec.)
 */

export const MAX_HEIGHT = 0x7fffff;
export const MAX_CHECKSUM = 0xff;
/** Highest tx position an ordinary id can hold (bit 32 is the extension flag). */
export const MAX_POSITION = 0x7fff;
/** Highest input/output index the spec's 15-bit field (index + 1) can hold. */
export const MAX_ORDINARY_INDEX = 0x7ffe;
/** First output index that needs the extended layout. */
export const EXT_MIN_INDEX = 0x7fff;
/** Highest output index the extended layout can hold (17-bit offset). */
export const EXT_MAX_INDEX = EXT_MIN_INDEX + 0x1ffff;
/** Highest tx position the extended on-chain layout can hold (14 bits). */
export const EXT_MAX_POSITION = 0x3fff;
/** Off-chain ids hold the top 47 bits of the txid; extended off-chain outputs the top 30. */
export const TXID_PREFIX_BITS = 47;
export const EXT_TXID_PREFIX_BITS = 30;
export const TXID_PREFIX_LIMIT = 2 ** 47;
/** txidPrefix bits an extended off-chain output drops (must be zero in its item). */
export const EXT_TXID_DROPPED = 2 ** 17;

/**
 * Consensus bounds (not enforced by the codec, which accepts everything its layout can hold):
 * 1,000,000 bytes of non-witness data, 60-byte minimum tx, 41-byte input, 9-byte output.
 */
export const CONSENSUS_MAX_TXS_PER_BLOCK = 16_666;
export const CONSENSUS_MAX_INPUTS = 24_390;
export const CONSENSUS_MAX_OUTPUTS = 111_111;
