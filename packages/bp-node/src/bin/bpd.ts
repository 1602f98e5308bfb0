import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ValueError } from '@lnpbp/bitcoin/errors';
import { NETWORKS, parseNetwork } from '@lnpbp/bitcoin/network';
import { indexDir, runBpd } from '../daemon/main.ts';
import { preflight } from '../daemon/preflight.ts';
import { type Index, openIndex } from '../index/index.ts';

/** `bpd dump --datadir D [--hash]`: the canonical line-per-row dump of the index, or its sha256. */
function dump(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { datadir: { type: 'string' }, hash: { type: 'boolean' }, network: { type: 'string' } },
    strict: true,
  });
  const datadir = resolve(values.datadir ?? join(homedir(), '.lnpbp', 'bpd'));
  const dir = indexDir(datadir);
  if (!existsSync(dir)) throw new Error(`no index in ${datadir}`);
  const index = openAnyNetwork(datadir, values.network);
  try {
    if (values.hash) {
      process.stdout.write(`${index.dumpHash()}\n`);
    } else {
      let buf = '';
      index.dump((line) => {
        buf += `${line}\n`;
        if (buf.length > 1 << 16) {
          process.stdout.write(buf);
          buf = '';
        }
      });
      process.stdout.write(buf);
    }
  } finally {
    void index.close();
  }
  return 0;
}

/**
 * `bpd compact --datadir D`: rewrites the packed tables into full pages (one flushed LMDB
 * transaction; a crash leaves the index as it was). Safe beside a running bpd, which waits.
 */
async function compact(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { datadir: { type: 'string' }, network: { type: 'string' } },
    strict: true,
  });
  const datadir = resolve(values.datadir ?? join(homedir(), '.lnpbp', 'bpd'));
  if (!existsSync(indexDir(datadir))) throw new Error(`no index in ${datadir}`);
  const probe = openAnyNetwork(datadir, values.network);
  const network = probe.network;
  await probe.close();
  const index = openIndex(datadir, network);
  try {
    const before = index.packedRows();
    const r = index.compact();
    const rows = Object.entries(r.rows)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(
      `compacted ${before.level0} new rows into level 1 (${rows}) in ${(r.ms / 1000).toFixed(1)} s\n`,
    );
  } finally {
    await index.close();
  }
  return 0;
}

/** The index records its network; a dump should not need to be told it. */
function openAnyNetwork(dir: string, network: string | undefined): Index {
  if (network) return openIndex(dir, parseNetwork(network), { readOnly: true });
  for (const n of NETWORKS) {
    try {
      return openIndex(dir, n, { readOnly: true });
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
    }
  }
  throw new Error(`${dir} holds no index of a known network`);
}

const argv = process.argv.slice(2);
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
if (argv[0] === 'dump') {
  try {
    process.exitCode = dump(argv.slice(1));
  } catch (e) {
    process.stderr.write(`bpd dump: ${(e as Error).message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
} else if (argv[0] === 'compact') {
  try {
    process.exitCode = await compact(argv.slice(1));
  } catch (e) {
    process.stderr.write(`bpd compact: ${(e as Error).message.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
} else {
  // A setup fault is one line on stderr and exit code 1, before the daemon starts.
  const fault = await preflight(argv);
  if (fault) {
    process.stderr.write(`bpd: ${fault}\n`);
    process.exit(1);
  }
  const { installApi } = await import('../api/install.ts');
  await runBpd(argv, [installApi]);
}
