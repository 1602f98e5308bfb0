import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { BOLT3_TEMPLATES, scriptShape } from '@lnpbp/bitcoin/pattern/index';
import { classify } from '@lnpbp/bitcoin/script/classify';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { modernBlock } from '../../../test/support/fixtures.ts';
import { type Index, openIndex } from '../src/index/index.ts';
import { type MatchItem, matchConfirmed } from '../src/match/pattern.ts';
import { tempDir } from './index-support.ts';
import {
  andVPkOlder,
  bruteReveals,
  hasTimelock,
  multisig,
  offeredHtlc,
  orDPkOlder,
  type Reveal,
  toLocal,
} from './match-support.ts';

/** 839999 alone, and 840002-840007: two indexes started above genesis. */
const CHAINS = [
  { base: 839999, heights: [839999] },
  { base: 840002, heights: [840002, 840003, 840004, 840005, 840006, 840007] },
];
/** Hits per query over both chains, checked non-zero at the end. */
const totals = { orD: 0, toLocal: 0, p2wshMulti: 0, funded: 0 };

/** Every page of a query, checking page sizes and cursors on the way. */
function allMatches(ix: Index, pattern: string, limit = 1000, funding = false): MatchItem[] {
  const out: MatchItem[] = [];
  let cursor: Uint8Array | null = null;
  for (;;) {
    const page = matchConfirmed(ix.store, pattern, { cursor, limit, funding });
    assert.ok(page.items.length <= limit);
    out.push(...page.items);
    if (page.next === null) return out;
    cursor = page.next;
  }
}

const key = (txid: string, vin: number) => `${txid}:${vin}`;
const itemKey = (m: MatchItem) => key(toHexReversed(m.txid), m.vin!);

function bruteSet<T>(reveals: Reveal[], f: (r: Reveal) => T | null): Map<string, { r: Reveal; v: T }> {
  const m = new Map<string, { r: Reveal; v: T }>();
  for (const r of reveals) {
    const v = f(r);
    if (v !== null) m.set(key(r.txid, r.vin), { r, v });
  }
  return m;
}

function assertSame(items: MatchItem[], brute: Map<string, { r: Reveal }>, what: string): void {
  assert.deepEqual(items.map(itemKey).sort(), [...brute.keys()].sort(), what);
  for (const m of items) {
    const b = brute.get(itemKey(m))!;
    assert.equal(m.context, b.r.ctx, `${what}: context of ${itemKey(m)}`);
    assert.equal(toHex(m.script), b.r.script.toString('hex'));
    assert.equal(m.height, b.r.height);
  }
}

