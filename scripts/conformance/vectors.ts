/**
 * Loaders for the descriptor and miniscript conformance vectors in test/fixtures/, shared by
 * scripts/conformance/run.ts (library comparison) and the package tests (pass counts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');

/** Splits a C++ argument list at top-level commas (outside quotes and braces). */
export function splitCppArgs(raw: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let q = false;
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (q) {
      cur += c;
      if (c === '\\') cur += raw[++i];
      else if (c === '"') q = false;
      continue;
    }
    if (c === '"') q = true;
    if (c === '{' || c === '(') depth++;
    if (c === '}' || c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const strings = (s: string): string[] => [...s.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
/** {{"a","b"},{"c"}} -> [["a","b"],["c"]] */
function nestedStrings(s: string): string[][] {
  const inner = s.trim().replace(/^\{/, '').replace(/\}$/, '');
  const groups = [...inner.matchAll(/\{([^{}]*)\}/g)].map((m) => strings(m[1]));
  return groups;
}

export interface CoreCheck {
  line: number;
  prv: string;
  pub: string;
  norm: string;
  flags: string;
  /** scripts[i] = the scriptPubKeys (hex) at derivation index i. */
  scripts: string[][];
}
export interface CoreUnparsable {
  line: number;
  prv: string;
  pub: string;
  error: string;
}
export interface CoreMultipath {
  line: number;
  prv: string;
  pub: string;
  expandedPub: string[];
  flags: string;
  /** scripts[branch][i] */
  scripts: string[][][];
}
export interface CoreInfer {
  line: number;
  script: string;
  expected: string;
}

export function loadCoreDescriptorTests() {
  const d = JSON.parse(readFileSync(join(FIXTURES, 'descriptors', 'descriptor_tests.json'), 'utf8'));
  const check: CoreCheck[] = [];
  const unparsable: CoreUnparsable[] = [];
  const multipath: CoreMultipath[] = [];
  const infer: CoreInfer[] = [];
  for (const c of d.calls as { fn: string; line: number; raw: string }[]) {
    const a = splitCppArgs(c.raw);
    if (c.fn === 'Check') {
      check.push({
        line: c.line,
        prv: strings(a[0])[0] ?? '',
        pub: strings(a[1])[0] ?? '',
        norm: strings(a[2])[0] ?? '',
        flags: a[3],
        scripts: nestedStrings(a[4]),
      });
    } else if (c.fn === 'CheckUnparsable') {
      const s = a.map((x) => strings(x)[0] ?? '');
      unparsable.push({ line: c.line, prv: s[0], pub: s[1], error: s[2] });
    } else if (c.fn === 'CheckMultipath') {
      const scriptsArg = a[6];
      // { {{"a"},{"b"}}, {{"c"}}, } : one group per branch, each a list of per-index sets.
      const branches: string[][][] = [];
      let depth = 0;
      let start = -1;
      for (let i = 0; i < scriptsArg.length; i++) {
        const ch = scriptsArg[i];
        if (ch === '{') {
          depth++;
          if (depth === 2) start = i;
        } else if (ch === '}') {
          if (depth === 2) branches.push(nestedStrings(scriptsArg.slice(start, i + 1)));
          depth--;
        }
      }
      multipath.push({
        line: c.line,
        prv: strings(a[0])[0] ?? '',
        pub: strings(a[1])[0] ?? '',
        expandedPub: strings(a[3]),
        flags: a[5],
        scripts: branches,
      });
    } else if (c.fn === 'CheckInferDescriptor') {
      infer.push({ line: c.line, script: strings(a[0])[0], expected: strings(a[1])[0] });
    }
  }
  return { check, unparsable, multipath, infer };
}

export interface BcoinValid {
  group: string;
  input: string;
  descriptor: string;
  isrange: boolean;
  hasprivatekeys: boolean;
  network?: string;
}
export function loadBcoin() {
  const rd = (f: string) => JSON.parse(readFileSync(join(FIXTURES, 'descriptors', f), 'utf8'));
  const valid: BcoinValid[] = [];
  for (const [group, list] of Object.entries(rd('desc-valid.json') as Record<string, BcoinValid[]>))
    for (const v of list) valid.push({ ...v, group });
  const invalid = rd('desc-invalid.json') as { input: string; error: string }[];
  const addresses: {
    group: string;
    input: string;
    addresses?: string[];
    error?: string;
    network?: string;
    range?: number[];
  }[] = [];
  for (const [group, list] of Object.entries(rd('desc-addresses.json') as Record<string, object[]>))
    for (const v of list) addresses.push({ ...(v as object), group } as (typeof addresses)[number]);
  const privatekeys = rd('desc-privatekeys.json') as { input: string; expected: string }[];
  return { valid, invalid, addresses, privatekeys };
}

export interface BipCase {
  bip: string;
  text: string;
  valid: boolean;
  /** scripts for indexes 0,1,2 (or a single one). */
  scripts: string[];
  /** BIP-380 key expression (wrap in pk()) or checksum test. */
  kind: 'descriptor' | 'key' | 'checksum';
}

const unescapeHtml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

export function loadBip(bip: string): BipCase[] {
  const text = readFileSync(join(FIXTURES, 'descriptors', `bip-${bip}-test-vectors.mediawiki`), 'utf8');
  const out: BipCase[] = [];
  let valid = true;
  let kind: BipCase['kind'] = 'descriptor';
  for (const line of text.split('\n')) {
    if (/^invalid/i.test(line.trim())) valid = false;
    if (/^valid/i.test(line.trim())) valid = true;
    if (bip === '0380') {
      if (line.includes('checksum and character set')) kind = 'checksum';
      if (line.includes('cover key expressions')) kind = 'key';
    }
    const m = /^(\*+)\s.*<tt>(.*?)<\/tt>\s*$/.exec(line);
    if (!m) continue;
    const tt = unescapeHtml(m[2].replace(/<\/?tt>/g, ''));
    if (m[1] === '*') {
      let ok = valid;
      if (kind === 'checksum') ok = /^(Valid checksum|No checksum)/.test(line.replace(/^\*\s*/, ''));
      out.push({ bip, text: tt, valid: ok, scripts: [], kind });
    } else if (out.length) {
      out[out.length - 1].scripts.push(tt);
    }
  }
  return out;
}

export const BIPS = ['0380', '0381', '0382', '0383', '0384', '0385', '0386'];

export interface MsTest {
  line: number;
  miniscript: string;
  hexscript: string;
  hextapscript: string;
  modes: string[];
  comment: string;
}
export function loadMiniscriptTests(): MsTest[] {
  return JSON.parse(readFileSync(join(FIXTURES, 'miniscript', 'miniscript_tests.extracted.json'), 'utf8'))
    .tests;
}

/** random_ms.txt with H placeholders replaced by fixed hashes of the fragment's size. */
export function loadRandomMs(): string[] {
  return readFileSync(join(FIXTURES, 'miniscript', 'random_ms.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((s) =>
      s
        .replace(/(sha256|hash256)\(H\)/g, (_, f) => `${f}(${'11'.repeat(32)})`)
        .replace(/(ripemd160|hash160)\(H\)/g, (_, f) => `${f}(${'22'.repeat(20)})`),
    );
}
