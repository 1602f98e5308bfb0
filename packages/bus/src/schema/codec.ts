import type { ByteReader } from '@lnpbp/bitcoin/bytes/reader';
import { DecodeError, ValueError } from '@lnpbp/bitcoin/errors';

/** What codecs write to: `ByteWriter` from @lnpbp/bitcoin, or the bus's own `FrameWriter`. */
export interface Writer {
  u8(v: number): unknown;
  u16le(v: number): unknown;
  u32le(v: number): unknown;
  u64le(v: bigint): unknown;
  bytes(b: Uint8Array): unknown;
}

/**
 * The `what` of the fast path. Naming every field and list item (`history.reply.items[3].txid`)
 * costs a string per value; schema encode/decode first run without names (`what` is this empty
 * string, and nested codecs are given it as is) and only when that throws run again with them,
 * so errors still name the field.
 */
export const UNNAMED = '';

/** The name of field `.k` of `what`, or UNNAMED. */
function part(what: string, k: string): string {
  return what === UNNAMED ? UNNAMED : `${what}${k}`;
}

/**
 * Field codecs for bus message bodies. A codec is a value that knows how to write, read and
 * describe one field type; its TypeScript type parameter carries the decoded value's type so a
 * schema table declared `as const` gives handlers typed bodies without a second declaration.
 *
 * Encoding is little-endian fixed-width integers, CompactSize (Bitcoin's var_int, canonical
 * only) for every length/count and for `varint`. Every length read from input is bounded by
 * the field's declared maximum and by the bytes left before anything is allocated.
 */
export interface Codec<T> {
  /** Type name as printed in docs and CLI help, e.g. `bytes<=1024`, `list<u32, <=100>`. */
  readonly kind: string;
  /** Minimum encoded size, used to bound counts before allocating lists. */
  readonly minSize: number;
  encode(w: Writer, v: T, what: string): void;
  decode(r: ByteReader, what: string): T;
  /** For struct codecs: the field table (docs and CLI use it). */
  readonly fields?: Record<string, AnyCodec>;
  /** For optional codecs: lets a struct make the key optional in its TypeScript type. */
  readonly optional?: true;
  /** For list/optional codecs: the inner codec. */
  readonly inner?: AnyCodec;
}

// biome-ignore lint/suspicious/noExplicitAny: codec tables mix element types
export type AnyCodec = Codec<any>;
export type Infer<C> = C extends Codec<infer T> ? T : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<F> = { [K in keyof F]: F[K] extends { optional: true } ? K : never }[keyof F];
type RequiredKeys<F> = Exclude<keyof F, OptionalKeys<F>>;
/** The value type of a struct with fields F: optional codecs become optional properties. */
export type StructOf<F extends Record<string, AnyCodec>> = Simplify<
  { -readonly [K in RequiredKeys<F>]: Infer<F[K]> } & { -readonly [K in OptionalKeys<F>]?: Infer<F[K]> }
>;

