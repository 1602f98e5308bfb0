import { DecodeError, type DecodeErrorCode } from '../errors.ts';

export type AddressErrorReason =
  /** Valid for another network (its hrp or version byte is another chain's). */
  | 'wrong-network'
  /** Base58check or bech32/bech32m checksum fails, or the wrong one of bech32/bech32m for the version. */
  | 'bad-checksum'
  /** Payload or witness program of a length the format does not allow, or the string too long. */
  | 'bad-length'
  /** A character outside the encoding's alphabet, or mixed case in bech32. */
  | 'bad-character'
  /** Unknown base58 version byte, or a witness version above 16. */
  | 'bad-version'
  /** Bech32 data whose 5-to-8-bit conversion leaves more than 4 bits or non-zero bits. */
  | 'bad-padding'
  /** Neither a base58 nor a bech32 address of any known network. */
  | 'bad-format';

const CODE: Record<AddressErrorReason, DecodeErrorCode> = {
  'wrong-network': 'invalid-value',
  'bad-checksum': 'bad-checksum',
  'bad-length': 'invalid-value',
  'bad-character': 'invalid-value',
  'bad-version': 'unsupported',
  'bad-padding': 'non-canonical',
  'bad-format': 'invalid-value',
};

/** A refused address: a DecodeError (what = "address") with a finer `reason`. */
export class AddressError extends DecodeError {
  constructor(
    readonly reason: AddressErrorReason,
    detail: string,
    offset = 0,
  ) {
    super(CODE[reason], 'address', offset, `${reason}: ${detail}`);
  }
}
