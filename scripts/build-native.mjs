// Builds a package's native addon (<dir>/binding.gyp -> <dir>/build/Release/*.node) with the
// node-gyp bundled in npm, against the headers of the Node that runs this script, so nothing is
// downloaded. A failed build only warns: each addon has a JS fallback. BP_REQUIRE_NATIVE=1 makes
// it an error (CI), BP_NO_NATIVE=1 skips the build.
//   node scripts/build-native.mjs <addon dir> <label> <what the fallback costs>
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const [dirArg, label, fallback] = process.argv.slice(2);
if (!dirArg || !label || !fallback) {
  console.error('usage: build-native.mjs <addon dir> <label> <fallback>');
  process.exit(2);
}
const here = resolve(dirArg);
const required = process.env.BP_REQUIRE_NATIVE === '1';

function fail(msg) {
  console.warn(`${label}: native addon not built (${msg}); ${fallback}.`);
  process.exit(required ? 1 : 0);
}

if (process.env.BP_NO_NATIVE === '1') {
  console.warn(`${label}: BP_NO_NATIVE=1, native addon not built.`);
  process.exit(0);
}

// npm sets npm_config_node_gyp for scripts; else look beside this Node's own npm.
const prefix = dirname(dirname(process.execPath));
const gyp = [
  process.env.npm_config_node_gyp,
  join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
].find((p) => p && existsSync(p));
if (!gyp) fail('node-gyp not found (it ships with npm)');

// Headers: an explicit nodedir wins; else the install prefix of this Node if it has them
// (distro and official tarball installs put them in <prefix>/include/node).
const nodedir = [process.env.npm_config_nodedir, prefix].find(
  (d) => d && existsSync(join(d, 'include/node/node_api.h')),
);
if (!nodedir) fail(`no Node headers under ${prefix}/include/node and no npm nodedir set`);

const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: here,
  stdio: 'inherit',
});
if (r.status !== 0) fail(`node-gyp exited with ${r.status ?? r.signal}`);
console.log(`${label}: native addon built in ${join(here, 'build/Release')}`);
