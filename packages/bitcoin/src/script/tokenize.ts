import { DecodeError } from '../errors.ts';
import { OP } from './opcodes.ts';

/**
 * One script operation. For pushes (opcodes 0x00-0x4e) `data` is a view into the script, never a
 * copy; the operation's own bytes are script.subarray(offset, end).
 */
export interface ScriptOp {
  readonly op: number;
  /** Pushed bytes for OP_0, direct pushes and OP_PUSHDATA1/2/4; undefined for every other opcode. */
  readonly data?: Uint8Array;
  /** Offset of the opcode byte in the script. */
  readonly offset: number;
  /** Offset just past this operation (the next one's offset). */
  readonly end: number;
}

/** Result of a lenient parse: scripts on chain can be garbage (e.g. a push running past the end). */
export interface ParsedScript {
  /** The operations read before any fault. */
  readonly ops: ScriptOp[];
  /** False when the script ends inside a push. */
  readonly parsable: boolean;
  /** The fault, when not parsable: its offset is where the truncated operation starts. */
  readonly error?: DecodeError;
}

/** True for the opcodes that push data (OP_0 .. OP_PUSHDATA4). */
export function isPushOpcode(op: number): boolean {
  return op <= OP.OP_PUSHDATA4;
}

/**
 * Reads the operation at `pos`. Returns the offset past it, or -1 - (offset of the fault) when the
 * push runs past the end. dataStart/dataEnd are written to `out` for pushes. Internal hot path for
 * tokenizers that must not allocate per op.
 */
export function readOp(script: Uint8Array, pos: number, out: { start: number; end: number }): number {
  const op = script[pos];
  let start = pos + 1;
  let len: number;
  if (op < OP.OP_PUSHDATA1) len = op;
  else if (op === OP.OP_PUSHDATA1) {
    if (start + 1 > script.length) return -1 - pos;
    len = script[start];
    start += 1;
  } else if (op === OP.OP_PUSHDATA2) {
    if (start + 2 > script.length) return -1 - pos;
    len = script[start] | (script[start + 1] << 8);
    start += 2;
  } else if (op === OP.OP_PUSHDATA4) {
    if (start + 4 > script.length) return -1 - pos;
    len =
      (script[start] | (script[start + 1] << 8) | (script[start + 2] << 16) | (script[start + 3] << 24)) >>>
      0;
    start += 4;
  } else {
    out.start = out.end = start;
    return start;
  }
  // The length is checked against what remains before any view is taken.
  if (len > script.length - start) return -1 - pos;
  out.start = start;
  out.end = start + len;
  return start + len;
}

function truncatedError(script: Uint8Array, at: number, what: string): DecodeError {
  const op = script[at];
  return new DecodeError(
    'truncated',
    what,
    at,
    `push opcode 0x${op.toString(16).padStart(2, '0')} runs past the end of the ${script.length}-byte script`,
  );
}

/** Splits a script into operations, never failing: a truncated push ends the list and marks it unparsable. */
export function parseScript(script: Uint8Array, what = 'script'): ParsedScript {
  const ops: ScriptOp[] = [];
  const span = { start: 0, end: 0 };
  let pos = 0;
  while (pos < script.length) {
    const op = script[pos];
    const next = readOp(script, pos, span);
    if (next < 0) return { ops, parsable: false, error: truncatedError(script, pos, what) };
    ops.push(
      op <= OP.OP_PUSHDATA4
        ? { op, data: script.subarray(span.start, span.end), offset: pos, end: next }
        : { op, offset: pos, end: next },
    );
    pos = next;
  }
  return { ops, parsable: true };
}

/** Splits a script into operations; throws DecodeError ('truncated') on a push that runs past the end. */
export function tokenize(script: Uint8Array, what = 'script'): ScriptOp[] {
  const r = parseScript(script, what);
  if (r.error) throw r.error;
  return r.ops;
}

/** True when the script parses and holds only pushes and OP_1NEGATE/OP_RESERVED/OP_1..16 (Core's IsPushOnly). */
export function isPushOnly(script: Uint8Array, from = 0): boolean {
  const span = { start: 0, end: 0 };
  let pos = from;
  while (pos < script.length) {
    if (script[pos] > OP.OP_16) return false;
    pos = readOp(script, pos, span);
    if (pos < 0) return false;
  }
  return true;
}

/**
 * Core's CheckMinimalPush: empty data must be OP_0, one byte 1..16 or 0x81 must be OP_N/OP_1NEGATE,
 * otherwise the shortest push opcode for the length.
 */
export function isMinimalPush(op: number, data: Uint8Array): boolean {
  const n = data.length;
  if (n === 0) return op === OP.OP_0;
  if (n === 1 && data[0] >= 1 && data[0] <= 16) return op === OP.OP_1 + data[0] - 1;
  if (n === 1 && data[0] === 0x81) return op === OP.OP_1NEGATE;
  if (n <= 75) return op === n;
  if (n <= 255) return op === OP.OP_PUSHDATA1;
  if (n <= 65535) return op === OP.OP_PUSHDATA2;
  return true;
}

/** The shortest push-opcode encoding of data, without OP_N substitution (Core's `CScript << vector`). */
export function encodePush(data: Uint8Array): Uint8Array {
  const n = data.length;
  let head: number[];
  if (n < OP.OP_PUSHDATA1) head = [n];
  else if (n <= 0xff) head = [OP.OP_PUSHDATA1, n];
  else if (n <= 0xffff) head = [OP.OP_PUSHDATA2, n & 0xff, n >> 8];
  else head = [OP.OP_PUSHDATA4, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/**
 * The value a push leaves on the stack: the data for push opcodes, the number's encoding for
 * OP_1NEGATE and OP_1..OP_16; undefined for other opcodes (OP_RESERVED included).
 */
export function pushedValue(o: ScriptOp): Uint8Array | undefined {
  if (o.data) return o.data;
  if (o.op === OP.OP_1NEGATE) return Uint8Array.of(0x81);
  if (o.op >= OP.OP_1 && o.op <= OP.OP_16) return Uint8Array.of(o.op - OP.OP_1 + 1);
  return undefined;
}
