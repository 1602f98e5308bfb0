import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError, ValueError } from '@lnpbp/bitcoin/errors';
import {
  type BodyOf,
  bodyFromArgs,
  defineMessages,
  type ReplyOf,
  schemaHelp,
  schemaMarkdown,
  t,
  toJson,
  UnknownTypeError,
} from '../src/index.ts';
import { testSchema } from './helpers.ts';

const all = defineMessages(
  {
    every: {
      id: 0x0100,
      fields: {
        a: t.u8,
        b: t.u16,
        c: t.u32,
        d: t.u64,
        e: t.i64,
        f: t.bool,
        g: t.bytes(8),
        h: t.bytes32,
        i: t.string(16),
        j: t.varint,
        k: t.optional(t.u16),
        l: t.list(t.struct({ x: t.u8, y: t.optional(t.string(4)) }), 3),
      },
    },
  },
  { service: 'x', version: 1 },
);

const value: BodyOf<typeof all.table, 'every'> = {
  a: 255,
  b: 65535,
  c: 0xffffffff,
  d: (1n << 64n) - 1n,
  e: -(1n << 63n),
  f: true,
  g: Uint8Array.of(1, 2, 3),
  h: new Uint8Array(32).fill(7),
  i: 'héllo',
  j: Number.MAX_SAFE_INTEGER,
  k: 513,
  l: [{ x: 1 }, { x: 2, y: 'ab' }],
};

function decodeErr(typeId: number, body: Uint8Array): DecodeError {
  try {
    all.decode(typeId, body);
  } catch (e) {
    assert.ok(e instanceof DecodeError, String(e));
    return e;
  }
  assert.fail('decoded');
}

