import { fromHex, toHex } from '@lnpbp/bitcoin/bytes/hex';
import { ValueError } from '@lnpbp/bitcoin/errors';
import type { AnyCodec } from './codec.ts';
import { type MessageTable, REPLY_FLAG, type Schema } from './messages.ts';

const hexId = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

function fieldRows(fields: Record<string, AnyCodec>): string[] {
  const names = Object.keys(fields);
  if (names.length === 0) return ['| (empty body) | | |'];
  return names.map((n, i) => `| ${i + 1} | \`${n}\` | \`${fields[n].kind}\` |`);
}

/** Markdown reference of a schema table: one section per message, fields in wire order. */
export function schemaMarkdown<D extends MessageTable>(schema: Schema<D>): string {
  const out: string[] = [`# ${schema.service} messages (schema version ${schema.version})`, ''];
  out.push('| name | id | reply id | kind | doc |', '|---|---|---|---|---|');
  for (const [name, def] of Object.entries(schema.table)) {
    out.push(
      `| \`${name}\` | ${hexId(def.id)} | ${def.reply ? hexId(def.id | REPLY_FLAG) : '-'} | ${def.reply ? 'request' : 'notification'} | ${def.doc ?? ''} |`,
    );
  }
  for (const [name, def] of Object.entries(schema.table)) {
    out.push('', `## ${name} (${hexId(def.id)})`, '');
    if (def.doc) out.push(def.doc, '');
    out.push('| # | field | type |', '|---|---|---|', ...fieldRows(def.fields));
    if (def.reply) {
      out.push('', `Reply (${hexId(def.id | REPLY_FLAG)})${def.replyDoc ? `: ${def.replyDoc}` : ''}`, '');
      out.push('| # | field | type |', '|---|---|---|', ...fieldRows(def.reply));
    }
  }
  return `${out.join('\n')}\n`;
}

/** CLI help: `name <field:type> ...  doc` per request (and notification), for a generic client. */
export function schemaHelp<D extends MessageTable>(schema: Schema<D>): string {
  const rows = Object.entries(schema.table).map(([name, def]) => {
    const args = Object.entries(def.fields)
      .map(([f, c]) => (c.optional ? `[${f}=<${c.kind}>]` : `${f}=<${c.kind}>`))
      .join(' ');
    return [`${name} ${args}`.trim(), def.doc ?? ''];
  });
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return `${rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n')}\n`;
}

/**
 * A value from command-line text for a codec: integers in decimal, u64/i64 as bigint, bool as
 * true/false, bytes as hex, lists/structs/optionals as JSON (bytes inside as hex strings).
 */
export function fromText(c: AnyCodec, text: string, what: string): unknown {
  if (c.fields || c.inner) {
    let json: unknown;
    try {
      json = c.optional && !/^[[{"]/.test(text.trim()) ? text : JSON.parse(text);
    } catch {
      throw new ValueError(what, `expected JSON for ${c.kind}`);
    }
    return fromJson(c, json, what);
  }
  return fromJson(c, text, what);
}

/** A value from JSON-ish input (as `toJson` produces) for a codec. */
export function fromJson(c: AnyCodec, v: unknown, what: string): unknown {
  if (c.optional) return v === null || v === undefined ? undefined : fromJson(c.inner!, v, what);
  if (c.fields) {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new ValueError(what, 'expected an object');
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, fc] of Object.entries(c.fields)) out[k] = fromJson(fc, o[k], `${what}.${k}`);
    return out;
  }
  if (c.inner) {
    if (!Array.isArray(v)) throw new ValueError(what, 'expected a list');
    return v.map((x, i) => fromJson(c.inner!, x, `${what}[${i}]`));
  }
  const s = String(v);
  if (c.kind === 'u64' || c.kind === 'i64') {
    if (!/^-?\d+$/.test(s)) throw new ValueError(what, `expected an integer, got "${s}"`);
    return BigInt(s);
  }
  if (c.kind === 'bool') {
    if (s === 'true' || s === 'false') return s === 'true';
    throw new ValueError(what, `expected true or false, got "${s}"`);
  }
  if (c.kind.startsWith('bytes')) return fromHex(s, what);
  if (c.kind.startsWith('string')) return s;
  if (!/^\d+$/.test(s)) throw new ValueError(what, `expected a non-negative integer, got "${s}"`);
  return Number(s);
}

/** JSON-safe form of a decoded value: bigint -> decimal string, bytes -> hex. */
export function toJson(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

/** Builds a request body from `field=value` arguments (see fromText for value syntax). */
export function bodyFromArgs<D extends MessageTable>(
  schema: Schema<D>,
  name: string,
  args: readonly string[],
) {
  const def = schema.table[name];
  if (!def) throw new ValueError(schema.service, `unknown request "${name}"`);
  const given = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new ValueError(name, `argument "${a}" is not field=value`);
    given.set(a.slice(0, eq), a.slice(eq + 1));
  }
  const body: Record<string, unknown> = {};
  for (const [f, c] of Object.entries(def.fields)) {
    const text = given.get(f);
    given.delete(f);
    if (text === undefined) {
      if (c.optional) continue;
      throw new ValueError(name, `missing ${f}=<${c.kind}>`);
    }
    body[f] = fromText(c, text, `${name}.${f}`);
  }
  const extra = [...given.keys()];
  if (extra.length) throw new ValueError(name, `unknown field ${extra[0]}`);
  return body;
}
