import { parseArgs } from 'node:util';
import {
  blockSummary,
  blocksFromFile,
  parseBlockFormat,
  parseNetwork,
  txDetail,
  txFromArg,
} from './commands/decode.ts';
import { shortidDecode, shortidEncode } from './commands/shortid.ts';
import { CliError, fail } from './fail.ts';

const USAGE = `bp-cli: the BP node's command-line client

Usage:
  bp-cli decode block <file> [--format raw|hex|blk] [--network N] [--json]
  bp-cli decode tx <hex|file> [--json]
  bp-cli shortid decode <id> [--json]
  bp-cli shortid encode --height H --block-hash X [--tx N [--input I | --output O]] [--json]
  bp-cli shortid encode --txid X [--input I | --output O] [--json]     (off-chain id)

Options:
  --json       machine-readable output (one JSON object per line)
  --network N  mainnet (default), testnet, testnet4, signet, regtest
  -h, --help   this text

Errors are one line on stderr with exit code 1 (BP_DEBUG=1 adds a stack trace).`;

type Values = Record<string, string | boolean | undefined>;

function out(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

function cmdDecode(pos: string[], v: Values): void {
  const [what, arg] = pos;
  const json = v.json === true;
  if (what === 'block') {
    if (!arg) throw new CliError('decode block needs a file');
    const network = parseNetwork((v.network as string | undefined) ?? 'mainnet');
    for (const block of blocksFromFile(arg, parseBlockFormat(v.format as string | undefined), network)) {
      const s = blockSummary(block);
      out(json, s, () =>
        [
          `block ${s.hash}`,
          `  prev ${s.prevHash}  time ${new Date(s.time * 1000).toISOString()}  bits ${s.bits}  nonce ${s.nonce}`,
          `  size ${s.size}  weight ${s.weight}  txs ${s.txCount}  merkle ${s.merkleOk ? 'ok' : 'BAD'}  pow ${s.powOk ? 'ok' : 'BAD'}  witness commitment ${s.witnessCommitment}`,
        ].join('\n'),
      );
    }
    return;
  }
  if (what === 'tx') {
    if (!arg) throw new CliError('decode tx needs hex or a file');
    const d = txDetail(txFromArg(arg));
    out(json, d, () =>
      [
        `tx ${d.txid}${d.segwit ? `  wtxid ${d.wtxid}` : ''}`,
        `  version ${d.version}  locktime ${d.locktime}  size ${d.size}  vsize ${d.vsize}  weight ${d.weight}`,
        ...d.inputs.map((i, n) => `  in  ${n}: ${i.txid}:${i.vout}  seq ${i.sequence.toString(16)}`),
        ...d.outputs.map((o) => `  out ${o.n}: ${o.value} sat  ${o.scriptPubKey}`),
      ].join('\n'),
    );
    return;
  }
  throw new CliError(
    `decode what? expected "block" or "tx", got ${what === undefined ? 'nothing' : `"${what}"`}`,
  );
}

function cmdShortid(pos: string[], v: Values): void {
  const [sub, arg] = pos;
  const json = v.json === true;
  if (sub === 'decode') {
    if (!arg) throw new CliError('shortid decode needs an id');
    const r = shortidDecode(arg);
    out(json, r, () =>
      Object.entries(r)
        .map(([k, x]) => `${k}: ${x}`)
        .join('\n'),
    );
    return;
  }
  if (sub === 'encode') {
    const r = shortidEncode(v);
    out(json, r, () => `${r.text}  ${r.hex}  ${r.id}`);
    return;
  }
  throw new CliError(
    `shortid what? expected "decode" or "encode", got ${sub === undefined ? 'nothing' : `"${sub}"`}`,
  );
}

function main(argv: string[]): void {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        format: { type: 'string' },
        network: { type: 'string' },
        height: { type: 'string' },
        'block-hash': { type: 'string' },
        tx: { type: 'string' },
        txid: { type: 'string' },
        input: { type: 'string' },
        output: { type: 'string' },
      },
    }) as { values: Values; positionals: string[] };
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [cmd, ...rest] = positionals;
  if (values.help || cmd === undefined || cmd === 'help') {
    process.stdout.write(`${USAGE}\n`);
    if (cmd === undefined && !values.help) process.exitCode = 1;
    return;
  }
  switch (cmd) {
    case 'decode':
      cmdDecode(rest, values);
      return;
    case 'shortid':
      cmdShortid(rest, values);
      return;
    default:
      throw new CliError(`unknown command "${cmd}" (see bp-cli --help)`);
  }
}

// A closed pipe (bp-cli ... | head) ends output quietly, as other Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  fail(e);
});

try {
  main(process.argv.slice(2));
} catch (e) {
  fail(e);
}
