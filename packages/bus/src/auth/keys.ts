import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fromHex, toHex } from '@lnpbp/bitcoin/bytes/hex';
import * as zmq from 'zeromq';
import { BusError } from '../errors.ts';
import { z85Decode, z85Encode } from './z85.ts';

/** A CurveZMQ keypair, both keys as 40-character Z85 text (what ZeroMQ's options take). */
export interface KeyPair {
  readonly publicKey: string;
  readonly secretKey: string;
}

/** Accepts a 32-byte Curve key as Z85 (40 chars) or hex (64 chars); returns Z85. */
export function parseCurveKey(text: string, what = 'curve key'): string {
  const s = text.trim();
  try {
    if (s.length === 40) {
      const raw = z85Decode(s, what);
      return z85Encode(raw);
    }
    if (s.length === 64) return z85Encode(fromHex(s, what));
  } catch (e) {
    throw new BusError('bad-key', `${what}: ${(e as Error).message}`);
  }
  throw new BusError('bad-key', `${what}: expected 40 Z85 or 64 hex characters, got ${s.length}`);
}

export function curveKeyHex(z85: string): string {
  return toHex(z85Decode(z85));
}

export function generateKeyPair(): KeyPair {
  return zmq.curveKeyPair();
}

/**
 * A keypair kept in a file: `<path>` holds `public <z85>` and `secret <z85>` lines, mode 0600;
 * `<path>.pub` holds the public key alone, for handing to peers. Created when missing. An
 * existing secret file readable by group or others is refused, as ssh does.
 */
export function loadOrCreateKeyPair(path: string): KeyPair {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const kp = generateKeyPair();
    writeFileSync(
      path,
      `# CurveZMQ keypair (Z85). Keep secret.\npublic ${kp.publicKey}\nsecret ${kp.secretKey}\n`,
      {
        mode: 0o600,
        flag: 'wx',
      },
    );
    chmodSync(path, 0o600); // the umask may have narrowed it; make it exact
    writeFileSync(`${path}.pub`, `${kp.publicKey}\n`, { mode: 0o644 });
    return kp;
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new BusError(
      'bad-key',
      `${path}: secret key file has mode ${mode.toString(8)}, must be 0600 (chmod 600 ${path})`,
    );
  }
  return readKeyPair(path);
}

export function readKeyPair(path: string): KeyPair {
  let pub: string | undefined;
  let sec: string | undefined;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*(public|secret)\s+(\S+)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === 'public') pub = parseCurveKey(m[2], `${path}: public`);
    else sec = parseCurveKey(m[2], `${path}: secret`);
  }
  if (!pub || !sec) throw new BusError('bad-key', `${path}: needs a "public" and a "secret" line`);
  return { publicKey: pub, secretKey: sec };
}

/** The server keypair of a service: `<datadir>/curve/<service>.key` (+ `.pub`). */
export function serverKeyPath(datadir: string, service: string): string {
  return join(datadir, 'curve', `${service}.key`);
}

/** The allow-list of client keys of a service: `<datadir>/curve/<service>.clients`. */
export function allowListPath(datadir: string, service: string): string {
  return join(datadir, 'curve', `${service}.clients`);
}

/**
 * Reads an allow-list: one client public key per line (Z85 or hex), optionally followed by a
 * name for the logs; `#` at the start of a line or after whitespace starts a comment (Z85 keys
 * themselves may contain `#`). Returns key (Z85) -> name. A missing file is an
 * empty list (every client refused).
 */
export function readAllowList(path: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(path)) return out;
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*/, '').trim();
    if (!line) return;
    const [key, ...name] = line.split(/\s+/);
    const z = parseCurveKey(key, `${path}:${i + 1}`);
    out.set(z, name.join(' ') || z.slice(0, 8));
  });
  return out;
}
