/**
 * Error codes carried by error replies (type 0xffff). Codes below 0x100 belong to the bus;
 * handlers throw `RpcError` with their own codes from 0x100 up (documented by each service).
 */
export const ErrorCode = {
  unknownType: 1,
  malformed: 2,
  oversized: 3,
  internal: 4,
  versionMismatch: 5,
  unavailable: 6,
  invalidRequest: 7,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;
export const FIRST_APP_ERROR = 0x100;

const NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

export function errorCodeName(code: number): string {
  return NAMES.get(code) ?? (code >= FIRST_APP_ERROR ? `app-${code}` : `code-${code}`);
}

/**
 * An error reply: thrown by handlers to answer with a code and message, and thrown by the client
 * when the server answered with one. Anything else a handler throws is answered as `internal`
 * with a generic message (the detail goes to the server's log, not to the peer).
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
  get codeName(): string {
    return errorCodeName(this.code);
  }
}

export type BusErrorKind =
  | 'timeout'
  | 'cancelled'
  | 'closed'
  | 'version-mismatch'
  | 'insecure-endpoint'
  | 'bad-endpoint'
  | 'bad-key'
  | 'bad-reply'
  | 'refused';

/** A failure on this side of the bus (no reply involved): timeouts, refusals, bad setup. */
export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(
    readonly kind: BusErrorKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}
