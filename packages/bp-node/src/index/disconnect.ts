import { hashBlockTxs, parseBlock } from '@lnpbp/bitcoin/block/parse';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import {
  blockChecksum,
  inputLo,
  onchainHi,
  outputLo,
  readShortIdHi,
  txLo,
  writeShortId,
} from '@lnpbp/bitcoin/shortid/index';
import type { Block } from '@lnpbp/bitcoin/tx/types';
import {
  EXT_TXID_PREFIX,
  EXTSPEND_ROW,
  encodeTip,
  encodeUtxo,
  HISTORY_PREFIX,
  HISTORY_ROW,
  META_BASE,
  META_FILE_END,
  META_TIP,
  SPEND_ROW,
  TXID_PREFIX,
  TXID_ROW,
  u32be,
  u64be,
} from './schema.ts';
import { blockShapeRows } from './shapes.ts';
import type { Store } from './store.ts';
import { decodeUndo } from './undo.ts';

export interface DisconnectResult {
  height: number;
  /** Internal byte order. */
  hash: Uint8Array;
  /** The block as it was indexed (parsed from a copy read back from the block file). */
  block: Block;
}

/** The block at `height` as stored: its bytes, its txids and its undo record. */
export function readStoredBlock(
  s: Store,
  height: number,
): { block: Block; txids: Uint8Array; undo: Uint8Array } {
  const row = s.blockRow(height);
  if (!row) throw new Error(`no block at height ${height}`);
  const n = row.txCount;
  const rec = s.file.read(row.offset, row.blockSize + 32 * n + row.undoSize);
  if (rec === null) throw new Error(`block file is shorter than the index says (height ${height})`);
  const block = parseBlock(rec.subarray(0, row.blockSize));
  hashBlockTxs(block);
  return {
    block,
    txids: rec.subarray(row.blockSize, row.blockSize + 32 * n),
    undo: rec.subarray(row.blockSize + 32 * n),
  };
}

/**
 * Undoes the tip block in one LMDB transaction: its txids, spends, history rows and UTXOs go,
 * the outputs it spent come back from its undo record, the tip moves to its parent. The block
 * file is cut back afterwards (a crash in between is repaired on open).
 */
export function disconnectTip(s: Store): DisconnectResult {
  if (s.readOnly) throw new Error('index opened read-only');
  // Hints read before this (hints.ts) may name the outputs and txs it takes away.
  s.commits.clear();
  const tip = s.tip();
  if (tip === null) throw new Error('the index is empty');
  const height = tip.height;
  const row = s.blockRow(height)!;
  const { block, undo } = readStoredBlock(s, height);
  const txs = block.txs;
  let nIn = 0;
  for (let p = 1; p < txs.length; p++) nIn += txs[p].inputs.length;
  const entries = decodeUndo(undo, nIn);
  const hi = onchainHi(height, blockChecksum(tip.hash));
  const base = s.base();
  const shapeRows = blockShapeRows(
    txs,
    hi,
    entries.map((u) => (u.id === null ? undefined : u.script)),
  );

  s.env.transactionSync(() => {
    const txRow = new Uint8Array(TXID_ROW);
    const spendRow = new Uint8Array(SPEND_ROW);
    const extRow = new Uint8Array(EXTSPEND_ROW);
    const extView = new DataView(extRow.buffer);
    const histRow = new Uint8Array(HISTORY_ROW);
    const id = new Uint8Array(8);
    const gone = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`disconnect ${height}: ${what} row missing (index damaged)`);
    };
    let k = 0;
    for (let p = 0; p < txs.length; p++) {
      const tx = txs[p];
      txRow.set(tx.txid().subarray(0, TXID_PREFIX), 0);
      writeShortId(txRow, TXID_PREFIX, hi, txLo(p));
      gone(s.txids.remove(txRow), 'txid');
      if (p > 0) {
        for (let j = 0; j < tx.inputs.length; j++, k++) {
          const u = entries[k];
          if (u.id === null) {
            const inp = tx.inputs[j];
            extRow.set(inp.prevTxid.subarray(0, EXT_TXID_PREFIX), 0);
            extView.setUint32(EXT_TXID_PREFIX, inp.vout);
            writeShortId(extRow, EXT_TXID_PREFIX + 4, hi, inputLo(p, j));
            gone(s.extspends.remove(extRow), 'extspend');
            continue;
          }
          spendRow.set(u.id, 0);
          writeShortId(spendRow, 8, hi, inputLo(p, j));
          gone(s.spends.remove(spendRow), 'spend');
          histRow.set(sha256(u.script).subarray(0, HISTORY_PREFIX), 0);
          writeShortId(histRow, HISTORY_PREFIX, hi, inputLo(p, j));
          gone(s.history.remove(histRow), 'history');
          // An output of this same block is going away with it; older ones come back.
          if (readShortIdHi(u.id, 0) !== hi) s.utxos.putSync(u.id, encodeUtxo(u.value, u.script));
        }
      }
      for (let i = 0; i < tx.outputs.length; i++) {
        writeShortId(id, 0, hi, outputLo(p, i));
        histRow.set(sha256(tx.outputs[i].scriptPubKey).subarray(0, HISTORY_PREFIX), 0);
        histRow.set(id, HISTORY_PREFIX);
        gone(s.history.remove(histRow), 'history');
        s.utxos.removeSync(id);
      }
    }
    for (const r of shapeRows) s.shapes.removeSync(r.key, r.value);
    s.blocks.removeSync(u32be(height));
    s.hashes.removeSync(tip.hash);
    if (height === base) {
      s.meta.removeSync(META_TIP);
      s.meta.removeSync(META_BASE);
    } else {
      s.meta.putSync(META_TIP, encodeTip(height - 1, block.header.prevHash));
    }
    s.meta.putSync(META_FILE_END, u64be(row.offset));
  }, s.commitFlags);
  s.dropRows(height);
  s.file.truncate(row.offset);
  return { height, hash: tip.hash, block };
}
