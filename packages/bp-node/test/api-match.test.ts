import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RpcError } from '@lnpbp/bus';
import { bindingsList, descriptorOf, gapOf, MatchWatchTable, patternOf } from '../src/api/match.ts';
import { BpdError } from '../src/api/messages.ts';

const XPUB =
  'tpubD6NzVbkrYhZ4WaWSyoBvQwbpLkojyoTZPRsgXELWz3Popb3qkjcJyJUGLnL4qHHoQvao8ESaAstxYSnhyswJ76uZPStJRJCTKvosUCJZL5B';
const DESC = `wpkh(${XPUB}/0/*)`;

function codeOf(f: () => unknown): { code: number; message: string } {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return { code: e.code, message: e.message };
  }
  return assert.fail('expected an RpcError');
}

/** The bus side of issue 5 without a node: error mapping and persisted pattern/descriptor watches. */
describe('api/match: typed errors and persisted watches', () => {
  test('descriptor, pattern and gap errors are typed and keep the position', () => {
    let e = codeOf(() => descriptorOf('wpkh(02aa)'));
    assert.equal(e.code, BpdError.badDescriptor);
    assert.match(e.message, /at position 5$/);
    e = codeOf(() => descriptorOf('wpkh(cVt4o7BGAig1UXywgGSmARhxMdzP5qvQsxKkSsc1XEkw3tDTQFpy)'));
    assert.equal(e.code, BpdError.privateKey);
    assert.match(e.message, /private key.*at position 5$/);
    e = codeOf(() => patternOf('and_v(pk(@A),older(@n))'));
    assert.equal(e.code, BpdError.badPattern);
    assert.match(e.message, /at position 0$/);
    e = codeOf(() => gapOf(1_000_000));
    assert.equal(e.code, BpdError.badGap);
    assert.equal(gapOf(0), 20);
    assert.deepEqual(bindingsList({ A: '02ab', n: 144 }), [
      { name: 'A', value: '02ab', number: false },
      { name: 'n', value: '144', number: true },
    ]);
  });

  test('persisted watches come back after a restart; unwatch removes the file; bad files are skipped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mwatch-'));
    try {
      const t = new MatchWatchTable(dir);
      const pattern = 'and_v(v:pk(@A),older(@n>=144))';
      t.addPattern('p', patternOf(pattern), pattern, true);
      t.addDescriptor('d', descriptorOf(DESC), DESC, 5, true, undefined);
      t.addPattern('mem', patternOf(pattern), pattern, false);
      assert.deepEqual(readdirSync(dir).sort(), ['d.json', 'p.json']);
      writeFileSync(join(dir, 'junk.json'), '{"id":"x","kind":"pattern","text":"foo("}');
      const u = new MatchWatchTable(dir);
      const r = u.load();
      assert.deepEqual(r, { sets: 2, skipped: ['junk.json'] });
      assert.equal(u.patterns.size, 1);
      assert.equal(u.descriptors.size, 1);
      assert.deepEqual(u.descriptors.window('d'), { lastUsed: [-1], derived: [5] });
      // A descriptor under a pattern's id replaces it.
      u.addDescriptor('p', descriptorOf(DESC), DESC, 3, false, undefined);
      assert.equal(u.patterns.size, 0);
      assert.equal(u.persisted('p'), true);
      assert.equal(u.remove('d'), true);
      assert.equal(existsSync(join(dir, 'd.json')), false);
      assert.equal(u.remove('d'), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
