/**
 * Pattern queries on the indexed real blocks (mainnet 839999 and 840002-840007, two indexes
 * started above genesis): the shape table's cost at connect (time, bytes per row) and query
 * latency beside a brute-force scan of the same blocks answering the same query.
 *
 * Run: node --import tsx bench/match.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlock } from '../packages/bitcoin/src/block/parse.ts';
import { compilePattern } from '../packages/bitcoin/src/pattern/compile.ts';
import { BOLT3_TEMPLATES } from '../packages/bitcoin/src/pattern/index.ts';
import { scriptShape } from '../packages/bitcoin/src/pattern/shape.ts';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { blockShapeRows, revealedOf } from '../packages/bp-node/src/index/shapes.ts';
import { matchConfirmed } from '../packages/bp-node/src/match/pattern.ts';
import { modernBlock } from '../test/support/fixtures.ts';

const CHAINS = [[839999], [840002, 840003, 840004, 840005, 840006, 840007]];
const PATTERNS = [
  'multi(2,*,*,*)',
  'multi(2,@A,@B,@C)',
  'or_d(pk(@A),older(@n))',
  'and_v(v:pk(@A),older(@n>=144))',
  BOLT3_TEMPLATES.to_local,
  BOLT3_TEMPLATES.offered_htlc,
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

let connectMs = 0;
let shapeMs = 0;
let rows = 0;
let tableBytes = 0;
const lat = new Map<string, { index: number[]; brute: number[]; hits: number }>();
for (const heights of CHAINS) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-match-'));
  const ix = openIndex(dir, 'mainnet', { durability: 'os' });
  const raws = heights.map((h) => modernBlock(h));
  for (const [i, raw] of raws.entries()) {
    // The table's own share of connect: blockShapeRows over the block (prevouts unknown here:
    // all inferred, the costlier path) timed apart from the connect that includes it.
    const b = parseBlock(raw);
    const t0 = performance.now();
    blockShapeRows(b.txs, 0, []);
    shapeMs += performance.now() - t0;
    const t1 = performance.now();
    ix.connectBlock(raw, heights[0] + i);
    connectMs += performance.now() - t1;
  }
  const st = ix.stats().tables.shapes;
  rows += st.entries;
  tableBytes += st.bytes;
  const parsed = raws.map((r) => parseBlock(r));
  for (const p of PATTERNS) {
    const pat = compilePattern(p);
    const e = lat.get(p) ?? { index: [], brute: [], hits: 0 };
    let hits = 0;
    for (let k = 0; k < 7; k++) {
      let t = performance.now();
      hits = 0;
      let cursor: Uint8Array | null = null;
      for (;;) {
        const page = matchConfirmed(ix.store, pat, { limit: 1000, cursor });
        hits += page.items.length;
        if (!page.next) break;
        cursor = page.next;
      }
      e.index.push(performance.now() - t);
      // Brute force over the already parsed blocks: reveal, shape and match every input.
      t = performance.now();
      let bh = 0;
      for (const b of parsed)
        for (const tx of b.txs)
          for (const inp of tx.inputs) {
            const r = revealedOf(inp);
            if (r && pat.match(scriptShape(r.script, r.ctx))) bh++;
          }
      e.brute.push(performance.now() - t);
      if (bh !== hits) console.log(`note: ${p}: index ${hits}, brute ${bh}`);
    }
    e.hits += hits;
    lat.set(p, e);
  }
  await ix.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `shape rows: ${rows}; table ${tableBytes} B in LMDB pages (${(tableBytes / rows).toFixed(1)} B/row at this size; 17 B of key+value per row, the 8-byte key shared by a shape's rows)`,
);
console.log(
  `connect: ${connectMs.toFixed(0)} ms for 7 blocks; shape rows computed in ${shapeMs.toFixed(1)} ms (${((100 * shapeMs) / connectMs).toFixed(1)} % of connect, ${((1000 * shapeMs) / rows).toFixed(1)} us per recorded script)`,
);
console.log('| pattern | hits | index query (median ms, both indexes) | brute-force scan (ms) | ratio |');
for (const [p, e] of lat) {
  const i = median(e.index);
  const b = median(e.brute);
  console.log(
    `| \`${p.length > 40 ? `${p.slice(0, 40)}...` : p}\` | ${e.hits} | ${i.toFixed(2)} | ${b.toFixed(1)} | ${(b / i).toFixed(0)}x |`,
  );
}
