/**
 * Argument checks shared by bpd's request handlers (handlers.ts, match.ts): a refused argument
 * becomes a typed error reply, and a handler never sees a value outside these bounds.
 */
import { RpcError } from '@lnpbp/bus';
import { BpdError, MAX_PAGE } from './messages.ts';

/** Items per page when a request's `limit` is 0. */
export const DEFAULT_PAGE = 100;

/** Throws the error reply `code` (BpdError) with `message`. */
export const fail = (code: keyof typeof BpdError, message: string): never => {
  throw new RpcError(BpdError[code], message);
};

/** A request's `limit`: 0 means DEFAULT_PAGE; above MAX_PAGE is a `badRequest`. */
export function pageLimit(limit: number): number {
  if (limit === 0) return DEFAULT_PAGE;
  if (limit > MAX_PAGE) fail('badRequest', `limit ${limit} above ${MAX_PAGE}`);
  return limit;
}
