/**
 * The issue-5 commands: `match '<pattern>'`, `history|utxos|balance --descriptor D [--gap N]`,
 * `subscribe match '<pattern>'` and `subscribe descriptor '<descriptor>'`. The JSON shapes are
 * the CLI contract of issue 5; keep them stable.
 */
import { formatShortId } from '@lnpbp/bitcoin/shortid/index';
import type {
  BpClient,
  DescriptorEvent,
  DescriptorHistoryEntry,
  DescriptorUtxo,
  MatchEntry,
  MatchEvent,
  Withdrawn,
} from '@lnpbp/bp-client';
import { BpdError } from '@lnpbp/bp-client';
import { RpcError, toJson } from '@lnpbp/bus';
import { CliError } from '../fail.ts';

type Values = Record<string, string | boolean | undefined>;

const sid = (id: bigint) => formatShortId(id);
const heightText = (h: number | null) => (h === null ? 'mempool' : String(h));
const withdrawnText = (inMempool: boolean) => (inMempool ? '(back in the mempool)' : '(not in the mempool)');

function out(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

function intArg(s: string, what: string): number {
  if (!/^[0-9]{1,10}$/.test(s)) throw new CliError(`${what} must be a non-negative integer`);
  return Number(s);
}

function pageOpts(v: Values) {
  return {
    limit: v.limit !== undefined ? intArg(v.limit as string, '--limit') : undefined,
    cursor: (v.cursor as string | undefined) ?? null,
  };
}

/** `--gap N`; out-of-range values are left to bpd, which says what the range is. */
function gapOpt(v: Values): number | undefined {
  if (v.gap === undefined) return undefined;
  const g = intArg(v.gap as string, '--gap');
  if (g === 0) throw new CliError('--gap must be at least 1');
  return g;
}

export function matchJson(i: MatchEntry) {
  return {
    txid: i.txid,
    vin: i.vin,
    ...(i.vout !== null ? { vout: i.vout } : {}),
    height: i.height,
    context: i.context,
    script: i.script,
    bindings: i.bindings,
    shape: i.shape,
    shortId: sid(i.shortId),
  };
}

const ERROR_NAMES = new Map<number, string>(Object.entries(BpdError).map(([k, c]) => [c, k]));

/** bpd's error replies as one line led by their name ("badDescriptor: ... at position 73"). */
async function named<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof RpcError) throw new CliError(`${ERROR_NAMES.get(e.code) ?? e.codeName}: ${e.message}`);
    throw e;
  }
}

const bindingsText = (b: Record<string, string | number>) =>
  Object.entries(b)
    .map(([k, x]) => `${k}=${x}`)
    .join(' ');

const derivationText = (d: { derivationIndex: number | null; branch: number }) =>
  d.derivationIndex === null ? '' : ` /${d.branch > 0 ? `<${d.branch}>/` : ''}${d.derivationIndex}`;

function descriptorHistoryJson(i: DescriptorHistoryEntry) {
  return {
    txid: i.txid,
    height: i.height,
    kind: i.kind,
    ...(i.kind === 'funding' ? { vout: i.index } : { vin: i.index }),
    value: Number(i.value),
    shortId: sid(i.shortId),
    script: i.script,
    derivationIndex: i.derivationIndex,
    branch: i.branch,
  };
}

function descriptorUtxoJson(u: DescriptorUtxo) {
  return {
    txid: u.txid,
    vout: u.vout,
    value: Number(u.value),
    height: u.height,
    shortId: sid(u.shortId),
    script: u.script,
    derivationIndex: u.derivationIndex,
    branch: u.branch,
  };
}

/** `match '<pattern>' [--limit N] [--cursor C]`. */
export async function cmdMatch(c: BpClient, pos: string[], v: Values): Promise<void> {
  if (pos.length !== 1) throw new CliError(`usage: bp-cli match '<pattern>' [--limit N] [--cursor C]`);
  const p = await named(c.match(pos[0], pageOpts(v)));
  out(v.json === true, { items: p.items.map(matchJson), next: p.next }, () =>
    [
      ...p.items.map(
        (i) =>
          `${heightText(i.height).padStart(8)} ${i.txid}:${i.vin ?? `o${i.vout}`} ${i.context} ${bindingsText(i.bindings)}`,
      ),
      ...(p.next ? [`next: --cursor ${p.next}`] : []),
    ].join('\n'),
  );
}

