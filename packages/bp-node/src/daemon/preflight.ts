import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { ConfigError, daemonOptions, loadConfig } from '@lnpbp/bus';
import { openIndex } from '../index/index.ts';
import { parseSourceUrl } from '../source/url.ts';
import { lockDatadir } from './lock.ts';
import { bpdOptions, progressIntervalMs } from './options.ts';

/**
 * Checks what bpd can check before it starts: the datadir is a usable directory, the source
 * URLs parse, the blocks dir exists, the options fit together. Returns a one-line message for
 * the first fault, or null. Config syntax errors are left to runDaemon, which reports them the
 * same way; this catches what it cannot (an unusable datadir, a malformed source), so that a
 * bad setup is one line on stderr and exit code 1 rather than a daemon that starts and fails.
 * It also takes the datadir lock (one bpd per datadir), held until the process exits.
 */
export async function preflight(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | null> {
  let loaded: ReturnType<typeof loadConfig<typeof bpdOptions & typeof daemonOptions>>;
  try {
    loaded = loadConfig({ ...daemonOptions, ...bpdOptions }, { service: 'bpd', argv: [...argv], env });
  } catch (e) {
    if (e instanceof ConfigError) return null;
    return (e as Error).message.split('\n')[0];
  }
  if (loaded.help) return null;
  const cfg = loaded.config;
  const datadir = loaded.datadir;
  const dirFault = usableDir(datadir, true);
  if (dirFault) return `datadir ${datadir}: ${dirFault}`;
  const ixDir = join(datadir, 'index');
  const ixFault = usableDir(ixDir, false);
  if (ixFault) return `index dir ${ixDir}: ${ixFault}`;

  const embedded = cfg.embeddedNode || !cfg.source;
  if (cfg.embeddedNode && cfg.source) return '--embedded-node and --source exclude each other';
  if (embedded && cfg.network && cfg.network !== 'regtest') {
    return `no --source given for ${cfg.network}; the embedded node runs regtest only`;
  }
  const network = (embedded ? 'regtest' : (cfg.network ?? 'mainnet')) as NetworkName;
  for (const [flag, url] of [
    ['--source', cfg.source],
    ['--live-source', cfg.liveSource],
  ] as const) {
    if (!url) continue;
    try {
      const s = parseSourceUrl(url, network);
      if (flag === '--live-source' && s.kind === 'blocks') return '--live-source must be p2p:// or rpc://';
      if (s.kind === 'blocks') {
        const f = usableDir(s.dir, false, true);
        if (f) return `blocks dir ${s.dir}: ${f}`;
      }
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      return flag === '--source' ? msg : `${flag}: ${msg}`;
    }
  }
  if (cfg.liveSource && !cfg.source?.startsWith('blocks:')) return '--live-source needs a blocks: --source';
  try {
    progressIntervalMs(cfg.progressInterval);
  } catch (e) {
    return (e as Error).message;
  }
  const lockFault = lockDatadir(datadir);
  if (lockFault) return lockFault;
  // An index of another network (or an unreadable one) is refused here, not after start-up.
  if (existsSync(join(ixDir, 'data.mdb'))) {
    try {
      await openIndex(datadir, network, { readOnly: true }).close();
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
  }
  return null;
}

/** Why `dir` cannot serve as a directory bpd reads (and writes, unless readOnly), or null. */
function usableDir(dir: string, create: boolean, readOnly = false): string | null {
  try {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st) {
      if (!create) return readOnly ? 'does not exist' : null;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } else if (!st.isDirectory()) {
      return 'not a directory';
    }
    accessSync(
      dir,
      readOnly ? constants.R_OK | constants.X_OK : constants.R_OK | constants.W_OK | constants.X_OK,
    );
    return null;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOTDIR') return 'a parent of it is a file, not a directory';
    if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
    return err.message.split('\n')[0];
  }
}
