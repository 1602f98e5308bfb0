import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '@scure/base';
import { runMiniscript, runRandomMs } from '../../../scripts/conformance/checks.ts';
import { oursMs } from '../../../scripts/conformance/impls.ts';
import {
  compileMiniscript,
  formatMiniscript,
  liftMiniscript,
  PositionedError,
  parseMiniscript,
} from '../src/miniscript/index.ts';

// Core's miniscript_tests.cpp cases, each run in P2WSH and in tapscript (97 x 2 = 194).
// Not checked: the trailing numeric arguments (ops count, stack size, witness size), which
// concern satisfaction, not what the node does (parse, type, compile, lift).
describe('miniscript conformance (test/fixtures/miniscript)', () => {
  const r = runMiniscript(oursMs);
  it('valid cases accepted, invalid rejected', () => {
    assert.equal(r.valid.pass, 119, r.valid.failures.join('\n'));
    assert.equal(r.valid.fail, 0);
    assert.equal(r.invalid.pass, 75, r.invalid.failures.join('\n'));
    assert.equal(r.invalid.fail, 0);
  });
  it('script hex in both contexts', () => {
    assert.equal(r.scripts.pass, 63, r.scripts.failures.join('\n'));
    assert.equal(r.scripts.fail, 0);
  });
  it('type properties: non-malleable, needs signature, timelock mix', () => {
    assert.equal(r.props.pass, 119, r.props.failures.join('\n'));
  });
  it('lift round trip (script -> miniscript -> script)', () => {
    assert.equal(r.lift.pass, 119, r.lift.failures.join('\n'));
  });
  it('random_ms.txt round trips (34 expressions, H = fixed hashes)', () => {
    const t = runRandomMs(oursMs);
    assert.equal(t.pass, 34, t.failures.join('\n'));
  });
});

describe('miniscript API', () => {
  const K = '03d30199d74fb5a22d47b6e054e2f378cedacffcb89904a61d75d0dbd407143e65';
  it('lifts to the canonical spelling', () => {
    const s = compileMiniscript(parseMiniscript(`and_v(vc:pk_k(${K}),older(144))`, 'p2wsh'));
    assert.equal(hex.encode(s), `21${K}ad029000b2`);
    const n = liftMiniscript(s, 'p2wsh');
    assert.ok(n);
    assert.equal(formatMiniscript(n), `and_v(v:pk(${K}),older(144))`);
  });
  it('multi is P2WSH only, multi_a tapscript only', () => {
    assert.throws(() => parseMiniscript(`multi(1,${K})`, 'tapscript'), PositionedError);
    assert.throws(() => parseMiniscript(`multi_a(1,${K.slice(2)})`, 'p2wsh'), PositionedError);
  });
  it('errors carry positions; deep nesting is bounded', () => {
    try {
      parseMiniscript('and_v(v:pk(02),older(1))', 'p2wsh');
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof PositionedError);
      assert.equal(e.position, 11);
    }
    assert.throws(
      () => parseMiniscript(`${'n:'.repeat(1)}${'and_b('.repeat(5000)}`, 'p2wsh'),
      /nesting deeper/,
    );
  });
  it('non-miniscript scripts do not lift', () => {
    assert.equal(liftMiniscript(hex.decode('6a0401020304'), 'p2wsh'), null);
    assert.equal(liftMiniscript(hex.decode('4c'), 'p2wsh'), null);
  });
});
