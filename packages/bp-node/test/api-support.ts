import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpClient, type BpClientOptions } from '@lnpbp/bp-client';
import { waitFor } from './harness/wait.ts';

const BPD = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'bin', 'bpd.ts');

export interface BpdProcess {
  readonly datadir: string;
  readonly child: ChildProcess;
  /** Everything bpd wrote to stderr (JSON log lines). */
  log(): string;
  /** Waits for exit; returns the exit code. */
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
  client(opts?: Partial<BpClientOptions>): Promise<BpClient>;
}

/** A short datadir (ipc paths are limited to 107 bytes). */
export function bpdDatadir(): string {
  return mkdtempSync(join(tmpdir(), 'bpd-api-'));
}

/** Starts the real bpd binary (child process) following `source`; resolves once its RPC answers. */
export async function startBpd(
  source: string | null,
  args: string[] = [],
  datadir = bpdDatadir(),
): Promise<BpdProcess> {
  const argv = [
    '--import',
    'tsx',
    BPD,
    '--datadir',
    datadir,
    '--network',
    'regtest',
    '--log-level',
    'debug',
    ...args,
  ];
  if (source) argv.push('--source', source);
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
    if (process.env.BPD_LOG) process.stderr.write(d);
  });
  child.stdout!.on('data', () => {});
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const p: BpdProcess = {
    datadir,
    child,
    log: () => log,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    client: (opts = {}) => BpClient.connect({ datadir, timeoutMs: 10_000, ...opts }),
  };
  return p;
}

/** Waits until bpd's log says its RPC is listening (or it exits). */
export async function bpdReady(p: BpdProcess, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'bpd ready',
    () => {
      if (p.child.exitCode !== null)
        throw new Error(`bpd exited ${p.child.exitCode}: ${p.log().slice(-2000)}`);
      return /"msg":"ready"/.test(p.log());
    },
    timeoutMs,
  );
}

/** Waits until bpd's index tip is the given display hash. */
export async function bpdAtTip(c: BpClient, hash: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(`bpd at ${hash}`, async () => (await c.getinfo()).tip?.hash === hash, timeoutMs, 50);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
