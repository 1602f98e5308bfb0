/**
 * Catch-up progress: a line at most every `everyMs` with height, blocks/s and MB/s over the
 * last interval, and an ETA from the blocks still to go at the average rate since start.
 */
export class Progress {
  private startAt = 0;
  private lastAt = 0;
  private fromHeight = 0;
  private target = 0;
  private height = 0;
  private blocks = 0;
  private bytes = 0;
  private totalBlocks = 0;
  private totalBytes = 0;

  constructor(readonly everyMs: number) {}

  start(from: number, target: number): void {
    this.startAt = this.lastAt = Date.now();
    this.fromHeight = from;
    this.target = target;
    this.blocks = this.bytes = this.totalBlocks = this.totalBytes = 0;
  }

  tick(height: number, size: number, log: (fields: Record<string, unknown>) => void): void {
    this.height = height;
    this.blocks++;
    this.bytes += size;
    this.totalBlocks++;
    this.totalBytes += size;
    const now = Date.now();
    if (now - this.lastAt < this.everyMs) return;
    const secs = (now - this.lastAt) / 1000;
    const avg = this.totalBlocks / Math.max(0.001, (now - this.startAt) / 1000);
    const left = Math.max(0, this.target - height);
    log({
      height,
      target: this.target,
      blocksPerSec: round(this.blocks / secs),
      mbPerSec: round(this.bytes / 1e6 / secs),
      etaSec: Math.round(left / avg),
      pct: round((100 * (height - this.fromHeight + 1)) / Math.max(1, this.target - this.fromHeight + 1)),
    });
    this.lastAt = now;
    this.blocks = this.bytes = 0;
  }

  finish(log: (fields: Record<string, unknown>) => void): void {
    if (this.totalBlocks === 0) return;
    const secs = Math.max(0.001, (Date.now() - this.startAt) / 1000);
    log({
      height: this.height,
      blocks: this.totalBlocks,
      seconds: round(secs),
      blocksPerSec: round(this.totalBlocks / secs),
      mbPerSec: round(this.totalBytes / 1e6 / secs),
    });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
