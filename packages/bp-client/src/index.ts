export { BpdError, bpdMessages } from '@lnpbp/bp-node/api/messages';
export {
  BpClient,
  type BpClientOptions,
  DEFAULT_DATADIR,
  type HeaderInfo,
  type HistoryEntry,
  type Info,
  type Outspend,
  type Page,
  type PageOptions,
  parseScriptArg,
  type ScriptQuery,
  type TxInfo,
  type Utxo,
  type WatchRequest,
} from './client.ts';
export {
  type BpdNotification,
  type ScriptEvent,
  type SpendEvent,
  type SubscribeOptions,
  Subscription,
  topicMatches,
  type WatchSubscribeOptions,
  WatchSubscription,
} from './subscribe.ts';
