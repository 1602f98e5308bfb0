/**
 * Runs the benchmarks one after another, each in its own node process (so one's heap and JIT
 * state cannot colour the next): every bench/*.ts except this file, or those named.
 *
 *   node --import tsx bench/run.ts            (or: npm run bench)
 *   node --import tsx bench/run.ts parse hash -- --rounds 3
 *
 * Arguments after `--` go to every benchmark. Exits non-zero if any benchmark failed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const names = dash >= 0 ? argv.slice(0, dash) : argv;
const passThrough = dash >= 0 ? argv.slice(dash + 1) : [];

const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== basename(fileURLToPath(import.meta.url)))
  .map((f) => f.slice(0, -3))
  .sort();
const unknown = names.filter((n) => !available.includes(n.replace(/\.ts$/, '')));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const chosen = names.length ? names.map((n) => n.replace(/\.ts$/, '')) : available;

const failed: string[] = [];
for (const name of chosen) {
  console.log(`\n=== bench/${name}.ts ===`);
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`), ...passThrough], {
    stdio: 'inherit',
  });
  const secs = ((performance.now() - t) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed.push(name);
    console.log(`=== ${name}: FAILED (exit ${r.status ?? r.signal}) after ${secs} s ===`);
  } else {
    console.log(`=== ${name}: done in ${secs} s ===`);
  }
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exit(1);
}
