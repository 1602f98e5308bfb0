'use strict';
// Child process: one bcoin 1.0.2 regtest full node, in memory, on 127.0.0.1.
// argv[2] is JSON: { p2pPort, httpPort, apiKey, bip37, logLevel }.
// Prints one line "READY <json>" on stdout when listening; exits when stdin closes (the parent
// died) or on SIGTERM/SIGINT, closing the node first.
const path = require('node:path');
const bcoin = require(require.resolve('bcoin', { paths: [path.resolve(__dirname, '../../../..')] }));

const opts = JSON.parse(process.argv[2] || '{}');

async function main() {
  const node = new bcoin.FullNode({
    network: 'regtest',
    memory: true,
    workers: false,
    listen: true,
    host: '127.0.0.1',
    publicHost: '127.0.0.1',
    port: opts.p2pPort,
    httpHost: '127.0.0.1',
    httpPort: opts.httpPort,
    apiKey: opts.apiKey,
    bip37: opts.bip37 !== false,
    logLevel: opts.logLevel || 'error',
    logConsole: true,
    // No DNS seeds or discovery: peers are only what tests connect.
    seeds: [],
    nodes: [],
    discover: false,
    upnp: false,
    maxOutbound: 8,
  });
  node.on('error', (err) => process.stderr.write(`bcoin error: ${err?.stack ? err.stack : err}\n`));
  await node.open();
  await node.connect();
  node.startSync();
  let closing = false;
  const close = async (code) => {
    if (closing) return;
    closing = true;
    try {
      await node.close();
    } catch (e) {
      process.stderr.write(`bcoin close: ${e}\n`);
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => close(0));
  process.on('SIGINT', () => close(0));
  process.stdin.on('end', () => close(0));
  process.stdin.on('error', () => close(0));
  process.stdin.resume();
  process.stdout.write(
    `READY ${JSON.stringify({ p2pPort: opts.p2pPort, httpPort: opts.httpPort, pid: process.pid, version: bcoin.pkg.version })}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`bcoin failed to start: ${err?.stack ? err.stack : err}\n`);
  process.exit(1);
});
