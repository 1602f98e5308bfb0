import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Test harness: a real bcoin 1.0.2 regtest full node in a child process (crash isolation, and
 * tests can SIGKILL it), in memory, on 127.0.0.1 with free ports, P2P and Core-style JSON-RPC
 * (HTTP basic auth, any user, the api key as password). bcoin's regtest bech32 prefix is `rb`,
 * its coinbase maturity 100 and its subsidy halves every 150 blocks.
 */

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'bcoin-node.cjs');

export interface StartBcoinOptions {
  /** Offer BIP37/BIP35 (NODE_BLOOM, answers `mempool`); default true. */
  bip37?: boolean;
  /** bcoin log level to stderr (error, warning, info, debug, spam); default error. */
  logLevel?: string;
  /** Milliseconds to wait for READY; default 30 s. */
  startTimeoutMs?: number;
}

export class RpcFault extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message} (code ${code})`);
  }
}

export interface BcoinNode {
  readonly p2pPort: number;
  readonly rpcPort: number;
  readonly apiKey: string;
  readonly pid: number;
  /** `p2p://127.0.0.1:<port>` */
  readonly p2pUrl: string;
  /** `rpc://bcoin:<apikey>@127.0.0.1:<port>` */
  readonly rpcUrl: string;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /** Mines n blocks paying `address`; returns their hashes (display order). */
  mine(n: number, address: string): Promise<string[]>;
  height(): Promise<number>;
  bestHash(): Promise<string>;
  blockHash(height: number): Promise<string>;
  /** Raw block bytes by display hash. */
  rawBlock(hash: string): Promise<Uint8Array>;
  mempool(): Promise<string[]>;
  /**
   * Opens an outbound connection from this node to `other` and waits for their tips to match.
   * bcoin syncs only from its outbound peers, so the node that is behind (or is to reorg onto
   * the other's heavier branch) is the one that connects.
   */
  connectTo(other: BcoinNode, timeoutMs?: number): Promise<void>;
  /** Drops the connection from this node to `other` and waits until neither lists it. */
  disconnectFrom(other: BcoinNode, timeoutMs?: number): Promise<void>;
  /** Polls until the node's best hash is `hash`. */
  waitForTip(hash: string, timeoutMs?: number): Promise<void>;
  /** Closes the node (SIGTERM) and waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL. */
  kill(): void;
}

/** A TCP port free on 127.0.0.1 at the moment of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startBcoin(options: StartBcoinOptions = {}): Promise<BcoinNode> {
  const p2pPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === p2pPort) httpPort = await freePort();
  const apiKey = randomBytes(16).toString('hex');
  const child = spawn(
    process.execPath,
    [
      CHILD,
      JSON.stringify({
        p2pPort,
        httpPort,
        apiKey,
        bip37: options.bip37 !== false,
        logLevel: options.logLevel ?? 'error',
      }),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
    if (process.env.BCOIN_LOG) process.stderr.write(d);
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`bcoin did not start within ${options.startTimeoutMs ?? 30_000} ms: ${stderr.trim()}`),
      );
    }, options.startTimeoutMs ?? 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (process.env.BCOIN_LOG) process.stderr.write(d);
      out += d.toString();
      if (out.includes('READY ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bcoin exited with code ${code} before it was ready: ${stderr.trim()}`));
    });
  });
  return new Node(child, p2pPort, httpPort, apiKey);
}

class Node implements BcoinNode {
  readonly p2pUrl: string;
  readonly rpcUrl: string;
  private readonly exited: Promise<void>;
  private nextId = 1;

  constructor(
    private readonly child: ChildProcess,
    readonly p2pPort: number,
    readonly rpcPort: number,
    readonly apiKey: string,
  ) {
    this.p2pUrl = `p2p://127.0.0.1:${p2pPort}`;
    this.rpcUrl = `rpc://bcoin:${apiKey}@127.0.0.1:${rpcPort}`;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.rpcPort}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`bcoin:${this.apiKey}`).toString('base64')}`,
      },
      body: JSON.stringify({ jsonrpc: '1.0', id: this.nextId++, method, params }),
    });
    const text = await res.text();
    let body: { result: T; error: { code: number; message: string } | null };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${method}: HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    if (body.error) throw new RpcFault(method, body.error.code, body.error.message);
    return body.result;
  }

  mine(n: number, address: string): Promise<string[]> {
    return this.rpc<string[]>('generatetoaddress', [n, address]);
  }

  async height(): Promise<number> {
    return this.rpc<number>('getblockcount');
  }

  bestHash(): Promise<string> {
    return this.rpc<string>('getbestblockhash');
  }

  blockHash(height: number): Promise<string> {
    return this.rpc<string>('getblockhash', [height]);
  }

  async rawBlock(hash: string): Promise<Uint8Array> {
    return new Uint8Array(Buffer.from(await this.rpc<string>('getblock', [hash, 0]), 'hex'));
  }

  mempool(): Promise<string[]> {
    return this.rpc<string[]>('getrawmempool');
  }

  async connectTo(other: BcoinNode, timeoutMs = 20_000): Promise<void> {
    await this.rpc('addnode', [`127.0.0.1:${other.p2pPort}`, 'onetry']);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [a, b] = await Promise.all([this.bestHash(), other.bestHash()]);
      if (a === b) return;
      if (Date.now() > deadline)
        throw new Error(`nodes did not converge within ${timeoutMs} ms (${a} vs ${b})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async disconnectFrom(other: BcoinNode, timeoutMs = 10_000): Promise<void> {
    const target = `127.0.0.1:${other.p2pPort}`;
    await this.rpc('disconnectnode', [target]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mine = await this.rpc<{ addr: string }[]>('getpeerinfo');
      const theirs = await other.rpc<{ inbound: boolean; subver: string }[]>('getpeerinfo');
      // Other peers of `other` (a source under test) stay; only bcoin-to-bcoin links count.
      if (
        !mine.some((p) => p.addr === target) &&
        !theirs.some((p) => p.inbound && p.subver.includes('bcoin'))
      )
        return;
      if (Date.now() > deadline) throw new Error(`disconnect from ${target} did not complete`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async waitForTip(hash: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.bestHash()) !== hash) {
      if (Date.now() > deadline) throw new Error(`tip did not become ${hash} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(t);
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
