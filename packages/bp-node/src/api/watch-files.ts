import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A directory of persisted subscriptions, one `<id>.json` each (watch sets, pattern and
 * descriptor watches). A file is written to a temp file then renamed, so a crash leaves the old
 * or the new one, never half of one. Ids are checked by the caller (SUBSCRIPTION_RE): no path
 * separators reach here.
 */
export class WatchFiles {
  /** `dir` null: nothing is kept on disk. */
  constructor(private readonly dir: string | null) {}

  private file(id: string): string {
    return join(this.dir!, `${id}.json`);
  }

  save(id: string, value: unknown): void {
    if (!this.dir) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file(id)}.tmp`;
    writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
    renameSync(tmp, this.file(id));
  }

  remove(id: string): void {
    if (this.dir) rmSync(this.file(id), { force: true });
  }

  /**
   * Each file parsed and handed to `take`, which throws on one it cannot use (the file is then
   * skipped and left in place); returns how many were taken and the names skipped.
   */
  load(take: (json: unknown) => void): { sets: number; skipped: string[] } {
    const skipped: string[] = [];
    if (!this.dir) return { sets: 0, skipped };
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return { sets: 0, skipped };
    }
    let n = 0;
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      try {
        take(JSON.parse(readFileSync(join(this.dir, name), 'utf8')));
        n++;
      } catch {
        skipped.push(name);
      }
    }
    return { sets: n, skipped };
  }
}
