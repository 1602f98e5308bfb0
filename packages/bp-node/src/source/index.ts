export { Backoff } from './backoff.ts';
export {
  blockTxids,
  checkBlock,
  checkTx,
  HEADER_SIZE,
  headerHash,
  MAX_BLOCK_SIZE,
  merkleRoot,
  txid,
} from './block-check.ts';
export { P2P_PARAMS, type P2PNetwork } from './p2p/params.ts';
export { P2PSource, type P2PSourceOptions } from './p2p/source.ts';
export { RpcClient, RpcError } from './rpc/client.ts';
export { cookiePath, readCookie } from './rpc/cookie.ts';
export { RpcSource, type RpcSourceOptions } from './rpc/source.ts';
export type { BlockRef, ChainSource, SourceBlock, SourceErrorCode, SourceKind } from './types.ts';
export { SourceError } from './types.ts';
export {
  type CreateSourceOptions,
  createSource,
  DEFAULT_RPC_PORT,
  parseSourceUrl,
  type SourceConfig,
} from './url.ts';