/** `history|utxos|balance --descriptor D [--gap N]`; false when `--descriptor` is not given. */
export async function cmdDescriptor(c: BpClient, cmd: string, pos: string[], v: Values): Promise<boolean> {
  if (v.descriptor === undefined) {
    if (v.gap !== undefined) throw new CliError('--gap goes with --descriptor');
    return false;
  }
  if (typeof v.descriptor !== 'string' || v.descriptor === '')
    throw new CliError('--descriptor needs a descriptor');
  if (pos.length > 0) throw new CliError(`give either --descriptor or a script, not both`);
  const json = v.json === true;
  const d = v.descriptor;
  const gap = gapOpt(v);
  if (cmd === 'history') {
    const p = await named(c.descriptorHistory(d, { gap, ...pageOpts(v) }));
    out(json, { items: p.items.map(descriptorHistoryJson), next: p.next }, () =>
      [
        ...p.items.map(
          (i) =>
            `${heightText(i.height).padStart(8)} ${i.kind.padEnd(8)} ${i.txid}:${i.index} ${i.value}${derivationText(i)}`,
        ),
        ...(p.next ? [`next: --cursor ${p.next}`] : []),
      ].join('\n'),
    );
  } else if (cmd === 'utxos') {
    const p = await named(c.descriptorUtxos(d, { gap, ...pageOpts(v) }));
    out(json, { items: p.items.map(descriptorUtxoJson), next: p.next }, () =>
      [
        ...p.items.map((u) => `${u.txid}:${u.vout} ${u.value} ${heightText(u.height)}${derivationText(u)}`),
        ...(p.next ? [`next: --cursor ${p.next}`] : []),
      ].join('\n'),
    );
  } else {
    if (v.limit !== undefined || v.cursor !== undefined)
      throw new CliError('balance takes no --limit/--cursor');
    const b = await named(c.descriptorBalance(d, { gap }));
    const j = {
      ...b,
      confirmed: Number(b.confirmed),
      unconfirmedIn: Number(b.unconfirmedIn),
      unconfirmedOut: Number(b.unconfirmedOut),
    };
    out(
      json,
      j,
      () =>
        `confirmed ${j.confirmed}  unconfirmed +${j.unconfirmedIn} -${j.unconfirmedOut}  utxos ${j.utxoCount}  scripts used ${j.usedScripts} of ${j.derivedScripts} derived` +
        j.branches
          .map((x, i) => `\n  branch ${i}: last used ${x.lastUsed ?? 'none'}, next ${x.nextIndex}`)
          .join(''),
    );
  }
  return true;
}

/**
 * `subscribe match '<pattern>'` / `subscribe descriptor '<descriptor>' [--gap N]` [--id ID]
 * [--persist]: registers the subscription and prints one line per match until interrupted.
 */
export async function subscribeMatch(
  c: BpClient,
  kind: 'match' | 'descriptor',
  pos: string[],
  v: Values,
  stop: () => Promise<void>,
  gapLine: (g: { topic: string; reason: string; missed: bigint }) => void,
): Promise<void> {
  const json = v.json === true;
  if (pos.length !== 1)
    throw new CliError(`usage: bp-cli subscribe ${kind} '<${kind === 'match' ? 'pattern' : 'descriptor'}>'`);
  const line = (o: unknown, human: string) => out(json, toJson(o), () => human);
  const common = {
    subscription: v.id as string | undefined,
    persist: v.persist === true,
    onReorg: (r: { fromHeight: number; toHeight: number; forkHash: string }) =>
      line(
        { event: 'reorg', ...r },
        `reorg: ${r.fromHeight}..${r.toHeight} disconnected, now on ${r.forkHash}`,
      ),
    onResync: gapLine,
    onError: (e: Error) => process.stderr.write(`error: re-registering: ${e.message}\n`),
  };
  const s = await named(
    kind === 'match'
      ? c.subscribeMatch(pos[0], {
          ...common,
          onMatch: (e: MatchEvent) =>
            line(
              { event: 'match', ...e, shortId: sid(e.shortId) },
              `match ${e.txid}:${e.vin ?? `o${e.vout}`} ${e.context} at ${heightText(e.height)} ${bindingsText(e.bindings)}`,
            ),
          onWithdrawn: (e: Withdrawn<MatchEvent>) =>
            line(
              { event: 'withdrawn', ...e, shortId: sid(e.shortId) },
              `withdrawn ${e.txid}:${e.vin ?? `o${e.vout}`} was at ${heightText(e.height)} ${withdrawnText(e.inMempool)}`,
            ),
        })
      : c.subscribeDescriptor(pos[0], {
          ...common,
          gap: gapOpt(v),
          onActivity: (e: DescriptorEvent) =>
            line(
              { event: 'descriptor', ...e, shortId: sid(e.shortId) },
              `${e.kind} ${e.txid}:${e.index} ${e.value ?? '?'} at ${heightText(e.height)}${derivationText(e)}`,
            ),
          onWithdrawn: (e: Withdrawn<DescriptorEvent>) =>
            line(
              { event: 'withdrawn', ...e, shortId: sid(e.shortId) },
              `withdrawn ${e.kind} ${e.txid}:${e.index} was at ${heightText(e.height)}${derivationText(e)} ${withdrawnText(e.inMempool)}`,
            ),
        }),
  );
  process.stderr.write(`subscribed to ${kind} as subscription ${s.id}\n`);
  await stop();
  await s.close(v.persist !== true);
  c.close();
}
