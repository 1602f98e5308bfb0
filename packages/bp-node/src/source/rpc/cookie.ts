import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ValueError } from '@lnpbp/bitcoin/errors';
import type { P2PNetwork } from '../p2p/params.ts';

/** Core's per-network datadir subfolder (mainnet uses the datadir itself). */
const SUBDIR: Record<P2PNetwork, string> = {
  mainnet: '',
  testnet: 'testnet3',
  testnet4: 'testnet4',
  signet: 'signet',
  regtest: 'regtest',
};

/** Where Core writes its RPC cookie for `network` under `bitcoinDir` (its -datadir). */
export function cookiePath(bitcoinDir: string, network: P2PNetwork): string {
  return join(bitcoinDir, SUBDIR[network], '.cookie');
}

export interface RpcCredentials {
  user: string;
  pass: string;
}

/** Reads `__cookie__:<hex>` (Core rewrites it on every start, so callers re-read after a 401). */
export function readCookie(path: string): RpcCredentials {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValueError(
      'rpc cookie',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const line = text.trim();
  const i = line.indexOf(':');
  if (i <= 0) throw new ValueError('rpc cookie', `${path} is not "user:password"`);
  return { user: line.slice(0, i), pass: line.slice(i + 1) };
}
