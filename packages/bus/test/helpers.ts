import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMessages, t } from '../src/index.ts';

/** The schema the bus tests speak: one of each kind of request, and a notification. */
export const testSchema = defineMessages(
  {
    echo: {
      id: 0x0100,
      doc: 'Returns its body.',
      fields: { n: t.u32, data: t.bytes(1024), note: t.optional(t.string(64)) },
      reply: { n: t.u32, data: t.bytes(1024), note: t.optional(t.string(64)) },
    },
    sleep: {
      id: 0x0101,
      doc: 'Waits ms (or until cancelled), then answers.',
      fields: { ms: t.u32 },
      reply: { cancelled: t.bool },
    },
    fail: {
      id: 0x0102,
      doc: 'Throws: an RpcError when app is set, a plain Error otherwise.',
      fields: { app: t.bool },
      reply: {},
    },
    sum: { id: 0x0103, fields: { xs: t.list(t.u64, 100) }, reply: { total: t.u64 } },
    block: { id: 0x0200, doc: 'A block was connected.', fields: { height: t.u32, hash: t.bytes32 } },
  },
  { service: 'testd', version: 3 },
);

export function tempDir(): { dir: string; [Symbol.dispose](): void } {
  // Short base: ipc paths are limited to 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'bus-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bus-'));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until cond() holds (no timing assertion: the test's own timeout bounds it). */
export async function until(cond: () => boolean, stepMs = 5): Promise<void> {
  while (!cond()) await sleep(stepMs);
}
