import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Block as BjsBlock } from 'bitcoinjs-lib';
import { fixturePath, modernBlock } from '../../../test/support/fixtures.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'bp-cli.mjs');

function run(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'bp-cli-'));

function expectOneLineError(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

describe('bp-cli decode block', () => {
  it('reads Core blk framing: 600 blocks, one JSON object per line', () => {
    const r = run('decode', 'block', fixturePath('chain/blk00000.dat'), '--format', 'blk', '--json');
    const r2 = run('decode', 'block', fixturePath('chain/blk00001.dat'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const blocks = [...r.stdout.trim().split('\n'), ...r2.stdout.trim().split('\n')].map((l) =>
      JSON.parse(l),
    );
    assert.equal(blocks.length, 600);
    assert.equal(blocks[0].hash, '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f');
    for (let i = 1; i < blocks.length; i++) assert.equal(blocks[i].prevHash, blocks[i - 1].hash);
    assert.ok(blocks.every((b) => b.merkleOk && b.powOk));
    const keys = [
      'hash',
      'prevHash',
      'merkleRoot',
      'time',
      'bits',
      'nonce',
      'size',
      'weight',
      'txCount',
      'merkleOk',
      'powOk',
      'txs',
    ];
    for (const k of keys) assert.ok(k in blocks[0], k);
    assert.deepEqual(Object.keys(blocks[0].txs[0]).sort(), [
      'inputs',
      'outputs',
      'size',
      'txid',
      'vsize',
      'weight',
      'wtxid',
    ]);
  });

  it('reads a raw and a hex modern block and agrees with bitcoinjs-lib', () => {
    const raw = modernBlock(840002);
    const rawPath = join(tmp, '840002.bin');
    const hexPath = join(tmp, '840002.hex');
    writeFileSync(rawPath, raw);
    writeFileSync(hexPath, `${Buffer.from(raw).toString('hex')}\n`);
    const ref = BjsBlock.fromBuffer(Buffer.from(raw));
    for (const [path, fmt] of [
      [rawPath, 'raw'],
      [hexPath, 'hex'],
      [rawPath, undefined],
    ] as const) {
      const r = run('decode', 'block', path, ...(fmt ? ['--format', fmt] : []), '--json');
      assert.equal(r.code, 0, r.stderr);
      const b = JSON.parse(r.stdout);
      assert.equal(b.hash, ref.getId());
      assert.equal(b.txCount, ref.transactions!.length);
      assert.equal(b.weight, ref.weight());
      assert.equal(b.size, raw.length);
      assert.equal(b.txs[5].txid, ref.transactions![5].getId());
      assert.ok(b.merkleOk && b.powOk);
    }
  });

  it('bad input: one-line error naming offset and cause, exit 1', () => {
    const raw = modernBlock(840003);
    const truncated = join(tmp, 'trunc.bin');
    writeFileSync(truncated, raw.subarray(0, 5000));
    expectOneLineError(run('decode', 'block', truncated, '--format', 'raw'), /truncated.*offset \d+/);
    const garbled = join(tmp, 'garbled.bin');
    const g = raw.slice(0, 200);
    g[80] = 0xff; // tx count claims 2^64-ish
    writeFileSync(garbled, g);
    expectOneLineError(run('decode', 'block', garbled, '--format', 'raw'), /txCount.*offset 80/);
    expectOneLineError(
      run('decode', 'block', fixturePath('chain/blk00000.dat'), '--format', 'blk', '--network', 'testnet'),
      /bad-magic.*offset 0/,
    );
    const notHex = join(tmp, 'nothex.txt');
    writeFileSync(notHex, '0100zz');
    expectOneLineError(run('decode', 'block', notHex, '--format', 'hex'), /not a hex digit/);
    expectOneLineError(run('decode', 'block', join(tmp, 'missing.bin')), /cannot read/);
    expectOneLineError(run('decode', 'block', truncated, '--format', 'jpeg'), /--format/);
    expectOneLineError(run('decode', 'block', truncated, '--bogus'), /bogus/);
  });
});

describe('bp-cli decode tx', () => {
  it('decodes a hex tx (block 170 spend)', () => {
    const hex =
      '0100000001c997a5e56e104102fa209c6a852dd90660a20b2d9c352423edce25857fcd3704000000004847304402204e45e16932b8af514961a1d3a1a25fdf3f4f7732e9d624c6c61548ab5fb8cd410220181522ec8eca07de4860a4acdd12909d831cc56cbbac4622082221a8768d1d0901ffffffff0200ca9a3b00000000434104ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac00286bee0000000043410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac00000000';
    const r = run('decode', 'tx', hex, '--json');
    assert.equal(r.code, 0, r.stderr);
    const tx = JSON.parse(r.stdout);
    assert.equal(tx.txid, 'f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16');
    assert.equal(tx.outputs[0].value, 1_000_000_000);
    assert.equal(tx.inputs[0].txid, '0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9');
  });
  it('bad tx hex: one-line error', () => {
    expectOneLineError(run('decode', 'tx', '0100000000'), /truncated.*offset/);
    expectOneLineError(run('decode', 'tx', 'zz'), /neither hex nor a file/);
    expectOneLineError(run('decode', 'tx', '010'), /odd number/);
  });
});

describe('bp-cli shortid', () => {
  it('encodes the block 170 spend and decodes it back', () => {
    const hash170 = '00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee';
    const e = run(
      'shortid',
      'encode',
      '--height',
      '170',
      '--block-hash',
      hash170,
      '--tx',
      '1',
      '--input',
      '0',
      '--json',
    );
    assert.equal(e.code, 0, e.stderr);
    const enc = JSON.parse(e.stdout);
    assert.equal(enc.kind, 'input');
    const d = run('shortid', 'decode', enc.id, '--json');
    const dec = JSON.parse(d.stdout);
    assert.deepEqual(
      { kind: dec.kind, height: dec.height, position: dec.position, index: dec.index, hex: dec.hex },
      { kind: 'input', height: 170, position: 1, index: 0, hex: enc.hex },
    );
    // The block checksum is the XOR of all 32 bytes of the block hash.
    const xor = Buffer.from(hash170, 'hex').reduce((a, b) => a ^ b, 0);
    assert.equal(dec.checksum, xor);
  });
  it('bad ids and arguments: one-line errors', () => {
    expectOneLineError(run('shortid', 'decode', 'xyz'), /shortid/);
    expectOneLineError(run('shortid', 'encode', '--height', 'x', '--block-hash', '00'), /--height/);
    expectOneLineError(run('shortid', 'encode', '--height', '1', '--block-hash', '00'), /--block-hash/);
    expectOneLineError(
      run('shortid', 'encode', '--height', '99999999', '--block-hash', '00'.repeat(32)),
      /height/,
    );
  });
});
