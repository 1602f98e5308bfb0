import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * A thread that runs fdatasync for the writer, so a batch's LMDB writes go on while the disk
 * takes its block records (syncAhead). Plain JavaScript: it needs no loader.
 */
const SYNC_THREAD = `
const { parentPort } = require('node:worker_threads');
const { fdatasyncSync } = require('node:fs');
parentPort.on('message', ({ fd, flag }) => {
  const f = new Int32Array(flag);
  try { fdatasyncSync(fd); Atomics.store(f, 0, 1); } catch { Atomics.store(f, 0, 2); }
  Atomics.notify(f, 0);
});`;
let syncThread: Worker | null = null;

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

  /**
   * Starts an fdatasync of what was written so far on another thread; the returned function
   * waits for it and throws if it failed. Nothing may be written to the file in between.
   */
  syncAhead(): () => void {
    const flag = new SharedArrayBuffer(4);
    const f = new Int32Array(flag);
    try {
      if (syncThread === null) {
        syncThread = new Worker(SYNC_THREAD, { eval: true });
        syncThread.unref();
      }
      syncThread.postMessage({ fd: this.fd, flag });
    } catch {
      // No thread (it could not start): sync here, now.
      this.sync();
      return () => {};
    }
    return () => {
      Atomics.wait(f, 0, 0);
      if (Atomics.load(f, 0) !== 1) throw new Error(`fdatasync of ${this.path} failed`);
    };
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
