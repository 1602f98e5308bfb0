import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * The append-only file holding each indexed block's bytes, its txids and its undo record, in
 * chain order. The index (LMDB) records how far the file is committed; this file is written and
 * synced before the LMDB commit that refers to it, and cut back to the committed length when
 * opened (a crash between the two leaves bytes nobody refers to) and after a disconnect (the
 * disconnected block is always the last record).
 */
export class FlatFile {
  private fd: number;
  private size: number;

  constructor(
    readonly path: string,
    readonly readOnly = false,
  ) {
    this.fd = openSync(path, readOnly ? 'r' : openSyncFlags(path));
    this.size = fstatSync(this.fd).size;
  }

  get length(): number {
    return this.size;
  }

  /** Cuts the file back to `committed` bytes (what the index refers to). */
  recover(committed: number): void {
    const actual = fstatSync(this.fd).size;
    if (actual < committed) {
      throw new Error(
        `${this.path} is ${actual} bytes but the index refers to ${committed}: the block file lost data`,
      );
    }
    if (actual > committed && !this.readOnly) {
      ftruncateSync(this.fd, committed);
      fdatasyncSync(this.fd);
    }
    this.size = committed;
  }

  /** Appends parts at the current end; returns the offset of the first byte. */
  append(parts: readonly Uint8Array[]): number {
    const start = this.size;
    let pos = start;
    for (const p of parts) {
      let done = 0;
      while (done < p.length) done += writeSync(this.fd, p, done, p.length - done, pos + done);
      pos += p.length;
    }
    this.size = pos;
    return start;
  }

  sync(): void {
    fdatasyncSync(this.fd);
  }

  truncate(length: number): void {
    ftruncateSync(this.fd, length);
    this.size = length;
  }

  /** Reads `length` bytes at `offset`; null when the file is shorter (a concurrent truncate). */
  read(offset: number, length: number): Uint8Array | null {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, offset + done);
      if (n === 0) return null;
      done += n;
    }
    return out;
  }

  /** Reads `length` bytes at `offset` into `out` at `at`; false when the file is shorter. */
  readInto(offset: number, out: Uint8Array, at: number, length: number): boolean {
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, at + done, length - done, offset + done);
      if (n === 0) return false;
      done += n;
    }
    return true;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

function openSyncFlags(path: string): string {
  try {
    closeSync(openSync(path, 'r'));
    return 'r+';
  } catch {
    return 'w+';
  }
}
