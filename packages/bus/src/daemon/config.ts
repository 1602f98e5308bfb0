import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Daemon configuration. Each option is declared once (type, default, doc); its flag, env var and
 * config-file key are derived from its name:
 *   option `rpcListen` -> flag `--rpc-listen`, env `BPD_RPC_LISTEN`, file key `rpc-listen`.
 * Precedence, highest first: command-line flags > environment > config file > defaults.
 * The datadir and config file path come only from flags/env/defaults (the file cannot move them).
 * Every failure is a ConfigError with a one-line message naming the source and the option.
 */
export type OptionSpec =
  | {
      readonly type: 'string';
      readonly default?: string;
      readonly choices?: readonly string[];
      readonly doc: string;
      readonly required?: boolean;
    }
  | {
      readonly type: 'int';
      readonly default?: number;
      readonly min?: number;
      readonly max?: number;
      readonly doc: string;
      readonly required?: boolean;
    }
  | { readonly type: 'bool'; readonly default?: boolean; readonly doc: string; readonly required?: boolean }
  | {
      readonly type: 'list';
      readonly default?: readonly string[];
      readonly doc: string;
      readonly required?: boolean;
    };

export type ConfigSpec = Readonly<Record<string, OptionSpec>>;

type ValueOf<O extends OptionSpec> = O['type'] extends 'int'
  ? number
  : O['type'] extends 'bool'
    ? boolean
    : O['type'] extends 'list'
      ? string[]
      : O extends { choices: readonly (infer C)[] }
        ? C
        : string;
type HasValue<O> = O extends { default: unknown }
  ? true
  : O extends { required: true }
    ? true
    : O extends { type: 'bool' | 'list' }
      ? true
      : false;
