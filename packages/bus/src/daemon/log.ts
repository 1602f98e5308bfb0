import { toHex } from '@lnpbp/bitcoin/bytes/hex';

/**
 * Structured logs: one JSON object per line, keys in a fixed order first:
 *   {"ts":"2025-01-01T00:00:00.000Z","level":"info","component":"bpd.rpc","msg":"...",...fields}
 * JSON (not logfmt) because fields carry nested values and every log shipper reads it.
 * bigint -> decimal string, bytes -> hex, Error -> its message.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly component: string;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger for a sub-component: `bpd` -> `bpd.rpc`. */
  child(component: string): Logger;
}

export interface LoggerOptions {
  readonly component: string;
  readonly level?: LogLevel;
  /** Where lines go (without the newline added). Default: stderr. */
  readonly sink?: (line: string) => void;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (v instanceof Error) return v.message;
  return v;
}

export function createLogger(options: LoggerOptions): Logger {
  const min = RANK[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const make = (component: string): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const rec: LogFields = { ts: now().toISOString(), level, component, msg };
      if (fields) for (const [k, v] of Object.entries(fields)) if (!(k in rec)) rec[k] = v;
      sink(JSON.stringify(rec, replacer));
    };
    return {
      component,
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (c) => make(`${component}.${c}`),
    };
  };
  return make(options.component);
}

/** A logger that drops everything (library default when the caller passes none). */
export const silentLogger: Logger = createLogger({ component: 'silent', level: 'error', sink: () => {} });
