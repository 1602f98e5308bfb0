import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One bpd per datadir: two writers would interleave appends to blocks.dat. The lock is a file
 * holding the owner's pid, created atomically (O_EXCL); a lock whose pid is no longer alive
 * (a SIGKILLed or crashed bpd) is taken over. Removed when the process exits.
 * Returns a one-line fault, or null once the lock is held.
 */
export function lockDatadir(datadir: string): string | null {
  const path = join(datadir, 'bpd.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      process.on('exit', () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {}
      });
      return null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return `lock ${path}: ${(e as Error).message}`;
    }
    const pid = Number.parseInt(readText(path), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      return `datadir ${datadir} is in use by bpd pid ${pid} (remove ${path} if that is not bpd)`;
    }
    try {
      unlinkSync(path); // stale: its owner is gone
    } catch {}
  }
  return `lock ${path}: could not take it over`;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