export type ConfigOf<S extends ConfigSpec> = {
  -readonly [K in keyof S]: HasValue<S[K]> extends true ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadConfigOptions {
  readonly service: string;
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Env var prefix; default the service name upper-cased (`bpd` -> `BPD_`). */
  readonly envPrefix?: string;
  /** Default datadir; default `~/.lnpbp/<service>`. */
  readonly defaultDatadir?: string;
}

export interface LoadedConfig<S extends ConfigSpec> {
  readonly config: ConfigOf<S>;
  readonly datadir: string;
  /** The config file read (undefined if none existed). */
  readonly configFile: string | undefined;
  /** Where each option's value came from. */
  readonly sources: { [K in keyof S]: ConfigSource };
  /** Arguments that are not flags (commands, for CLIs). */
  readonly positional: string[];
  /** `--help` was given. */
  readonly help: boolean;
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function envName(prefix: string, name: string): string {
  return `${prefix}${kebab(name).replace(/-/g, '_').toUpperCase()}`;
}

function parseValue(o: OptionSpec, raw: string, where: string): unknown {
  switch (o.type) {
    case 'string':
      if (o.choices && !o.choices.includes(raw)) {
        throw new ConfigError(`${where}: expected one of ${o.choices.join('|')}, got "${raw}"`);
      }
      return raw;
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${where}: expected an integer, got "${raw}"`);
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new ConfigError(`${where}: integer out of range: ${raw}`);
      if (o.min !== undefined && n < o.min) throw new ConfigError(`${where}: must be >= ${o.min}, got ${n}`);
      if (o.max !== undefined && n > o.max) throw new ConfigError(`${where}: must be <= ${o.max}, got ${n}`);
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(`${where}: expected true or false, got "${raw}"`);
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
  }
}

interface Layer {
  values: Map<string, unknown>;
}

export function loadConfig<S extends ConfigSpec>(spec: S, options: LoadConfigOptions): LoadedConfig<S> {
  const { service } = options;
  const argv = options.argv ?? process.argv.slice(2);
  const env = options.env ?? process.env;
  const prefix = options.envPrefix ?? `${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
  const byKebab = new Map<string, string>();
  for (const name of Object.keys(spec)) byKebab.set(kebab(name), name);

  // Flags.
  const flags: Layer = { values: new Map() };
  const positional: string[] = [];
  let datadirFlag: string | undefined;
  let confFlag: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let key = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let raw: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (key === 'help') {
      help = true;
      continue;
    }
    const takeValue = (): string => {
      if (raw !== undefined) return raw;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`flag --${key}: needs a value`);
      i++;
      return next;
    };
    if (key === 'datadir') {
      datadirFlag = takeValue();
      continue;
    }
    if (key === 'conf') {
      confFlag = takeValue();
      continue;
    }
    let negated = false;
    if (
      !byKebab.has(key) &&
      key.startsWith('no-') &&
      spec[byKebab.get(key.slice(3)) ?? '']?.type === 'bool'
    ) {
      key = key.slice(3);
      negated = true;
      if (raw !== undefined) throw new ConfigError(`flag --no-${key}: takes no value`);
      raw = 'false';
    }
    const name = byKebab.get(key);
    if (!name) throw new ConfigError(`flag --${negated ? 'no-' : ''}${key}: unknown option (see --help)`);
    const o = spec[name];
    const value = o.type === 'bool' && raw === undefined ? 'true' : takeValue();
    const parsed = parseValue(o, value, `flag --${key}`);
    if (o.type === 'list') {
      const prev = (flags.values.get(name) as string[] | undefined) ?? [];
      flags.values.set(name, [...prev, ...(parsed as string[])]);
    } else flags.values.set(name, parsed);
  }

  // Environment.
  const envLayer: Layer = { values: new Map() };
  for (const [name, o] of Object.entries(spec)) {
    const e = envName(prefix, name);
    const raw = env[e];
    if (raw !== undefined && raw !== '') envLayer.values.set(name, parseValue(o, raw, `env ${e}`));
  }

  const datadir = resolve(
    datadirFlag ?? env[`${prefix}DATADIR`] ?? options.defaultDatadir ?? join(homedir(), '.lnpbp', service),
  );
  const confPath = resolve(datadir, confFlag ?? env[`${prefix}CONF`] ?? `${service}.conf`);
  const explicitConf = confFlag !== undefined || env[`${prefix}CONF`] !== undefined;

  // Config file: `key = value` lines (bitcoin.conf style), `#` comments, list keys may repeat.
  const file: Layer = { values: new Map() };
  let configFile: string | undefined;
  if (existsSync(confPath)) {
    configFile = confPath;
    const lines = readFileSync(confPath, 'utf8').split('\n');
    lines.forEach((rawLine, i) => {
      const line = rawLine.replace(/(^|\s)#.*$/, '').trim();
      if (!line) return;
      const where = `${confPath}:${i + 1}`;
      const eq = line.indexOf('=');
      if (eq < 0) throw new ConfigError(`${where}: expected "key = value", got "${line}"`);
      const key = line.slice(0, eq).trim();
      const name = byKebab.get(key);
      if (!name) throw new ConfigError(`${where}: unknown option "${key}"`);
      const o = spec[name];
      const parsed = parseValue(o, line.slice(eq + 1).trim(), `${where} ${key}`);
      if (o.type === 'list') {
        const prev = (file.values.get(name) as string[] | undefined) ?? [];
        file.values.set(name, [...prev, ...(parsed as string[])]);
      } else file.values.set(name, parsed);
    });
  } else if (explicitConf) {
    throw new ConfigError(`config file ${confPath}: not found`);
  }

  const config: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const [name, o] of Object.entries(spec)) {
    let src: ConfigSource = 'default';
    let v: unknown = o.default;
    if (flags.values.has(name)) [src, v] = ['flag', flags.values.get(name)];
    else if (envLayer.values.has(name)) [src, v] = ['env', envLayer.values.get(name)];
    else if (file.values.has(name)) [src, v] = ['file', file.values.get(name)];
    if (v === undefined) {
      if (o.required && !help) {
        throw new ConfigError(
          `option --${kebab(name)}: required (flag, env ${envName(prefix, name)} or ${service}.conf)`,
        );
      }
      if (o.type === 'bool') v = false;
      if (o.type === 'list') v = [];
    }
    config[name] = Array.isArray(v) ? [...v] : v;
    sources[name] = src;
  }
  return {
    config: config as ConfigOf<S>,
    datadir,
    configFile,
    sources: sources as LoadedConfig<S>['sources'],
    positional,
    help,
  };
}

/** `--help` text for a spec: one line per option with its env var and default. */
export function configHelp(spec: ConfigSpec, service: string, envPrefix?: string): string {
  const prefix = envPrefix ?? `${service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
  const rows: Array<[string, string]> = [
    ['--datadir=<path>', `data directory (env ${prefix}DATADIR, default ~/.lnpbp/${service})`],
    ['--conf=<path>', `config file, relative to the datadir (env ${prefix}CONF, default ${service}.conf)`],
  ];
  for (const [name, o] of Object.entries(spec)) {
    const meta =
      o.type === 'bool'
        ? ''
        : o.type === 'string' && 'choices' in o && o.choices
          ? `=<${o.choices.join('|')}>`
          : `=<${o.type}>`;
    const def =
      o.default !== undefined
        ? `, default ${Array.isArray(o.default) ? o.default.join(',') || '(none)' : o.default}`
        : '';
    rows.push([`--${kebab(name)}${meta}`, `${o.doc} (env ${envName(prefix, name)}${def})`]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  return `Options (precedence: flags > env > ${service}.conf > defaults):\n${rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n')}\n`;
}
