/**
 * Catch-up on two cores: a worker thread prepares blocks (prepared.ts: parse, verify, hashes,
 * layout, scriptPubKey shapes; no index state) while this thread, the only LMDB writer,
 * resolves, applies and commits the blocks before them (ConnectBatch.addPrepared).
 *
 * Blocks go in with push() and come out of take() in the same order, prepared. The queue
 * holds up to `ahead` blocks / `aheadBytes` (full: take before pushing more), so the worker
 * works through the next blocks while a batch commits. Blocks under `minBytes` are prepared
 * on this thread at take(): for tiny blocks the hand-over costs more than the work it moves
 * (docs/performance.md, "Indexing").
 *
 * The worker gets a copy of each block's bytes and sends back typed arrays, all transferred;
 * this thread keeps its own bytes for blocks.dat and the layout's offsets. The copies go into
 * buffers the worker hands back with each result: a fresh multi-megabyte ArrayBuffer costs
 * ~4 ms per MB here in page faults (the 6 modern blocks: 35 ms, against 0.6 ms copied into
 * memory used before). The worker is started at the first block big enough and ended by
 * close(). It holds the process open only while blocks posted to it are unanswered (a result
 * someone awaits), so a preparer left unclosed never keeps the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { fromMessage, type Prepared, type PreparedMessage, tryPrepare } from './prepared.ts';

export interface PreparerOptions {
  /** Blocks smaller than this are prepared on the calling thread (default 16 KiB). */
  minBytes?: number;
  /** Blocks queued at most (default 16) ... */
  ahead?: number;
  /** ... and their bytes (default 32 MiB; at least one block is always let in). */
  aheadBytes?: number;
}

interface Queued {
  raw: Uint8Array;
  height: number;
  /** null, or settled null: prepare at take(), on this thread. */
  prepared: Promise<Prepared | null> | null;
}

/** tsx's loader is not inherited by workers: the worker registers it, then loads its module. */
const BOOT =
  `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};\n` +
  `register();\nawait import(${JSON.stringify(new URL('./prepare-worker.ts', import.meta.url).href)});`;

/** How long close() lets the worker finish the message it is on before terminating it. */
const CLOSE_WAIT_MS = 5_000;

export class BlockPreparer {
  private readonly minBytes: number;
  private readonly ahead: number;
  private readonly aheadBytes: number;
  private worker: Worker | null = null;
  private nextId = 0;
  /** Blocks posted to the worker and not answered: their bytes and how to settle them. */
  private readonly waiting = new Map<number, { raw: Uint8Array; settle: (p: Prepared | null) => void }>();
  /** Why the worker ended on its own, if it did: blocks are then prepared on this thread. */
  private lostWhy: string | null = null;
  private readonly queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  private closed = false;
  /** Buffers the worker handed back, for the next blocks' copies. */
  private readonly spare: ArrayBuffer[] = [];
  /** Set at close(): the worker skips the blocks still queued for it. */
  private readonly stop = new Int32Array(new SharedArrayBuffer(4));
  /** The index the blocks go to, whose inputs the worker looks up (hints.ts). */
  private index: { dir: string; network: NetworkName } | null = null;

  constructor(opts: PreparerOptions = {}) {
    this.minBytes = opts.minBytes ?? 16 * 1024;
    this.ahead = opts.ahead ?? 16;
    this.aheadBytes = opts.aheadBytes ?? 32 * 2 ** 20;
  }

  /** Blocks pushed and not taken. */
  get size(): number {
    return this.queue.length - this.head;
  }

  /** The queue is at its bounds: take() before pushing more. */
  get full(): boolean {
    return this.size >= this.ahead || (this.size > 0 && this.queuedBytes >= this.aheadBytes);
  }

  /** Queues the block at `height`; a big one goes to the worker at once. */
  push(raw: Uint8Array, height: number): void {
    if (this.closed) throw new Error('the block preparer is closed');
    const prepared = raw.length >= this.minBytes && this.lostWhy === null ? this.post(raw, height) : null;
    this.queue.push({ raw, height, prepared });
    this.queuedBytes += raw.length;
  }

  /**
   * The oldest block pushed, prepared (a rejection is in the result, not thrown). Add it before
   * the next take(): a block prepared on this thread shares the layout's scratch arrays.
   */
  async take(): Promise<{ raw: Uint8Array; height: number; prepared: Prepared }> {
    if (this.size === 0) throw new Error('no block queued');
    const q = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as Queued;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    this.queuedBytes -= q.raw.length;
    const prepared = (q.prepared === null ? null : await q.prepared) ?? tryPrepare(q.raw, q.height);
    return { raw: q.raw, height: q.height, prepared };
  }

