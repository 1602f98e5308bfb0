/**
 * The block-preparing worker's thread (pipeline.ts starts it): prepares each block posted to
 * it, in the order posted, and posts back the flat result (prepared.ts) with its buffers
 * transferred. Once told which index the blocks are for, it also looks up each block's inputs
 * in it (hints.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { NetworkName } from '@lnpbp/bitcoin/network';
import { HintSource } from './hints.ts';
import { prepareMessage } from './prepared.ts';

const port = parentPort;
if (port === null) throw new Error('prepare-worker.ts runs as a worker thread');
let hints: HintSource | null = null;
/** Set by the preparer's close(): blocks still queued here are not worth preparing. */
const stopping = new Int32Array((workerData as { stop: SharedArrayBuffer }).stop);
type Message =
  | { index: { dir: string; network: NetworkName } | null }
  | { close: true }
  | { id: number; height: number; raw: Uint8Array };
port.on('message', (m: Message) => {
  if ('close' in m) {
    // Ends here, between two messages: a terminate() could land inside an lmdb-js call, and
    // one that throws while its thread is terminated aborts the whole process.
    hints?.close();
    port.close();
    return;
  }
  if ('index' in m) {
    hints?.close();
    hints = m.index === null ? null : new HintSource(m.index.dir, m.index.network);
    return;
  }
  if (Atomics.load(stopping, 0) === 1) return;
  const { msg, transfer } = prepareMessage(m.raw, m.height, hints);
  const buffer = m.raw.buffer as ArrayBuffer;
  port.postMessage({ id: m.id, msg, buffer }, [...transfer, buffer]);
});
