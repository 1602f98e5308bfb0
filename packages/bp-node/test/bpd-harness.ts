/**
 * The bpd binary as a child process, for the end-to-end tests (bpd-*.test.ts): spawn, read its
 * JSON log lines from stderr, wait for lines, kill, run to exit, and `bpd dump --hash`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const BPD = join(import.meta.dirname, '..', 'src', 'bin', 'bpd.ts');
export const CHAIN_FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'chain');

export interface LogLine {
  level: string;
  component: string;
  msg: string;
  ts: string;
  [k: string]: unknown;
}

export interface BpdChild {
  readonly proc: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly lines: LogLine[];
  /** Raw stderr text (non-JSON lines included). */
  stderr(): string;
  stdout(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line (past or future) matching `pred`; rejects on exit or timeout. */
  waitLine(what: string, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Calls `cb` for every line from now on (and the ones already read, when `past`). */
  onLine(cb: (l: LogLine) => void, past?: boolean): void;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnBpd(args: string[]): BpdChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', BPD, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const listeners: ((l: LogLine) => void)[] = [];
  let err = '';
  let out = '';
  let partial = '';
  proc.stderr!.on('data', (d: Buffer) => {
    const s = d.toString();
    err += s;
    if (process.env.BPD_LOG) process.stderr.write(s);
    partial += s;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      let l: LogLine;
      try {
        l = JSON.parse(p);
      } catch {
        continue;
      }
      lines.push(l);
      for (const cb of [...listeners]) cb(l);
    }
  });
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    proc,
    lines,
    stderr: () => err,
    stdout: () => out,
    exited,
    onLine(cb, past = false) {
      if (past) for (const l of lines) cb(l);
      listeners.push(cb);
    },
    waitLine(what, pred, timeoutMs = 30_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`timed out waiting for bpd to log ${what}; stderr tail:\n${err.slice(-2000)}`));
        }, timeoutMs);
        const cb = (l: LogLine) => {
          if (!pred(l)) return;
          off();
          resolve(l);
        };
        const off = () => {
          clearTimeout(timer);
          const i = listeners.indexOf(cb);
          if (i >= 0) listeners.splice(i, 1);
        };
        listeners.push(cb);
        void exited.then(({ code, signal }) => {
          if (listeners.includes(cb)) {
            off();
            reject(
              new Error(
                `bpd exited (${code ?? signal}) before logging ${what}; stderr tail:\n${err.slice(-2000)}`,
              ),
            );
          }
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (!done) proc.kill(signal);
    },
  };
}

/** Runs bpd to its exit; returns code, stdout, stderr and the log lines. */
export async function runBpd(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; lines: LogLine[] }> {
  const c = spawnBpd(args);
  const { code } = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr(), lines: c.lines };
}

/** `bpd dump --datadir D --hash`. */
export async function dumpHash(datadir: string): Promise<string> {
  const r = await runBpd(['dump', '--datadir', datadir, '--hash']);
  if (r.code !== 0) throw new Error(`bpd dump failed (${r.code}): ${r.stderr}`);
  const h = r.stdout.trim();
  if (!/^[0-9a-f]{64}$/.test(h)) throw new Error(`bpd dump --hash printed "${h}"`);
  return h;
}

/** A Core-style blocks dir holding mainnet blocks 0-599 (the blk fixtures), under `root`. */
export function mainnetBlocksDir(root: string): string {
  const dir = join(root, 'blocks');
  mkdirSync(dir, { recursive: true });
  for (const f of ['blk00000.dat', 'blk00001.dat']) copyFileSync(join(CHAIN_FIXTURES, f), join(dir, f));
  return dir;
}