  /**
   * The blocks pushed from now on go to the index at `dir`: the worker reads it (read-only, at
   * a snapshot per block) to find their inputs' spent outputs ahead of the writer (hints.ts).
   * null: it stops. The writer checks each hint against what it committed since.
   */
  readIndex(dir: string | null, network: NetworkName): void {
    const index = dir === null ? null : { dir, network };
    if (index?.dir === this.index?.dir) return;
    this.index = index;
    this.worker?.postMessage({ index });
  }

  /** Milliseconds the worker has spent busy so far (its event loop's active time; 0 before it starts). */
  workerBusyMs(): number {
    return this.worker?.performance.eventLoopUtilization().active ?? 0;
  }

  /** Drops the queued blocks (their preparing finishes unread). */
  clear(): void {
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
  }

  /**
   * Ends the worker; blocks still being prepared settle as failed. The worker is asked to stop
   * after the message it is on (it may be inside an lmdb-js call, which a terminate() must not
   * interrupt) and terminated only if it has not within CLOSE_WAIT_MS. False when it had to be
   * terminated.
   */
  async close(): Promise<boolean> {
    this.closed = true;
    this.clear();
    const w = this.worker;
    this.worker = null;
    this.fail('the block preparer closed');
    if (w === null) return true;
    Atomics.store(this.stop, 0, 1);
    const exited = new Promise<void>((done) => w.once('exit', () => done()));
    w.postMessage({ close: true });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((done) => {
      timer = setTimeout(() => done(true), CLOSE_WAIT_MS);
    });
    const tooLate = await Promise.race([exited.then(() => false), late]);
    clearTimeout(timer);
    if (tooLate) await w.terminate();
    return !tooLate;
  }

  private post(raw: Uint8Array, height: number): Promise<Prepared | null> {
    this.worker ??= this.start();
    const w = this.worker;
    const id = this.nextId++;
    // A copy of its own: `raw` may be a view into a larger buffer (a blk file), and this
    // thread keeps its bytes.
    const copy = new Uint8Array(this.buffer(raw.length), 0, raw.length);
    copy.set(raw);
    return new Promise((settle) => {
      if (this.waiting.size === 0) w.ref();
      this.waiting.set(id, { raw, settle });
      w.postMessage({ id, height, raw: copy }, [copy.buffer]);
    });
  }

  /** A spare buffer of at least n bytes, else a new one (whole MiB: reusable by most blocks). */
  private buffer(n: number): ArrayBuffer {
    for (let i = this.spare.length - 1; i >= 0; i--) {
      const b = this.spare[i];
      if (b.byteLength < n) continue;
      this.spare[i] = this.spare[this.spare.length - 1];
      this.spare.pop();
      return b;
    }
    return new ArrayBuffer(Math.ceil(n / 2 ** 20) * 2 ** 20);
  }

  private start(): Worker {
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(BOOT)}`), {
      workerData: { stop: this.stop.buffer },
    });
    if (this.index !== null) w.postMessage({ index: this.index });
    w.on('message', (m: { id: number; msg: PreparedMessage; buffer: ArrayBuffer }) => {
      if (this.spare.length <= this.ahead) this.spare.push(m.buffer);
      const x = this.waiting.get(m.id);
      if (x === undefined) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) w.unref();
      x.settle(fromMessage(m.msg, x.raw));
    });
    w.on('error', (e) => this.lost(w, `the block preparer failed: ${e.message}`));
    w.on('exit', (code) => this.lost(w, `the block preparer exited (code ${code})`));
    return w;
  }

  /**
   * The worker ended on its own (it failed to start, or crashed): the blocks it had and all
   * after them are prepared on this thread, slower but the same.
   */
  private lost(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.lostWhy = why;
    for (const x of this.waiting.values()) x.settle(null);
    this.waiting.clear();
  }

  /** Why the worker ended before close(), null while it has not (the Syncer logs it). */
  get lostReason(): string | null {
    return this.lostWhy;
  }

  private fail(why: string): void {
    const err = new Error(why);
    for (const x of this.waiting.values()) x.settle({ failed: err });
    this.waiting.clear();
  }
}
