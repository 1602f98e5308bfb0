export {
  allowListPath,
  curveKeyHex,
  generateKeyPair,
  type KeyPair,
  loadOrCreateKeyPair,
  parseCurveKey,
  readAllowList,
  readKeyPair,
  serverKeyPath,
} from './auth/keys.ts';
export { z85Decode, z85Encode } from './auth/z85.ts';
export {
  ConfigError,
  type ConfigOf,
  type ConfigSource,
  type ConfigSpec,
  configHelp,
  envName,
  kebab,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  type OptionSpec,
} from './daemon/config.ts';
export {
  createLogger,
  LOG_LEVELS,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from './daemon/log.ts';
export {
  type DaemonConfig,
  type DaemonContext,
  type DaemonSpec,
  daemonOptions,
  runDaemon,
} from './daemon/run.ts';
export { defaultEndpoint, type Endpoint, isNetworked, parseEndpoint, type Transport } from './endpoint.ts';
export {
  BusError,
  type BusErrorKind,
  ErrorCode,
  type ErrorCodeName,
  errorCodeName,
  FIRST_APP_ERROR,
  RpcError,
} from './errors.ts';
export { MAX_TOPIC, Publisher, type PublisherOptions } from './pubsub/publisher.ts';
export {
  type BodyDecoders,
  type BodyIn,
  type Gap,
  type Notification,
  Subscriber,
  type SubscriberOptions,
  type SubscriberStats,
} from './pubsub/subscriber.ts';
export {
  type CurveClientOptions,
  type RequestOptions,
  RpcClient,
  type RpcClientOptions,
  type RpcClientStats,
  type ServerInfo,
  type StatusReply,
} from './rpc/client.ts';
export {
  type CurveServerOptions,
  type Handler,
  type Handlers,
  type RejectReason,
  type RequestContext,
  RpcServer,
  type RpcServerOptions,
  type RpcServerStats,
} from './rpc/server.ts';
export { type AnyCodec, type Codec, type Infer, type StructOf, t } from './schema/codec.ts';
export { bodyFromArgs, fromJson, fromText, schemaHelp, schemaMarkdown, toJson } from './schema/docs.ts';
export {
  type BodyOf,
  defineMessages,
  ERROR_TYPE,
  FIRST_APP_ID,
  type MessageDef,
  type MessageTable,
  type NotificationName,
  REPLY_FLAG,
  type ReplyOf,
  type RequestName,
  type Schema,
  type SchemaOptions,
  UnknownTypeError,
  type WireMessage,
} from './schema/messages.ts';
export { BUS_PROTOCOL_VERSION, busMessages, PUB_HEADER, RPC_HEADER } from './wire.ts';
