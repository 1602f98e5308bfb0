import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex } from '@scure/base';
import { runBcoin, runBips, runCoreDescriptors } from '../../../scripts/conformance/checks.ts';
import { ours } from '../../../scripts/conformance/impls.ts';
import { assertWatchOnly, descriptorChecksum, parseDescriptor } from '../src/descriptor/index.ts';
import { PositionedError } from '../src/miniscript/errors.ts';

// Expected pass counts are fixed so that a regression fails. Cases that do not pass, and why:
const SKIPPED = {
  'Core Check (8)': 'musig() key expressions (BIP-390) are not supported: lines 1143-1150',
  'Core CheckMultipath (3)': 'musig() (BIP-390): lines 1151, 1181, 1211',
  'Core CheckInferDescriptor (6)':
    "InferDescriptor needs a wallet's key store; on-chain scripts are lifted to shapes instead",
  'bcoin desc-invalid (2)':
    'parsing is network-agnostic (tpub accepted without a network context), and bcoin predates BIP-389 multipath <0;1>',
};

describe('descriptor conformance (test/fixtures/descriptors)', () => {
  const core = runCoreDescriptors(ours);
  it('Bitcoin Core Check: scripts at each index, public string form', () => {
    assert.equal(core.check.pass, 61, core.check.failures.join('\n'));
    assert.ok(
      core.check.failures.every((f) => /line 11(4[3-9]|50)/.test(f)),
      SKIPPED['Core Check (8)'],
    );
  });
  it('Bitcoin Core CheckUnparsable: all rejected', () => {
    assert.equal(core.unparsable.pass, 94, core.unparsable.failures.join('\n'));
    assert.equal(core.unparsable.fail, 0);
  });
  it('Bitcoin Core CheckMultipath', () => {
    assert.equal(core.multipath.pass, 12, core.multipath.failures.join('\n'));
    assert.ok(
      core.multipath.failures.every((f) => f.includes('musig')),
      SKIPPED['Core CheckMultipath (3)'],
    );
    assert.equal(core.inferSkipped, 6, SKIPPED['Core CheckInferDescriptor (6)']);
  });
  it('bcoin desc-valid / desc-invalid', () => {
    const b = runBcoin(ours);
    assert.equal(b.valid.pass, 57, b.valid.failures.join('\n'));
    assert.equal(b.invalid.pass, 38, b.invalid.failures.join('\n'));
    assert.ok(
      b.invalid.failures.every((f) => /Network mismatch|Path index is non-numeric/.test(f)),
      SKIPPED['bcoin desc-invalid (2)'],
    );
  });
  it('BIP 380-386 test vector sections: all pass', () => {
    const bips = runBips(ours);
    const counts = Object.fromEntries(
      Object.entries(bips).map(([k, t]) => [k, `${t.pass}/${t.pass + t.fail}`]),
    );
    assert.deepEqual(counts, {
      '0380': '45/45',
      '0381': '21/21',
      '0382': '23/23',
      '0383': '13/13',
      '0384': '7/7',
      '0385': '10/10',
      '0386': '10/10',
    });
  });
});

const XPUB =
  'xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL';
const XPRV =
  'xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc';

function errAt(text: string): PositionedError {
  try {
    parseDescriptor(text);
  } catch (e) {
    assert.ok(e instanceof PositionedError, String(e));
    return e;
  }
  assert.fail(`accepted: ${text}`);
}

describe('descriptor API', () => {
  it('BIP-380 checksum vector and position of a bad checksum', () => {
    assert.equal(descriptorChecksum('raw(deadbeef)'), '89f8spxm');
    const e = errAt('raw(deedbeef)#89f8spxm');
    assert.equal(e.position, 14);
    assert.match(e.message, /bad checksum/);
  });
  it('errors carry the position of an unknown function and of a bad key', () => {
    assert.equal(errAt('wsh(foo(1))').position, 4);
    assert.equal(errAt('wpkh(02aa)').position, 5);
    assert.equal(errAt(`wsh(multi(1,${XPUB}/0/1aa))`).position, 12 + XPUB.length + 3);
  });
  it('containsPrivateKey and the watch-only gate', () => {
    const d = parseDescriptor(`wpkh(${XPRV}/0/*)`);
    assert.equal(d.containsPrivateKey, true);
    assert.throws(() => assertWatchOnly(d), /a node must never receive private keys/);
    const p = parseDescriptor(`wpkh(${XPUB}/0/*)`);
    assert.equal(p.containsPrivateKey, false);
    assertWatchOnly(p);
    // The public form of the private descriptor is the xpub one.
    assert.equal(d.toStringNoChecksum(), p.toStringNoChecksum());
  });
  it('hardened steps after an xpub parse but are refused for watching', () => {
    const d = parseDescriptor(`wpkh(${XPUB}/0/*h)`);
    assert.equal(d.needsPrivateDerivation, true);
    assert.throws(() => assertWatchOnly(d), /hardened derivation/);
    assert.throws(() => d.scriptPubKeys(0), /hardened derivation needs a private key/);
  });
  it('multipath <0;1> expands to two ranged descriptors', () => {
    const d = parseDescriptor(`wpkh([deadbeef/84h/0h/0h]${XPUB}/<0;1>/*)`);
    assert.equal(d.multipathCount, 2);
    assert.equal(d.isRange, true);
    assert.equal(d.toStringNoChecksum(1), `wpkh([deadbeef/84h/0h/0h]${XPUB}/1/*)`);
    const recv = parseDescriptor(`wpkh(${XPUB}/0/*)`);
    const change = parseDescriptor(`wpkh(${XPUB}/1/*)`);
    assert.deepEqual(d.scriptPubKeys(5, 0), recv.scriptPubKeys(5));
    assert.deepEqual(d.scriptPubKeys(5, 1), change.scriptPubKeys(5));
  });
  it('tr() with a script tree and miniscript leaves (BIP-386 vector)', () => {
    const d = parseDescriptor(
      'tr(a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd,{pk(xprvA2JDeKCSNNZky6uBCviVfJSKyQ1mDYahRjijr5idH2WwLsEd4Hsb2Tyh8RfQMuPh7f7RtyzTtdrbdqqsunu5Mm3wDvUAKRHSC34sJ7in334/0),{{pk(xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL),pk(02df12b7035bdac8e3bab862a3a83d06ea6b17b6753d52edecba9be46f5d09e076)},pk(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1)}})',
    );
    assert.equal(
      hex.encode(d.scriptPubKey()),
      '512071fff39599a7b78bc02623cbe814efebf1a404f5d8ad34ea80f213bd8943f574',
    );
  });
  it('absurd inputs fail fast with a position', () => {
    const deep = `${'wsh('.repeat(2000)}pk(02aa)${')'.repeat(2000)}`;
    assert.ok(errAt(deep).position >= 0);
    const tree = `tr(${'a'.repeat(64)},${'{'.repeat(300)}`;
    assert.ok(errAt(tree).position >= 0);
  });
});
