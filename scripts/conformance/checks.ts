/** Runs each vector set against an implementation; returns pass/fail with reasons. */

import type { DescImpl, MsImpl } from './impls.ts';
import {
  BIPS,
  loadBcoin,
  loadBip,
  loadCoreDescriptorTests,
  loadMiniscriptTests,
  loadRandomMs,
} from './vectors.ts';

export interface Tally {
  pass: number;
  fail: number;
  failures: string[];
}
const tally = (): Tally => ({ pass: 0, fail: 0, failures: [] });
function record(t: Tally, ok: boolean, what: string) {
  if (ok) t.pass++;
  else {
    t.fail++;
    t.failures.push(what);
  }
}
const h = (s: string) => s.replace(/#.*$/, '').replace(/'/g, 'h');
const rejects = (f: () => unknown): boolean => {
  try {
    f();
    return false;
  } catch {
    return true;
  }
};
const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** Scripts from the first parseable of the given texts, for each index. */
function scriptsMatch(impl: DescImpl, texts: string[], want: string[][], branch = 0): boolean {
  for (const t of texts) {
    if (!t) continue;
    try {
      const f = impl.parse(t);
      return want.every((w, i) => sameSet(f(i, branch), w));
    } catch {
      /* next */
    }
  }
  return false;
}

export function runCoreDescriptors(impl: DescImpl) {
  const v = loadCoreDescriptorTests();
  const check = tally();
  for (const c of v.check) {
    let ok =
      scriptsMatch(impl, [c.prv], c.scripts) ||
      (!c.flags.includes('HARDENED') && scriptsMatch(impl, [c.pub], c.scripts));
    if (ok && !c.flags.includes('HARDENED')) ok = scriptsMatch(impl, [c.pub], c.scripts);
    if (ok && impl.toPub) {
      try {
        ok = h(impl.toPub(c.pub)) === h(c.pub) && h(impl.toPub(c.prv)) === h(c.pub);
      } catch {
        ok = false;
      }
    }
    record(check, ok, `Check line ${c.line}: ${c.pub.slice(0, 80)}`);
  }
  const unparsable = tally();
  for (const c of v.unparsable) {
    const ok = (!c.prv || rejects(() => impl.parse(c.prv))) && (!c.pub || rejects(() => impl.parse(c.pub)));
    record(unparsable, ok, `CheckUnparsable line ${c.line}: ${c.pub.slice(0, 80)} (${c.error})`);
  }
  const multipath = tally();
  for (const c of v.multipath) {
    let ok = true;
    for (let b = 0; b < c.scripts.length && ok; b++) {
      ok = scriptsMatch(impl, [c.prv], c.scripts[b], b) || scriptsMatch(impl, [c.pub], c.scripts[b], b);
      if (ok && impl.toPub) {
        try {
          ok = h(impl.toPub(c.pub, b)) === h(c.expandedPub[b]);
        } catch {
          ok = false;
        }
      }
    }
    record(multipath, ok, `CheckMultipath line ${c.line}: ${c.pub.slice(0, 80)}`);
  }
  return { check, unparsable, multipath, inferSkipped: v.infer.length };
}

export function runBcoin(impl: DescImpl) {
  const v = loadBcoin();
  const valid = tally();
  for (const c of v.valid) {
    let ok: boolean;
    try {
      impl.parse(c.input);
      ok = impl.toPub ? h(impl.toPub(c.input)) === h(c.descriptor.replace(/#.*$/, '')) : true;
    } catch {
      ok = false;
    }
    record(valid, ok, `desc-valid ${c.group}: ${c.input.slice(0, 80)}`);
  }
  const invalid = tally();
  for (const c of v.invalid as { input: string; error: string; requirechecksum?: boolean }[])
    record(
      invalid,
      rejects(() => impl.parse(c.input, { requireChecksum: c.requirechecksum })),
      `desc-invalid: ${c.input.slice(0, 80)} (${c.error})`,
    );
  return { valid, invalid };
}

export function runBips(impl: DescImpl) {
  const out: Record<string, Tally> = {};
  for (const bip of BIPS) {
    const t = tally();
    for (const c of loadBip(bip)) {
      const text = c.kind === 'key' ? `pk(${c.text})` : c.text;
      let ok: boolean;
      if (!c.valid) ok = rejects(() => impl.parse(text));
      else {
        try {
          const f = impl.parse(text);
          // Lists give the scripts of indexes 0, 1, 2 (combo: several per index).
          const got = new Set(c.scripts.length ? [0, 1, 2].flatMap((i) => f(i, 0)) : []);
          ok = c.scripts.every((s) => got.has(s));
        } catch {
          ok = false;
        }
      }
      record(t, ok, `BIP${bip} ${c.valid ? 'valid' : 'invalid'}: ${c.text.slice(0, 80)}`);
    }
    out[bip] = t;
  }
  return out;
}

/** Core's test key converter gives 33-byte keys; in tapscript it uses their x-only form. */
export function msForCtx(ms: string, ctx: 'p2wsh' | 'tapscript'): string {
  return ctx === 'tapscript' ? ms.replace(/\b0[23]([0-9a-f]{64})\b/g, '$1') : ms;
}

export function runMiniscript(impl: MsImpl) {
  const res = { valid: tally(), invalid: tally(), scripts: tally(), props: tally(), lift: tally() };
  for (const t of loadMiniscriptTests()) {
    for (const ctx of ['p2wsh', 'tapscript'] as const) {
      const ms = msForCtx(t.miniscript, ctx);
      const invalid =
        t.modes.includes('TESTMODE_INVALID') ||
        (t.modes.includes('TESTMODE_P2WSH_INVALID') && ctx === 'p2wsh') ||
        (t.modes.includes('TESTMODE_TAPSCRIPT_INVALID') && ctx === 'tapscript');
      const tag = `${ctx} line ${t.line}: ${t.miniscript.slice(0, 70)}`;
      if (invalid) {
        record(
          res.invalid,
          rejects(() => impl.compile(ms, ctx)),
          tag,
        );
        continue;
      }
      let script: string | null = null;
      try {
        script = impl.compile(ms, ctx);
      } catch {
        /* counted below */
      }
      record(res.valid, script !== null, tag);
      if (script === null) continue;
      const want =
        ctx === 'tapscript' ? (t.hextapscript === '=' ? t.hexscript : t.hextapscript) : t.hexscript;
      if (want !== '?') record(res.scripts, script === want, tag);
      if (impl.props) {
        const p = impl.props(ms, ctx);
        const ok =
          p.m === t.modes.includes('TESTMODE_NONMAL') &&
          p.s === t.modes.includes('TESTMODE_NEEDSIG') &&
          p.k === !t.modes.includes('TESTMODE_TIMELOCKMIX');
        record(res.props, ok, tag);
      }
      if (impl.liftRoundTrip) {
        let ok = false;
        try {
          ok = impl.liftRoundTrip(script, ctx) === script;
        } catch {
          ok = false;
        }
        record(res.lift, ok, tag);
      }
    }
  }
  return res;
}

export function runRandomMs(impl: MsImpl) {
  const t = tally();
  for (const ms of loadRandomMs()) {
    let ok = false;
    try {
      const s = impl.compile(ms, 'p2wsh');
      ok = impl.liftRoundTrip ? impl.liftRoundTrip(s, 'p2wsh') === s : true;
    } catch {
      ok = false;
    }
    record(t, ok, ms.slice(0, 80));
  }
  return t;
}