describe('schema', () => {
  it('round-trips every field type', () => {
    const bytes = all.encode('every', value);
    const d = all.decode(0x0100, bytes);
    assert.equal(d.name, 'every');
    assert.equal(d.role, 'notification');
    assert.deepEqual(d.body, value);
    // Hand-checked layout of the start: u8, u16 LE, u32 LE.
    assert.deepEqual([...bytes.subarray(0, 7)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  it('absent optionals encode as one zero byte and decode to missing keys', () => {
    const body = { ...value, k: undefined, l: [] };
    const d = all.decode(0x0100, all.encode('every', body)).body;
    assert.equal('k' in d, false);
    assert.deepEqual(d.l, []);
  });

  it('refuses unknown types, truncation, trailing bytes', () => {
    assert.throws(() => all.decode(0x0999, new Uint8Array()), UnknownTypeError);
    const bytes = all.encode('every', value);
    for (let n = 0; n < bytes.length; n += 7)
      assert.equal(decodeErr(0x0100, bytes.subarray(0, n)).code, 'truncated');
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.equal(decodeErr(0x0100, longer).code, 'trailing-bytes');
  });

  it('refuses over-long bytes, strings and lists before reading them', () => {
    const s = defineMessages(
      { m: { id: 0x0100, fields: { b: t.bytes(4), s: t.string(4), l: t.list(t.u8, 2) } } },
      { service: 'x', version: 1 },
    );
    const err = (body: number[]) => {
      try {
        s.decode(0x0100, Uint8Array.from(body));
      } catch (e) {
        assert.ok(e instanceof DecodeError);
        return e;
      }
      assert.fail('decoded');
    };
    assert.equal(err([5, 1, 2, 3, 4, 5, 0, 0]).code, 'oversized');
    assert.equal(err([0, 5, 97, 97, 97, 97, 97, 0]).code, 'oversized');
    assert.equal(err([0, 0, 3, 1, 2, 3]).code, 'oversized');
    // A huge length with few bytes behind it: refused as oversized, nothing allocated.
    assert.equal(err([0xfe, 0xff, 0xff, 0xff, 0x7f]).code, 'oversized');
    // Invalid UTF-8, bad bool, bad optional tag, non-canonical varint.
    assert.equal(err([0, 1, 0xff, 0]).code, 'invalid-value');
    const b = defineMessages(
      { m: { id: 0x0100, fields: { f: t.bool, o: t.optional(t.u8), v: t.varint } } },
      { service: 'x', version: 1 },
    );
    assert.throws(
      () => b.decode(0x0100, Uint8Array.of(2, 0, 0)),
      (e: DecodeError) => e.code === 'invalid-value',
    );
    assert.throws(
      () => b.decode(0x0100, Uint8Array.of(0, 2, 0)),
      (e: DecodeError) => e.code === 'invalid-value',
    );
    assert.throws(
      () => b.decode(0x0100, Uint8Array.of(0, 0, 0xfd, 1, 0)),
      (e: DecodeError) => e.code === 'non-canonical',
    );
  });

  it('refuses values outside their type when encoding', () => {
    assert.throws(() => all.encode('every', { ...value, a: 256 }), ValueError);
    assert.throws(() => all.encode('every', { ...value, h: new Uint8Array(31) }), ValueError);
    assert.throws(() => all.encode('every', { ...value, i: 'x'.repeat(17) }), ValueError);
    assert.throws(
      () => all.encode('every', { ...value, l: [{ x: 1 }, { x: 1 }, { x: 1 }, { x: 1 }] }),
      ValueError,
    );
  });

  it('checks the table: id ranges and duplicates', () => {
    assert.throws(
      () => defineMessages({ a: { id: 0x0001, fields: {} } }, { service: 'x', version: 1 }),
      ValueError,
    );
    assert.throws(
      () => defineMessages({ a: { id: 0x8001, fields: {} } }, { service: 'x', version: 1 }),
      ValueError,
    );
    assert.throws(
      () =>
        defineMessages(
          { a: { id: 0x0100, fields: {} }, b: { id: 0x0100, fields: {} } },
          { service: 'x', version: 1 },
        ),
      ValueError,
    );
  });

  it('gives requests a reply type at id | 0x8000', () => {
    const r: ReplyOf<typeof testSchema.table, 'sum'> = { total: 3n };
    const bytes = testSchema.encodeReply('sum', r);
    assert.deepEqual(testSchema.decode(0x8103, bytes), { name: 'sum', role: 'reply', body: r });
    assert.equal(testSchema.decode(0x0103, testSchema.encode('sum', { xs: [1n] })).role, 'request');
    assert.deepEqual(testSchema.typeIds, [0x0100, 0x0101, 0x0102, 0x0103, 0x0200]);
  });

  it('types bodies and replies from the table', () => {
    type Echo = BodyOf<typeof testSchema.table, 'echo'>;
    const ok: Echo = { n: 1, data: new Uint8Array() }; // `note` is optional
    // @ts-expect-error n must be a number
    const badType: Echo = { n: 'x', data: new Uint8Array() };
    // @ts-expect-error data is required
    const missing: Echo = { n: 1 };
    // @ts-expect-error block is a notification: it has no reply type
    const noReply: ReplyOf<typeof testSchema.table, 'block'> = {};
    assert.ok(ok && badType && missing && noReply !== undefined);
  });

  it('prints markdown docs and CLI help from the table', () => {
    const md = schemaMarkdown(testSchema);
    assert.match(md, /^# testd messages \(schema version 3\)/);
    assert.match(md, /\| `echo` \| 0x0100 \| 0x8100 \| request \| Returns its body\. \|/);
    assert.match(md, /\| 3 \| `note` \| `optional<string<=64>` \|/);
    assert.match(md, /\| `block` \| 0x0200 \| - \| notification \|/);
    const help = schemaHelp(testSchema);
    assert.match(
      help,
      /echo n=<u32> data=<bytes<=1024> \[note=<optional<string<=64>>\]\s+Returns its body\./,
    );
  });

  it('builds bodies from CLI arguments and prints JSON', () => {
    const body = bodyFromArgs(testSchema, 'echo', ['n=7', 'data=00ff', 'note=hi']);
    assert.deepEqual(body, { n: 7, data: Uint8Array.of(0, 255), note: 'hi' });
    assert.deepEqual(bodyFromArgs(testSchema, 'sum', ['xs=["1","18446744073709551615"]']), {
      xs: [1n, 18446744073709551615n],
    });
    assert.throws(() => bodyFromArgs(testSchema, 'echo', ['n=7']), /missing data/);
    assert.throws(
      () => bodyFromArgs(testSchema, 'echo', ['n=x', 'data=00']),
      /expected a non-negative integer/,
    );
    assert.deepEqual(toJson({ a: 1n, b: Uint8Array.of(1), c: [2n] }), { a: '1', b: '01', c: ['2'] });
  });
});
