/**
 * The block-preparing worker's thread (pipeline.ts starts it): prepares each block posted to
 * it, in the order posted, and posts back the flat result (prepared.ts) with its buffers
 * transferred.
 */
import { parentPort } from 'node:worker_threads';
import { prepareMessage } from './prepared.ts';

const port = parentPort;
if (port === null) throw new Error('prepare-worker.ts runs as a worker thread');
port.on('message', (m: { id: number; height: number; raw: Uint8Array }) => {
  const { msg, transfer } = prepareMessage(m.raw, m.height);
  const buffer = m.raw.buffer as ArrayBuffer;
  port.postMessage({ id: m.id, msg, buffer }, [...transfer, buffer]);
});
