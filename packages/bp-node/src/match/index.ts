export {
  checkGap,
  DEFAULT_GAP,
  type DerivedScript,
  type DescriptorBalance,
  type DescriptorHistoryItem,
  type DescriptorOptions,
  type DescriptorUtxo,
  descriptorBalance,
  descriptorHistory,
  descriptorUtxos,
  MAX_GAP,
  scanDescriptor,
  watchOnlyDescriptor,
} from './descriptor.ts';
export {
  committingScriptPubKey,
  DEFAULT_SCAN_LIMIT,
  type FundingOutput,
  MAX_MATCH_LIMIT,
  type MatchItem,
  type MatchOptions,
  type MatchPage,
  matchConfirmed,
} from './pattern.ts';
export {
  blockPrevScripts,
  type DescriptorHit,
  DescriptorWatches,
  mempoolPrevScript,
  type PatternHit,
  PatternWatches,
  type TxReveal,
  txReveals,
} from './push.ts';
export { matchView } from './view.ts';
