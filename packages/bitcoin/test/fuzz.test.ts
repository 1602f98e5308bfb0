import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFinding, loadCorpus, makeCase, runFuzz } from '../../../scripts/fuzz.ts';

// A short, fixed-seed sample of scripts/fuzz.ts (run that for the 100,000-iteration campaign).
describe('fuzz sample (scripts/fuzz.ts)', () => {
  const corpus = loadCorpus();

  it('draws the same input for the same seed and iteration', () => {
    for (const it of [0, 1, 777, 1999]) {
      const a = makeCase(corpus, 42, it);
      const b = makeCase(corpus, 42, it);
      assert.deepEqual(a, b);
    }
    assert.notDeepEqual(makeCase(corpus, 42, 5), makeCase(corpus, 43, 5));
  });

  it('2,000 mutated blocks, txs, blk files, addresses and short ids give only typed errors', () => {
    const lines: string[] = [];
    // A generous time bound: the suite runs files in parallel on a shared machine.
    const r = runFuzz({
      seed: 20240420,
      iterations: 2000,
      corpus,
      timeBoundMs: 2000,
      log: (l) => lines.push(l),
    });
    assert.equal(r.findings.length, 0, r.findings.map(formatFinding).join('\n'));
    assert.equal(r.iterations, 2000);
    // The sample reached every kind of input and both outcomes of the main decoders.
    for (const k of ['block', 'tx', 'blk', 'address', 'shortid']) assert.ok((r.kinds[k] ?? 0) > 0, k);
    for (const t of ['parseBlock', 'parseTx', 'readBlkRecords', 'parseShortId', 'decodeAddress']) {
      assert.ok((r.ok[t] ?? 0) > 0, `${t} succeeded sometimes`);
      assert.ok((r.typed[t] ?? 0) > 0, `${t} refused sometimes`);
    }
    assert.ok((r.ok.tokenize ?? 0) > 0 && (r.ok.revealedScript ?? 0) > 0);
  });
});
