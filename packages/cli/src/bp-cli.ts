import { parseArgs } from 'node:util';
import {
  blockSummary,
  blocksFromFile,
  parseBlockFormat,
  parseNetwork,
  txDetail,
  txFromArg,
} from './commands/decode.ts';
import { runQuery } from './commands/query.ts';
import { shortidDecode, shortidEncode } from './commands/shortid.ts';
import { CliError, fail } from './fail.ts';

const USAGE = `bp-cli: the BP node's command-line client

Usage:
  bp-cli decode block <file> [--format raw|hex|blk] [--network N] [--json]
  bp-cli decode tx <hex|file> [--json]
  bp-cli shortid decode <id> [--json]
  bp-cli shortid encode --height H --block-hash X [--tx N [--input I | --output O]] [--json]
  bp-cli shortid encode --txid X [--input I | --output O] [--json]     (off-chain id)

Queries (ask bpd over its bus):
  bp-cli status
  bp-cli header <height|hash>            bp-cli block <height|hash>
  bp-cli tx <txid|shortid>                (raw hex and decoded)
  bp-cli outspend <txid>:<vout>           bp-cli outspends <txid>
  bp-cli history <address|script-hex|scripthash> [--limit N] [--cursor C]
  bp-cli utxos <address|script-hex|scripthash> [--limit N] [--cursor C]
  bp-cli balance <address|script-hex|scripthash>
  bp-cli shortid resolve <id>             bp-cli shortid of <txid>[:iN|:oN] | --block-hash H
  bp-cli mempool [list [--limit N] [--cursor C] | entry <txid> | histogram]
  bp-cli broadcast <raw tx hex>
  bp-cli subscribe <block|reorg|tx|topic>...
  bp-cli subscribe watch <txid:vout|address|script-hex>... [--persist] [--id ID] [--channel C]
  bp-cli match '<pattern>' [--limit N] [--cursor C]   (miniscript with @name/* wildcards, or an ASM template)
  bp-cli history|utxos|balance --descriptor '<descriptor>' [--gap N] [--limit N] [--cursor C]
  bp-cli subscribe match '<pattern>' [--persist] [--id ID]
  bp-cli subscribe descriptor '<descriptor>' [--gap N] [--persist] [--id ID]
  bp-cli unwatch <subscription>
  (scripthash: Electrum's, sha256 of the script in reversed hex; cursors are the hex "next" of a page)

Connection:
  --connect EP          ipc://PATH or tcp://HOST:PORT (default ipc://<datadir>/bpd.rpc.sock)
  --pub-connect EP      notification endpoint (default: next to the RPC socket, or <datadir>/bpd.pub.sock)
  --datadir D           bpd's datadir (default ~/.lnpbp/bpd)
  --curve-server-key K  bpd's public key (Z85/hex, or its bpd.key.pub file); needed for tcp://
  --curve-key FILE      this client's keypair file ("public <z85>" / "secret <z85>" lines)
  --timeout MS          per-request timeout (default 30000)

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

async function main(argv: string[]): Promise<void> {
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
        connect: { type: 'string' },
        'pub-connect': { type: 'string' },
        datadir: { type: 'string' },
        'curve-server-key': { type: 'string' },
        'curve-key': { type: 'string' },
        timeout: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        persist: { type: 'boolean' },
        id: { type: 'string' },
        channel: { type: 'string' },
        descriptor: { type: 'string' },
        gap: { type: 'string' },
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
      if (rest[0] === 'decode' || rest[0] === 'encode') {
        cmdShortid(rest, values);
        return;
      }
      await runQuery(cmd, rest, values);
      return;
    default:
      if (!(await runQuery(cmd, rest, values)))
        throw new CliError(`unknown command "${cmd}" (see bp-cli --help)`);
  }
}

// A closed pipe (bp-cli ... | head) ends output quietly, as other Unix tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  fail(e);
});

// Exit explicitly (bus sockets may linger), but only once stdout has flushed: exiting with
// output still queued for a pipe would cut it short.
main(process.argv.slice(2)).then(
  () => process.stdout.write('', () => process.exit(process.exitCode ?? 0)),
  (e) => fail(e),
);
