// Runs every package's tests with node's built-in runner (TypeScript through tsx).
// Node 20's --test takes no globs, so the files are collected here.
// Usage: npm test [-- <path-substring> ...] to run only files whose path contains one of them.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'test'];
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (/\.test\.ts$/.test(name)) files.push(p);
  }
}
for (const r of roots) {
  try {
    walk(r);
  } catch {}
}
const filters = process.argv.slice(2);
const selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
selected.sort();
if (selected.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// No --test-force-exit: on Node 20 it exits a file's process before the reports of its last tests
// reach the runner, so tests went uncounted at random (51-60 of shortid-properties' 60 in a row).
// A file that leaves a handle open would hang instead, so the whole run has a deadline.
const DEADLINE_MS = 40 * 60_000;
const started = Date.now();
function run(files, env) {
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', ...files];
  const r = spawnSync(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test', ...env },
    timeout: Math.max(1, DEADLINE_MS - (Date.now() - started)),
    killSignal: 'SIGKILL',
  });
  if (r.error || r.signal) {
    console.error(
      `tests did not finish within ${DEADLINE_MS / 60_000} min (a file left a handle open?): ${r.error?.message ?? r.signal}`,
    );
    process.exit(1);
  }
  return r.status ?? 1;
}
let status = run(selected, {});
// The bus's RPC and PUB/SUB run on zmtp over ipc and on libzmq over tcp; these files run again
// with every socket on libzmq (the native addon for RPC, and zeromq.js), so all stay tested.
const again = selected.filter((f) => /packages[/\\]bus[/\\]test[/\\](rpc|curve|pubsub)\.test\.ts$/.test(f));
for (const transport of ['native', 'zeromq.js']) {
  if (again.length === 0) break;
  console.log(
    `\n# again on the ${transport} transport (LNPBP_BUS_TRANSPORT=${transport}): ${again.join(' ')}`,
  );
  status = run(again, { LNPBP_BUS_TRANSPORT: transport }) || status;
}
process.exit(status);
