/**
 * Typed decoding errors. Every error thrown while turning bytes into values is a DecodeError:
 * it names what was being decoded, the byte offset where decoding failed, and why, so a CLI can
 * print one line and a daemon can log it without a stack trace.
 */
export type DecodeErrorCode =
  | 'truncated'
  | 'oversized'
  | 'non-canonical'
  | 'invalid-value'
  | 'trailing-bytes'
  | 'bad-magic'
  | 'bad-hex'
  | 'bad-checksum'
  | 'unsupported';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeErrorCode,
    /** What was being decoded, e.g. "tx.input[3].scriptSig". */
    readonly what: string,
    /** Byte offset in the input where the fault was found. */
    readonly offset: number,
    readonly detail?: string,
  ) {
    super(`${what}: ${code}${detail ? ` (${detail})` : ''} at offset ${offset}`);
  }
}

/** An error about a value given by a person or a peer that is not bytes: an id, an argument. */
export class ValueError extends Error {
  override readonly name = 'ValueError';
  constructor(
    readonly what: string,
    readonly detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}
