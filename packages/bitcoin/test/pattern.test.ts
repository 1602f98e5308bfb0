import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '@scure/base';
import { FIXTURES } from '../../../scripts/conformance/vectors.ts';
import { compileMiniscript, PositionedError, parseMiniscript } from '../src/miniscript/index.ts';
import { BOLT3_TEMPLATES, compilePattern, scriptShape } from '../src/pattern/index.ts';

const lines = readFileSync(join(FIXTURES, 'miniscript', 'bolt3-appendix-c-wscripts.txt'), 'utf8').split('\n');
const field = (name: string) => (lines.find((l) => l.startsWith(`${name}:`)) as string).split(': ')[1];
const htlc = (n: number, f: string) => field(`htlc ${n} ${f}`);
const wscripts = lines
  .map((l) => /^(HTLC #(\d) (offered|received)|to_local|funding) wscript (?:= )?([0-9a-f]+)$/.exec(l))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ kind: m[3] ?? m[1], htlc: m[2] ? Number(m[2]) : undefined, script: hex.decode(m[4]) }));

const K = [
  '03d30199d74fb5a22d47b6e054e2f378cedacffcb89904a61d75d0dbd407143e65',
  '025601570cb47f238d2b0286db4a990fa0f3ba28d1a319f5e7cf55c2a2444da7cc',
  '03daed4f2be3a8bf278e70132fb0beb7522f570e144bf615c07e996d443dee8729',
];
const wsh = (ms: string) => compileMiniscript(parseMiniscript(ms, 'p2wsh'));

function matchesOf(script: Uint8Array) {
  const s = scriptShape(script, 'p2wsh');
  return Object.entries(BOLT3_TEMPLATES)
    .map(([name, t]) => [name, compilePattern(t).match(s)] as const)
    .filter(([, b]) => b !== null);
}

describe('BOLT-3 appendix C witness scripts match their templates', () => {
  it('fixture has the offered, received, to_local and funding scripts', () => {
    assert.equal(wscripts.filter((w) => w.kind === 'offered').length, 4);
    assert.equal(wscripts.filter((w) => w.kind === 'received').length, 3);
  });
  for (const w of wscripts) {
    it(`${w.kind}${w.htlc !== undefined ? ` HTLC #${w.htlc}` : ''}`, () => {
      const m = matchesOf(w.script);
      assert.equal(m.length, 1, `matched ${m.map(([n]) => n)}`);
      const [name, b] = m[0];
      if (w.kind === 'offered' || w.kind === 'received') {
        assert.equal(name, `${w.kind}_htlc`);
        const n = w.htlc as number;
        const paymentHash = sha256(hex.decode(htlc(n, 'payment_preimage')));
        assert.equal(b?.payment_hash160, hex.encode(ripemd160(paymentHash)));
        assert.equal(b?.local_htlcpubkey, field('local_htlcpubkey'));
        assert.equal(b?.remote_htlcpubkey, field('remote_htlcpubkey'));
        assert.equal(
          b?.revocation_hash,
          hex.encode(ripemd160(sha256(hex.decode(field('local_revocation_pubkey'))))),
        );
        if (w.kind === 'received') assert.equal(b?.cltv_expiry, Number(htlc(n, 'expiry')));
      } else if (w.kind === 'to_local') {
        assert.equal(name, 'to_local');
        assert.deepEqual(b, {
          revocationpubkey: field('local_revocation_pubkey'),
          to_self_delay: Number(field('local_delay')),
          local_delayedpubkey: field('local_delayedpubkey'),
        });
      } else {
        assert.equal(name, 'funding');
        assert.equal(scriptShape(w.script, 'p2wsh').shape, 'multi(2,K,K)');
      }
    });
  }
});

describe('miniscript patterns', () => {
  it('a 2-of-3 P2WSH witnessScript matches multi(2,*,*,*) and nothing else of its kind', () => {
    const s = scriptShape(wsh(`multi(2,${K.join(',')})`), 'p2wsh');
    assert.equal(s.shape, 'multi(2,K,K,K)');
    assert.deepEqual(compilePattern('multi(2,*,*,*)').match(s), {});
    assert.equal(compilePattern('multi(2,*,*)').match(s), null);
    assert.equal(compilePattern('multi(3,*,*,*)').match(s), null);
    assert.equal(compilePattern('multi(@k,*,*,*)').shapes.length, 3);
    assert.deepEqual(compilePattern(`multi(2,*,${K[1]},*)`).match(s), {});
    assert.equal(compilePattern(`multi(2,${K[1]},*,*)`).match(s), null);
  });
  it('a named wildcard used twice binds one value', () => {
    const p = compilePattern('or_d(pk(@A),and_v(v:pk(@A),sha256(*)))');
    const same = scriptShape(
      wsh(`or_d(pk(${K[0]}),and_v(v:pk(${K[0]}),sha256(${'ab'.repeat(32)})))`),
      'p2wsh',
    );
    const diff = scriptShape(
      wsh(`or_d(pk(${K[0]}),and_v(v:pk(${K[1]}),sha256(${'ab'.repeat(32)})))`),
      'p2wsh',
    );
    assert.deepEqual(p.match(same), { A: K[0] });
    assert.equal(p.match(diff), null);
    assert.deepEqual(compilePattern('or_d(pk(@A),and_v(v:pk(@B),sha256(*)))').match(diff), {
      A: K[0],
      B: K[1],
    });
  });
  it('older(@n>=144) filters on the bound number', () => {
    const p = compilePattern('and_v(v:pk(@A),older(@n>=144))');
    assert.deepEqual(p.match(scriptShape(wsh(`and_v(v:pk(${K[0]}),older(144))`), 'p2wsh')), {
      A: K[0],
      n: 144,
    });
    assert.equal(p.match(scriptShape(wsh(`and_v(v:pk(${K[0]}),older(143))`), 'p2wsh')), null);
    // older(1..16) compile to OP_n, bigger values to pushes: one shape for both.
    assert.deepEqual(
      compilePattern('and_v(v:pk(*),older(@n<=16))').match(
        scriptShape(wsh(`and_v(v:pk(${K[0]}),older(16))`), 'p2wsh'),
      ),
      { n: 16 },
    );
  });
  it('spellings with the same script share a shape', () => {
    const a = scriptShape(wsh(`and_v(vc:pk_k(${K[0]}),older(10))`), 'p2wsh');
    const b = scriptShape(wsh(`and_v(v:pk(${K[0]}),older(10))`), 'p2wsh');
    assert.equal(a.shape, b.shape);
    assert.deepEqual(
      compilePattern('and_v(vc:pk_k(*),older(*))').shapeKeys,
      compilePattern('and_v(v:pk(*),older(*))').shapeKeys,
    );
    const c = compilePattern('c:and_v(v:older(*),pk_k(*))');
    assert.equal(c.shapes[0].shape, 'and_v(v:older(N),pk(K))');
  });
  it('thresh(2,pk(*),s:pk(*),s:pk(*)) in P2WSH and tapscript', () => {
    const p = compilePattern('thresh(2,pk(*),s:pk(*),s:pk(*))');
    assert.equal(p.shapes.length, 1);
    const tap = compileMiniscript(
      parseMiniscript(
        `thresh(2,pk(${K[0].slice(2)}),s:pk(${K[1].slice(2)}),s:pk(${K[2].slice(2)}))`,
        'tapscript',
      ),
    );
    assert.deepEqual(p.match(scriptShape(tap, 'tapscript')), {});
  });
  it('bad patterns fail with a position, never hang', () => {
    const pos = (t: string) => {
      try {
        compilePattern(t);
      } catch (e) {
        assert.ok(e instanceof PositionedError, String(e));
        return e.position;
      }
      assert.fail(`accepted ${t}`);
    };
    assert.equal(pos('and_v(v:pk(@A),older(@n>=144)'), 29);
    assert.equal(pos('older(@n>=x)'), 6);
    assert.equal(pos('OP_DUP <hash21>'), 8);
    assert.equal(pos('OP_DUP OP_FOO'), 7);
    assert.ok(pos(`${'and_v(v:1,'.repeat(3000)}1${')'.repeat(3000)}`) >= 0);
    assert.ok(pos('x'.repeat(20000)) >= 0);
  });
});

describe('template opcode names (one opcode table: script/opcodes.ts)', () => {
  it('any spelling of an opcode matches the script holding it; unknown opcodes by number', () => {
    // <n> CHECKLOCKTIMEVERIFY DROP <key> CHECKSIG, with 0xbb (unassigned) and 0xff after it.
    const key = Uint8Array.from([0x02, ...new Uint8Array(32).fill(9)]);
    const script = Uint8Array.from([0x02, 0x90, 0x01, 0xb1, 0x75, 0x21, ...key, 0xac, 0xbb, 0xff]);
    const sh = scriptShape(script, 'scriptPubKey');
    assert.equal(
      sh.shape,
      '<num> OP_CHECKLOCKTIMEVERIFY OP_DROP <pubkey> OP_CHECKSIG OP_UNKNOWN_187 OP_UNKNOWN_255',
    );
    for (const cltv of ['OP_CHECKLOCKTIMEVERIFY', 'OP_CLTV', 'op_cltv', 'OP_NOP2']) {
      const p = compilePattern(
        `<num@t>=400> ${cltv} OP_DROP <pubkey@k> OP_CHECKSIG OP_UNKNOWN_187 OP_UNKNOWN_255`,
      );
      assert.deepEqual(p.match(sh), { t: 400, k: hex.encode(key) }, cltv);
    }
    assert.equal(
      compilePattern('<num> OP_CLTV OP_DROP <pubkey> OP_CHECKSIG OP_UNKNOWN_187 OP_INVALIDOPCODE').match(
        sh,
      ) !== null,
      true,
    );
    assert.throws(() => compilePattern('OP_DUP OP_UNKNOWN_186'), /unknown opcode 'OP_UNKNOWN_186'/);
    assert.throws(() => compilePattern('OP_PUSHBYTES_5 OP_DUP'), /push opcodes are written as data/);
  });

  it('a truncated push ends the template after the ops before it', () => {
    assert.equal(
      scriptShape(Uint8Array.from([0x76, 0xa9, 0x14, 1, 2]), 'scriptPubKey').shape,
      'OP_DUP OP_HASH160 <truncated>',
    );
    assert.equal(
      scriptShape(Uint8Array.from([0x76, 0x4d, 0x01]), 'scriptPubKey').shape,
      'OP_DUP <truncated>',
    );
  });
});