function intCodec(kind: string, bytes: 1 | 2 | 4, max: number): Codec<number> {
  return {
    kind,
    minSize: bytes,
    encode(w, v, what) {
      if (!Number.isInteger(v) || v < 0 || v > max) throw new ValueError(what, `${kind} out of range: ${v}`);
      if (bytes === 1) w.u8(v);
      else if (bytes === 2) w.u16le(v);
      else w.u32le(v);
    },
    decode(r, what) {
      return bytes === 1 ? r.u8(what) : bytes === 2 ? r.u16le(what) : r.u32le(what);
    },
  };
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const u64: Codec<bigint> = {
  kind: 'u64',
  minSize: 8,
  encode(w, v, what) {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new ValueError(what, `u64 out of range: ${v}`);
    w.u64le(v);
  },
  decode: (r, what) => r.u64le(what),
};

const i64: Codec<bigint> = {
  kind: 'i64',
  minSize: 8,
  encode(w, v, what) {
    if (typeof v !== 'bigint' || v < I64_MIN || v > I64_MAX)
      throw new ValueError(what, `i64 out of range: ${v}`);
    w.u64le(BigInt.asUintN(64, v));
  },
  decode: (r, what) => BigInt.asIntN(64, r.u64le(what)),
};

const bool: Codec<boolean> = {
  kind: 'bool',
  minSize: 1,
  encode(w, v, what) {
    if (typeof v !== 'boolean') throw new ValueError(what, `expected boolean`);
    w.u8(v ? 1 : 0);
  },
  decode(r, what) {
    const at = r.pos;
    const b = r.u8(what);
    if (b > 1) throw new DecodeError('invalid-value', what, at, `bool must be 0 or 1, got ${b}`);
    return b === 1;
  },
};

/** CompactSize up to 2^53-1, canonical only (the reader from @lnpbp/bitcoin stops at 2^32). */
function readVarint(r: ByteReader, what: string): number {
  const start = r.pos;
  const first = r.u8(what);
  if (first < 0xfd) return first;
  if (first === 0xfd) {
    const v = r.u16le(what);
    if (v < 0xfd) throw new DecodeError('non-canonical', what, start);
    return v;
  }
  if (first === 0xfe) {
    const v = r.u32le(what);
    if (v < 0x10000) throw new DecodeError('non-canonical', what, start);
    return v;
  }
  const v = r.u64le(what);
  if (v < 0x100000000n) throw new DecodeError('non-canonical', what, start);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('oversized', what, start, `varint ${v}`);
  return Number(v);
}

function writeVarint(w: Writer, n: number): void {
  if (n < 0xfd) w.u8(n);
  else if (n <= 0xffff) {
    w.u8(0xfd);
    w.u16le(n);
  } else if (n <= 0xffffffff) {
    w.u8(0xfe);
    w.u32le(n);
  } else {
    w.u8(0xff);
    w.u64le(BigInt(n));
  }
}

const varint: Codec<number> = {
  kind: 'varint',
  minSize: 1,
  encode(w, v, what) {
    if (!Number.isSafeInteger(v) || v < 0) throw new ValueError(what, `varint out of range: ${v}`);
    writeVarint(w, v);
  },
  decode: readVarint,
};

/** A length prefix bounded by `max` and by what is left (each item at least minItem bytes). */
function readLength(r: ByteReader, what: string, max: number, minItem: number): number {
  const at = r.pos;
  const n = readVarint(r, what);
  if (n > max) throw new DecodeError('oversized', what, at, `length ${n} exceeds maximum ${max}`);
  if (minItem > 0 && n > Math.floor(r.remaining / minItem)) {
    throw new DecodeError('truncated', what, at, `length ${n} exceeds remaining ${r.remaining} bytes`);
  }
  return n;
}

function bytesCodec(max: number): Codec<Uint8Array> {
  return {
    kind: `bytes<=${max}`,
    minSize: 1,
    encode(w, v, what) {
      if (!(v instanceof Uint8Array)) throw new ValueError(what, 'expected bytes');
      if (v.length > max) throw new ValueError(what, `${v.length} bytes exceeds maximum ${max}`);
      writeVarint(w, v.length);
      w.bytes(v);
    },
    decode(r, what) {
      const n = readLength(r, what, max, 1);
      // A plain copy (not a Buffer view, whose slice() does not copy): a decoded body never pins
      // the receive buffer.
      return new Uint8Array(r.bytes(n, what));
    },
  };
}

function fixedCodec(n: number): Codec<Uint8Array> {
  return {
    kind: n === 32 ? 'bytes32' : `bytes[${n}]`,
    minSize: n,
    encode(w, v, what) {
      if (!(v instanceof Uint8Array) || v.length !== n)
        throw new ValueError(what, `expected exactly ${n} bytes`);
      w.bytes(v);
    },
    decode: (r, what) => new Uint8Array(r.bytes(n, what)),
  };
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function stringCodec(maxBytes: number): Codec<string> {
  return {
    kind: `string<=${maxBytes}`,
    minSize: 1,
    encode(w, v, what) {
      if (typeof v !== 'string') throw new ValueError(what, 'expected string');
      const b = utf8.encode(v);
      if (b.length > maxBytes)
        throw new ValueError(what, `${b.length} UTF-8 bytes exceeds maximum ${maxBytes}`);
      writeVarint(w, b.length);
      w.bytes(b);
    },
    decode(r, what) {
      const n = readLength(r, what, maxBytes, 1);
      const at = r.pos;
      const b = r.bytes(n, what);
      try {
        return utf8Strict.decode(b);
      } catch {
        throw new DecodeError('invalid-value', what, at, 'not valid UTF-8');
      }
    },
  };
}

function optionalCodec<T>(inner: Codec<T>): Codec<T | undefined> & { optional: true } {
  return {
    kind: `optional<${inner.kind}>`,
    minSize: 1,
    optional: true,
    inner,
    encode(w, v, what) {
      if (v === undefined || v === null) w.u8(0);
      else {
        w.u8(1);
        inner.encode(w, v, what);
      }
    },
    decode(r, what) {
      const at = r.pos;
      const tag = r.u8(what);
      if (tag === 0) return undefined;
      if (tag !== 1)
        throw new DecodeError('invalid-value', what, at, `optional tag must be 0 or 1, got ${tag}`);
      return inner.decode(r, what);
    },
  };
}

function listCodec<T>(inner: Codec<T>, maxItems: number): Codec<T[]> {
  return {
    kind: `list<${inner.kind}, <=${maxItems}>`,
    minSize: 1,
    inner,
    encode(w, v, what) {
      if (!Array.isArray(v)) throw new ValueError(what, 'expected a list');
      if (v.length > maxItems) throw new ValueError(what, `${v.length} items exceeds maximum ${maxItems}`);
      writeVarint(w, v.length);
      for (let i = 0; i < v.length; i++) inner.encode(w, v[i], what === UNNAMED ? UNNAMED : `${what}[${i}]`);
    },
    decode(r, what) {
      const n = readLength(r, what, maxItems, Math.max(1, inner.minSize));
      const out: T[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = inner.decode(r, what === UNNAMED ? UNNAMED : `${what}[${i}]`);
      return out;
    },
  };
}

function structCodec<F extends Record<string, AnyCodec>>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  const keys = entries.map(([k]) => k);
  const codecs = entries.map(([, c]) => c);
  const suffixes = keys.map((k) => `.${k}`);
  let minSize = 0;
  for (const [, c] of entries) minSize += c.minSize;
  return {
    kind: `struct{${entries.map(([k, c]) => `${k}: ${c.kind}`).join(', ')}}`,
    minSize,
    fields,
    encode(w, v, what) {
      if (typeof v !== 'object' || v === null) throw new ValueError(what, 'expected an object');
      const o = v as Record<string, unknown>;
      for (let i = 0; i < keys.length; i++) codecs[i].encode(w, o[keys[i]], part(what, suffixes[i]));
    },
    decode(r, what) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) {
        const val = codecs[i].decode(r, part(what, suffixes[i]));
        if (val !== undefined) o[keys[i]] = val;
      }
      return o as StructOf<F>;
    },
  };
}

/** The field type vocabulary of schema tables. */
export const t = {
  u8: intCodec('u8', 1, 0xff),
  u16: intCodec('u16', 2, 0xffff),
  u32: intCodec('u32', 4, 0xffffffff),
  u64,
  i64,
  bool,
  varint,
  /** Variable-length bytes of at most `max` bytes. */
  bytes: bytesCodec,
  /** Exactly 32 bytes (hashes, txids, keys). */
  bytes32: fixedCodec(32),
  /** Exactly n bytes. */
  fixed: fixedCodec,
  /** UTF-8 text of at most `maxBytes` encoded bytes. */
  string: stringCodec,
  optional: optionalCodec,
  list: listCodec,
  struct: structCodec,
} as const;
