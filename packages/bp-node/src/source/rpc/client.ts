import { Agent, request } from 'node:http';
import { SourceError } from '../types.ts';
import { type RpcCredentials, readCookie } from './cookie.ts';

export interface RpcClientOptions {
  host: string;
  port: number;
  /** user:password; or else cookieFile. */
  credentials?: RpcCredentials;
  cookieFile?: string;
  /** Connections kept alive and requests in flight at once (default 8). */
  maxSockets?: number;
  timeoutMs?: number;
  /** Responses are refused past this (default 64 MiB: a 4 MB block is 8 MB of hex). */
  maxResponseBytes?: number;
}

/** A JSON-RPC error object returned by the node (the call reached it and it said no). */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message} (code ${code})`);
  }
}

/**
 * Bitcoin Core JSON-RPC over HTTP/1.1 keep-alive. Calls run concurrently (up to maxSockets
 * connections), which is how the sources pipeline getblockhash/getblock. Transport faults and
 * garbage replies are SourceError; the node's own error replies are RpcError.
 */
export class RpcClient {
  readonly where: string;
  private readonly agent: Agent;
  private readonly opts: Required<Omit<RpcClientOptions, 'credentials' | 'cookieFile'>> & RpcClientOptions;
  private auth: string | null = null;
  private nextId = 1;

  constructor(options: RpcClientOptions) {
    this.opts = { maxSockets: 8, timeoutMs: 60_000, maxResponseBytes: 64 * 1024 * 1024, ...options };
    this.where = `rpc ${options.host}:${options.port}`;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.opts.maxSockets });
    if (options.credentials) this.auth = basic(options.credentials);
  }

  private authHeader(reload: boolean): string {
    if (this.opts.credentials) return this.auth as string;
    if (!this.opts.cookieFile)
      throw new SourceError(this.where, 'auth', 'no user:password and no cookie file');
    if (reload || this.auth === null) {
      try {
        this.auth = basic(readCookie(this.opts.cookieFile));
      } catch (e) {
        throw new SourceError(this.where, 'auth', (e as Error).message);
      }
    }
    return this.auth;
  }

  async call<T>(method: string, params: unknown[] = []): Promise<T> {
    const body = JSON.stringify({ jsonrpc: '1.0', id: this.nextId++, method, params });
    let res = await this.post(body, this.authHeader(false));
    if (res.status === 401 && this.opts.cookieFile) res = await this.post(body, this.authHeader(true));
    if (res.status === 401 || res.status === 403) {
      throw new SourceError(this.where, 'auth', `HTTP ${res.status}: wrong RPC user/password or cookie`);
    }
    let parsed: { result?: T; error?: { code: number; message: string } | null };
    try {
      parsed = JSON.parse(res.text);
    } catch {
      throw new SourceError(
        this.where,
        'protocol',
        `${method}: HTTP ${res.status}, not JSON: ${JSON.stringify(res.text.slice(0, 120))}`,
      );
    }
    if (parsed === null || typeof parsed !== 'object') {
      throw new SourceError(this.where, 'protocol', `${method}: reply is not a JSON-RPC object`);
    }
    if (parsed.error) throw new RpcError(method, Number(parsed.error.code), String(parsed.error.message));
    if (!('result' in parsed))
      throw new SourceError(this.where, 'protocol', `${method}: reply has no result`);
    return parsed.result as T;
  }

  private post(body: string, auth: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.opts.host,
          port: this.opts.port,
          method: 'POST',
          path: '/',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            authorization: auth,
            'content-length': Buffer.byteLength(body),
          },
          timeout: this.opts.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let n = 0;
          const declared = Number(res.headers['content-length'] ?? 0);
          if (declared > this.opts.maxResponseBytes) {
            res.destroy();
            return reject(
              new SourceError(
                this.where,
                'protocol',
                `reply of ${declared} bytes exceeds ${this.opts.maxResponseBytes}`,
              ),
            );
          }
          res.on('data', (c: Buffer) => {
            n += c.length;
            if (n > this.opts.maxResponseBytes) {
              res.destroy();
              reject(
                new SourceError(this.where, 'protocol', `reply exceeds ${this.opts.maxResponseBytes} bytes`),
              );
              return;
            }
            chunks.push(c);
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (e) => reject(new SourceError(this.where, 'disconnected', e.message)));
          res.on('aborted', () => reject(new SourceError(this.where, 'disconnected', 'reply cut short')));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no reply within ${this.opts.timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          new SourceError(this.where, e.code === 'ECONNREFUSED' ? 'connect' : 'disconnected', e.message),
        ),
      );
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function basic(c: RpcCredentials): string {
  return `Basic ${Buffer.from(`${c.user}:${c.pass}`).toString('base64')}`;
}
