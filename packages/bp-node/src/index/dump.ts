import { createHash } from 'node:crypto';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import {
  decodeBlockRow,
  decodeUtxo,
  META_BASE,
  META_FILE_END,
  META_NETWORK,
  META_TIP,
  META_VERSION,
  readU32be,
  readU64be,
} from './schema.ts';
import { CONTEXT_NAMES } from './shapes.ts';
import type { Store } from './store.ts';
import { decodeUndo } from './undo.ts';

/**
 * The canonical text form of the whole index: one line per row, tables in a fixed order, rows
 * in key order (LMDB's byte order), every field decoded. Two indexes of the same chain give the
 * same dump byte for byte, whatever path (reorgs, crashes, restarts, compactions) built them: a
 * packed table's rows are read with both levels merged, so which level holds a row does not
 * show. The block file
 * is covered by one line per block (sha256 of its record) and its undo entries, decoded.
 *
 *   meta <name> <value...>
 *   block <height> <hash> file=<offset> size=<n> undo=<n> txs=<n> header=<hex> offsets=<o,o,..>
 *   record <height> <sha256 of block|txids|undo>
 *   undo <height> <n> <spent output id|-> <value> <script hex>
 *   hash <hash> <height>
 *   txid <first 6 txid bytes, internal order> <tx id>
 *   spend <output id> <input id>
 *   extspend <first 8 prev txid bytes, internal order>:<vout> <input id>
 *   history <first 8 bytes of sha256(script)> <item id>
 *   utxo <output id> <value> <script hex>
 *   shape <shape key> <item id> <context: p2sh|p2wsh|tapscript|scriptPubKey>
 * Ids are 16 hex digits; hashes and txids display order (reversed) unless said otherwise.
 */
export function dumpIndex(s: Store, write: (line: string) => void): void {
  const tip = s.tip();
  const base = s.base();
  const net = s.meta.get(META_NETWORK);
  const ver = s.meta.get(META_VERSION);
  const fileEnd = s.meta.get(META_FILE_END);
  if (base !== null) write(`meta ${META_BASE} ${base}`);
  if (fileEnd !== undefined) write(`meta ${META_FILE_END} ${readU64be(fileEnd)}`);
  if (net !== undefined) write(`meta ${META_NETWORK} ${new TextDecoder().decode(net)}`);
  if (tip !== null) write(`meta ${META_TIP} ${tip.height} ${toHexReversed(tip.hash)}`);
  if (ver !== undefined) write(`meta ${META_VERSION} ${readU32be(ver)}`);

  for (const { key, value } of s.blocks.getRange()) {
    const height = readU32be(key);
    const row = decodeBlockRow(value);
    write(
      `block ${height} ${toHexReversed(sha256d(row.header))} file=${row.offset} size=${row.blockSize} ` +
        `undo=${row.undoSize} txs=${row.txCount} header=${toHex(row.header)} offsets=${Array.from(row.txOffsets).join(',')}`,
    );
    const rec = s.file.read(row.offset, row.blockSize + 32 * row.txCount + row.undoSize);
    if (rec === null) {
      write(`record ${height} missing`);
      continue;
    }
    write(`record ${height} ${toHex(createHash('sha256').update(rec).digest())}`);
    const undoBytes = rec.subarray(row.blockSize + 32 * row.txCount);
    for (const [i, u] of decodeUndo(undoBytes).entries()) {
      write(`undo ${height} ${i} ${u.id ? toHex(u.id) : '-'} ${u.value} ${toHex(u.script)}`);
    }
  }
  for (const { key, value } of s.hashes.getRange()) write(`hash ${toHexReversed(key)} ${readU32be(value)}`);
  for (const r of s.txids.all()) write(`txid ${toHex(r.subarray(0, 6))} ${toHex(r.subarray(6))}`);
  for (const r of s.spends.all()) write(`spend ${toHex(r.subarray(0, 8))} ${toHex(r.subarray(8))}`);
  for (const r of s.extspends.all()) {
    write(`extspend ${toHex(r.subarray(0, 8))}:${readU32be(r, 8)} ${toHex(r.subarray(12))}`);
  }
  for (const r of s.history.all()) write(`history ${toHex(r.subarray(0, 8))} ${toHex(r.subarray(8))}`);
  for (const { key, value } of s.utxos.getRange()) {
    const u = decodeUtxo(value);
    write(`utxo ${toHex(key)} ${u.value} ${toHex(u.script)}`);
  }
  for (const { key: k, value: v } of s.shapes.getRange()) {
    write(`shape ${toHex(k)} ${toHex(v.subarray(0, 8))} ${CONTEXT_NAMES[v[8]] ?? v[8]}`);
  }
}

/** sha256 (hex) of the dump, each line followed by "\n". */
export function dumpHash(s: Store): string {
  const h = createHash('sha256');
  dumpIndex(s, (line) => {
    h.update(line);
    h.update('\n');
  });
  return h.digest('hex');
}
