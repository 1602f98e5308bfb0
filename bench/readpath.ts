/**
 * The index read path alone: the direct in-process mode of bench/query.ts (the same bpd
 * handlers on a read-only index of mainnet blocks 840002-840007, the same outspend / history
 * limit 10 / tx mix), per query kind and per level layout, CPU µs per query as the median of
 * several rounds. Steadier than q/s on a shared box; no bus, no client processes.
 *
 * Run: node --import tsx bench/readpath.ts [--rounds N=7] [--levels l0,half,l1] [--kinds o,t,h]
 *   [--sample N=8000 queries per kind per round]
 *   l0: never compacted (every row in level 0); l1: compacted after the last block; half:
 *   compacted after 840004, then 840005-840007 connected (rows in both levels).
 * Node flags go before the script (e.g. `node --max-semi-space-size=32 --import tsx ...`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBlock } from '@lnpbp/bitcoin/block/parse';
import { sha256 } from '@lnpbp/bitcoin/hash/index';
import { openIndex } from '../packages/bp-node/src/index/index.ts';
import { modernBlock } from '../test/support/fixtures.ts';
import { benchHandlers } from './support/handlers.ts';

const HEIGHTS = [840002, 840003, 840004, 840005, 840006, 840007];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const rounds = Number(arg('rounds', '7'));
const levels = arg('levels', 'l0,half,l1').split(',');
const kinds = arg('kinds', 'o,t,h').split(',') as Kind[];
/** Queries per kind per round (a fixed sample of the workload's ~29,700 per kind). */
const sample = Number(arg('sample', '8000'));

type Kind = 'o' | 't' | 'h';
type Query =
  | { k: 'o'; txid: Uint8Array; vout: number }
  | { k: 'h'; sh: Uint8Array }
  | { k: 't'; txid: Uint8Array };

/** The queries of bench/query.ts, in a fixed shuffled order (seeded). */
function workload(): Query[] {
  const queries: Query[] = [];
  for (const h of HEIGHTS) {
    for (const tx of parseBlock(modernBlock(h)).txs) {
      const txid = tx.txid();
      queries.push({ k: 't', txid });
      const vout = (queries.length * 7) % tx.outputs.length;
      queries.push({ k: 'o', txid, vout });
      queries.push({ k: 'h', sh: sha256(tx.outputs[vout].scriptPubKey) });
    }
  }
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = queries.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [queries[i], queries[j]] = [queries[j], queries[i]];
  }
  return queries;
}

function build(dir: string, level: string): void {
  const ix = openIndex(dir, 'mainnet', { durability: 'os' });
  for (const h of HEIGHTS) {
    ix.connectBlock(modernBlock(h), h);
    if (level === 'half' && h === 840004) ix.compact();
  }
  if (level === 'l1') ix.compact();
  ix.flush();
  void ix.close();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const NAME = { o: 'outspend', t: 'tx', h: 'history' } as const;

const queries = workload();
const byKind = { o: [] as Query[], t: [] as Query[], h: [] as Query[] };
for (const q of queries) if (byKind[q.k].length < sample) byKind[q.k].push(q);
/** The three kinds interleaved, as the bus bench sends them. */
const mixed: Query[] = [];
for (let i = 0; i < sample; i++)
  for (const k of ['o', 't', 'h'] as const) if (i < byKind[k].length) mixed.push(byKind[k][i]);
const semi = process.execArgv.find((a) => a.startsWith('--max-semi-space-size')) ?? 'default semi-space';
console.log(
  `${sample} queries per kind of ${queries.length}; ${rounds} rounds per kind; ${semi}; node ${process.version}`,
);

for (const level of levels) {
  const tmp = mkdtempSync(join(tmpdir(), 'bprp-'));
  try {
    build(tmp, level);
    const h = benchHandlers(tmp) as unknown as Record<string, (b: unknown, c: unknown) => unknown>;
    const ctx = {};
    const call = (q: Query) => {
      if (q.k === 'o') return h.outspend({ txid: q.txid, vout: q.vout }, ctx);
      if (q.k === 't') return h.tx({ txid: q.txid }, ctx);
      return h.history({ scriptHash: q.sh, limit: 10 }, ctx);
    };
    // Warm: every block's read-cache entry, and the JIT.
    for (const q of queries) call(q);
    const per: Record<Kind, number[]> = { o: [], t: [], h: [] };
    const mix: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const k of kinds) {
        const qs = byKind[k];
        const c0 = process.cpuUsage();
        for (const q of qs) call(q);
        const c = process.cpuUsage(c0);
        per[k].push((c.user + c.system) / qs.length);
      }
      const c0 = process.cpuUsage();
      for (const q of mixed) call(q);
      const c = process.cpuUsage(c0);
      mix.push((c.user + c.system) / mixed.length);
    }
    const parts = kinds.map((k) => `${NAME[k]} ${median(per[k]).toFixed(1)}`);
    console.log(
      `${level.padEnd(4)}: CPU µs/query (median of ${rounds}): ${parts.join(', ')}; mix ${median(mix).toFixed(1)}` +
        `  [min ${kinds.map((k) => Math.min(...per[k]).toFixed(1)).join('/')}]`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
