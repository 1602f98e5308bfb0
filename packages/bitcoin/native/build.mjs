// Builds the hashing addon (build/Release/bp_hash.node) with the node-gyp bundled in npm,
// against the headers of the Node that runs this script, so nothing is downloaded.
// A failed build only warns: the package falls back to JS hashing. BP_REQUIRE_NATIVE=1 makes
// it an error (CI), BP_NO_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const required = process.env.BP_REQUIRE_NATIVE === '1';

function fail(msg) {
  console.warn(`@lnpbp/bitcoin: native hash addon not built (${msg}); hashing falls back to JS (slower).`);
  process.exit(required ? 1 : 0);
}

if (process.env.BP_NO_NATIVE === '1') {
  console.warn('@lnpbp/bitcoin: BP_NO_NATIVE=1, native hash addon not built.');
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
console.log(`@lnpbp/bitcoin: native hash addon built in ${join(here, 'build/Release')}`);
