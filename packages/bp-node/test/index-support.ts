import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlkRecords } from '@lnpbp/bitcoin/block/blkfile';
import { Block as BjsBlock } from 'bitcoinjs-lib';
import { readFixture } from '../../../test/support/fixtures.ts';

/** Mainnet blocks 0-599 (raw), heights = file order. */
export function mainnet600(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of ['chain/blk00000.dat', 'chain/blk00001.dat']) {
    for (const r of readBlkRecords(readFixture(f), 'mainnet')) out.push(r.raw);
  }
  return out;
}

/** btcd's reorg test chain: main 0-4, side branch 3A-5A forking after block 2. */
export function btcdReorgChain(): { main: Uint8Array[]; side: Uint8Array[] } {
  const main = [...readBlkRecords(readFixture('chain/reorg-blk_0_to_4.dat'), 'mainnet')].map((r) => r.raw);
  const side = ['3A', '4A', '5A'].map(
    (n) => [...readBlkRecords(readFixture(`chain/reorg-blk_${n}.dat`), 'mainnet')][0].raw,
  );
  return { main, side };
}

export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bpd-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RefSpend {
  txid: string;
  vin: number;
  height: number;
}

export interface RefHistoryEntry {
  kind: 'funding' | 'spending';
  txid: string;
  index: number;
  height: number;
  value: bigint;
}

/**
 * An independent model of what the index must answer, computed with bitcoinjs-lib and node's
 * sha256 over the same blocks: spends by outpoint, history by script hash, the UTXO set.
 */
export class Reference {
  readonly spends = new Map<string, RefSpend>();
  readonly history = new Map<string, RefHistoryEntry[]>();
  readonly utxos = new Map<string, { value: bigint; script: string }>();
  readonly outputs = new Map<string, { value: bigint; script: string }>();
  readonly txs = new Map<string, { height: number; position: number; hex: string }>();

  constructor(blocks: Uint8Array[], baseHeight = 0) {
    blocks.forEach((raw, i) => this.add(raw, baseHeight + i));
  }

  private add(raw: Uint8Array, height: number): void {
    const b = BjsBlock.fromBuffer(Buffer.from(raw));
    for (const [pos, tx] of b.transactions!.entries()) {
      const txid = tx.getId();
      this.txs.set(txid, { height, position: pos, hex: tx.toHex() });
      if (pos > 0) {
        for (const [vin, inp] of tx.ins.entries()) {
          const prev = `${Buffer.from(inp.hash).reverse().toString('hex')}:${inp.index}`;
          this.spends.set(prev, { txid, vin, height });
          const o = this.outputs.get(prev);
          this.utxos.delete(prev);
          if (o) this.push(o.script, { kind: 'spending', txid, index: vin, height, value: o.value });
        }
      }
      for (const [vout, out] of tx.outs.entries()) {
        const script = Buffer.from(out.script).toString('hex');
        const value = BigInt(out.value);
        this.outputs.set(`${txid}:${vout}`, { value, script });
        if (!(out.script.length > 0 && out.script[0] === 0x6a))
          this.utxos.set(`${txid}:${vout}`, { value, script });
        this.push(script, { kind: 'funding', txid, index: vout, height, value });
      }
    }
  }

  private push(scriptHex: string, e: RefHistoryEntry): void {
    const key = scriptHashHex(scriptHex);
    let l = this.history.get(key);
    if (!l) this.history.set(key, (l = []));
    l.push(e);
  }
}

/** sha256(script) as hex of the digest bytes (internal order, as the index keys it). */
export function scriptHashHex(scriptHex: string): string {
  return createHash('sha256').update(Buffer.from(scriptHex, 'hex')).digest('hex');
}