for (const { base, heights } of CHAINS)
  describe(`match: pattern queries on mainnet ${heights[0]}-${heights[heights.length - 1]} agree with a brute-force scan`, () => {
    const blocks = heights.map((h) => modernBlock(h));
    const tip = heights[heights.length - 1];
    const { reveals, outputs } = bruteReveals(blocks, base);
    const tmp = tempDir('match');
    let ix: Index;
    before(() => {
      ix = openIndex(tmp.dir, 'mainnet');
      for (const [i, raw] of blocks.entries()) ix.connectBlock(raw, base + i);
    });
    after(async () => {
      await ix.close();
      tmp.cleanup();
    });

    it('records one shape row per revealed script and non-standard scriptPubKey', () => {
      const st = ix.stats().tables.shapes;
      const nonstd = outputs.filter((o) => classifyNonstandard(o.script)).length;
      assert.equal(st.entries, reveals.length + nonstd);
    });

    it('multi(2,*,*,*): every 2-of-3 CHECKMULTISIG in P2WSH (and P2SH), with named bindings', () => {
      const brute = bruteSet(reveals, (r) => multisig(r.script, 2, 3));
      const p2wsh = [...brute.values()].filter((b) => b.r.ctx === 'p2wsh').length;
      totals.p2wshMulti += p2wsh;
      const items = allMatches(ix, 'multi(2,@A,@B,@C)');
      assertSame(items, brute, 'multi(2,@A,@B,@C)');
      for (const m of items) {
        const keys = brute.get(itemKey(m))!.v;
        assert.deepEqual([m.bindings.A, m.bindings.B, m.bindings.C], keys);
      }
      // Paging in small steps gives the same items in the same (chain) order.
      const paged = allMatches(ix, 'multi(2,*,*,*)', 7);
      assert.deepEqual(paged.map(itemKey), items.map(itemKey));
      const ids = items.map((m) => m.shortId);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
      // Only P2WSH: the context is part of each item.
      assert.equal(items.filter((m) => m.context === 'p2wsh').length, p2wsh);
    });

    it('multi(@k,*,*,*) expands over thresholds; a literal key narrows to its scripts', () => {
      const any3 = bruteSet(
        reveals,
        (r) => multisig(r.script, 1, 3) ?? multisig(r.script, 2, 3) ?? multisig(r.script, 3, 3),
      );
      assertSame(allMatches(ix, 'multi(@k,*,*,*)'), any3, 'multi(@k,*,*,*)');
      const first = [...any3.values()].find((b) => multisig(b.r.script, 2, 3))!;
      const k0 = first.v[0];
      const withKey = bruteSet(reveals, (r) => {
        const ks = multisig(r.script, 2, 3);
        return ks && ks[0] === k0 ? ks : null;
      });
      assertSame(allMatches(ix, `multi(2,${k0},*,*)`), withKey, 'literal key');
    });

    it('timelocked: or_d(pk(@A),older(@n)) and and_v(v:pk(@A),older(@n)) with bindings and constraints', () => {
      const orD = bruteSet(reveals, (r) => orDPkOlder(r.script));
      const items = allMatches(ix, 'or_d(pk(@A),older(@n))');
      assertSame(items, orD, 'or_d');
      totals.orD += items.length;
      for (const m of items) assert.deepEqual(m.bindings, brute(orD, m));
      const n0 = [...orD.values()][0]?.v.n ?? 0;
      assertSame(
        allMatches(ix, `or_d(pk(@A),older(@n>${n0}))`),
        bruteSet(reveals, (r) => {
          const v = orDPkOlder(r.script);
          return v && v.n > n0 ? v : null;
        }),
        'or_d with n > constraint',
      );
      const andV = bruteSet(reveals, (r) => andVPkOlder(r.script));
      assertSame(allMatches(ix, 'and_v(v:pk(@A),older(@n))'), andV, 'and_v');
    });

    it('BOLT-3 to_local and offered HTLC templates', () => {
      const tl = bruteSet(reveals, (r) => toLocal(r.script));
      const items = allMatches(ix, BOLT3_TEMPLATES.to_local);
      assertSame(items, tl, 'to_local');
      totals.toLocal += items.length;
      for (const m of items) assert.deepEqual(m.bindings, brute(tl, m));
      const htlc = bruteSet(reveals, (r) => offeredHtlc(r.script));
      assertSame(allMatches(ix, BOLT3_TEMPLATES.offered_htlc), htlc, 'offered_htlc');
    });

    it('every timelocked script the scan finds is in the index under its shape', () => {
      const timelocked = reveals.filter((r) => hasTimelock(r.script));
      // Each is found by a query for its own shape with every value a wildcard.
      for (const r of timelocked) {
        const hits = allMatches(ix, wildShape(scriptShape(r.script, r.ctx))).map(itemKey);
        assert.ok(hits.includes(key(r.txid, r.vin)), `timelocked ${r.txid}:${r.vin} found`);
      }
    });

    it('funding outputs of a matched script come from its scriptPubKey history', () => {
      const items = allMatches(ix, 'multi(2,*,*,*)', 1000, true);
      const byKey = new Map(reveals.map((r) => [key(r.txid, r.vin), r]));
      let found = 0;
      for (const m of items) {
        const spk = committing(byKey.get(itemKey(m))!);
        const want = outputs
          .filter((o) => o.script === spk)
          .map((o) => `${o.txid}:${o.vout}`)
          .slice(0, 20);
        assert.deepEqual(
          m.funding!.map((f) => `${toHexReversed(f.txid)}:${f.vout}`),
          want,
        );
        found += want.length;
      }
      totals.funded += found;
    });

    it("disconnect removes a block's rows; reconnect restores them", () => {
      const before = allMatches(ix, 'multi(2,*,*,*)');
      const hash = ix.dumpHash();
      ix.disconnectTip();
      const after = allMatches(ix, 'multi(2,*,*,*)');
      assert.deepEqual(after.map(itemKey), before.filter((m) => m.height! < tip).map(itemKey));
      ix.connectBlock(blocks[blocks.length - 1], tip);
      assert.equal(ix.dumpHash(), hash);
    });

    it('bad patterns and limits are refused with positions', () => {
      assert.throws(() => matchConfirmed(ix.store, 'multi(2,*,*', { limit: 10 }), /position/);
      assert.throws(
        () => matchConfirmed(ix.store, 'and_v(v:pk(@A),older(@n>=x))', { limit: 10 }),
        /position/,
      );
      assert.throws(() => matchConfirmed(ix.store, 'foo(*)', { limit: 10 }), /position/);
      assert.throws(() => matchConfirmed(ix.store, 'multi(2,*,*,*)', { limit: 0 }), /limit/);
      assert.throws(() => matchConfirmed(ix.store, 'multi(2,*,*,*)', { limit: 100_000 }), /limit/);
    });
  });

describe('match: the real blocks hold each kind of script queried', () => {
  it('2-of-3 P2WSH multisig, or_d(pk,older) anchors, BOLT-3 to_local, funded-and-spent multisig', () => {
    assert.ok(totals.p2wshMulti > 100, `P2WSH 2-of-3: ${totals.p2wshMulti}`);
    assert.ok(totals.orD >= 1, `or_d(pk,older): ${totals.orD}`);
    assert.ok(totals.toLocal >= 1, `to_local: ${totals.toLocal}`);
    assert.ok(totals.funded >= 1, `funded inside the blocks: ${totals.funded}`);
  });
});

function brute<T>(m: Map<string, { v: T }>, item: MatchItem): T {
  return m.get(itemKey(item))!.v;
}

function classifyNonstandard(spkHex: string): boolean {
  return classify(Buffer.from(spkHex, 'hex')).type === 'nonstandard';
}

/** A shape as a pattern: template shapes are patterns already; miniscript values become `*`. */
function wildShape(sh: { kind: string; shape: string }): string {
  return sh.kind === 'template' ? sh.shape : sh.shape.replace(/\b(KH|K|H|N)\b/g, '*');
}

/** The scriptPubKey committing to a revealed script, by hand. */
function committing(r: Reveal): string {
  const wsh = Buffer.concat([Buffer.from([0, 32]), nobleSha256(r.script)]);
  const p2sh = (s: Buffer) => `a914${Buffer.from(ripemd160(nobleSha256(s))).toString('hex')}87`;
  if (r.ctx === 'p2sh') return p2sh(r.script);
  return r.nested ? p2sh(wsh) : wsh.toString('hex');
}
