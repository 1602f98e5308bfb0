import { readFileSync } from 'node:fs';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { formatShortId, parseShortId } from '@lnpbp/bitcoin/shortid/index';
import { parseTx } from '@lnpbp/bitcoin/tx/parse';
import {
  BpClient,
  type BpdNotification,
  type HistoryEntry,
  type Outspend,
  parseScriptArg,
  type Utxo,
} from '@lnpbp/bp-client';
import { readKeyPair, toJson } from '@lnpbp/bus';
import { CliError } from '../fail.ts';
import { txDetail } from './decode.ts';
import { cmdDescriptor, cmdMatch, subscribeMatch } from './match.ts';

type Values = Record<string, string | boolean | undefined>;

/** One id in the JSON output: the readable LNPBP-5 form ("840002:3a:5:o1", "off:…"). */
const sid = (id: bigint) => formatShortId(id);

/** `--connect EP`, `--datadir D`, `--curve-server-key K --curve-key FILE` for tcp endpoints. */
export async function connect(v: Values): Promise<BpClient> {
  const endpoint = v.connect as string | undefined;
  let curve: { serverKey: string; keyPair: { publicKey: string; secretKey: string } } | undefined;
  if (v['curve-server-key'] !== undefined || v['curve-key'] !== undefined) {
    if (typeof v['curve-server-key'] !== 'string' || typeof v['curve-key'] !== 'string')
      throw new CliError('Curve needs both --curve-server-key KEY|FILE and --curve-key FILE');
    curve = { serverKey: keyArg(v['curve-server-key']), keyPair: readKeyPair(v['curve-key']) };
  }
  return BpClient.connect({
    endpoint,
    pubEndpoint: v['pub-connect'] as string | undefined,
    datadir: v.datadir as string | undefined,
    curve,
    timeoutMs: v.timeout ? intArg(v.timeout as string, '--timeout') : 30_000,
  });
}

/** A key given inline (Z85 or hex) or as a file (a .key.pub holds "public <z85>"). */
function keyArg(s: string): string {
  if (/^[0-9a-fA-F]{64}$/.test(s) || s.length === 40) return s;
  const text = readFileSync(s, 'utf8');
  const m = /(?:^|\n)\s*public\s+(\S+)/.exec(text);
  return (m ? m[1] : text.trim()).trim();
}

function intArg(s: string, what: string): number {
  if (!/^[0-9]{1,10}$/.test(s)) throw new CliError(`${what} must be a non-negative integer`);
  return Number(s);
}

function txidArg(s: string | undefined, what = 'txid'): string {
  if (!s || !/^[0-9a-fA-F]{64}$/.test(s)) throw new CliError(`${what} must be 64 hex digits`);
  return s.toLowerCase();
}

function outpointArg(s: string | undefined): { txid: string; vout: number } {
  const m = s ? /^([0-9a-fA-F]{64}):([0-9]{1,10})$/.exec(s) : null;
  if (!m) throw new CliError('expected an outpoint <txid>:<vout>');
  return { txid: m[1].toLowerCase(), vout: Number(m[2]) };
}

const heightText = (h: number | null) => (h === null ? 'mempool' : String(h));

export function outspendJson(s: Outspend) {
  if (!s.spent) return { spent: false };
  return { spent: true, txid: s.txid, vin: s.vin, height: s.height, shortId: sid(s.shortId) };
}

function historyJson(i: HistoryEntry) {
  return {
    txid: i.txid,
    height: i.height,
    kind: i.kind,
    ...(i.kind === 'funding' ? { vout: i.index } : { vin: i.index }),
    value: Number(i.value),
    shortId: sid(i.shortId),
  };
}

function utxoJson(u: Utxo) {
  return { txid: u.txid, vout: u.vout, value: Number(u.value), height: u.height, shortId: sid(u.shortId) };
}

function pageOpts(v: Values) {
  return {
    limit: v.limit !== undefined ? intArg(v.limit as string, '--limit') : undefined,
    cursor: (v.cursor as string | undefined) ?? null,
  };
}

function out(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

/** The query commands; returns false when `cmd` is not one of them. */
export async function runQuery(cmd: string, pos: string[], v: Values): Promise<boolean> {
  const json = v.json === true;
  const needs = (n: number, usage: string) => {
    if (pos.length < n) throw new CliError(`usage: bp-cli ${cmd} ${usage}`);
  };
  const handlers: Record<string, (c: BpClient) => Promise<void>> = {
    async status(c) {
      const i = await c.getinfo();
      out(json, i, () =>
        [
          `network ${i.network}  tip ${i.tip ? `${i.tip.height} ${i.tip.hash}` : 'none'}${i.syncing ? '  (syncing)' : ''}`,
          `source ${i.source}  source tip ${i.sourceTipHeight ?? '?'}`,
          `mempool ${i.mempoolTxs} txs ${i.mempoolBytes} bytes  index ${i.indexBytes} bytes  blocks ${i.blockFileBytes} bytes`,
          `watch sets ${i.watchSets} (${i.watchItems} items)  uptime ${i.uptimeSec} s  bpd ${i.version}`,
        ].join('\n'),
      );
    },
    async header(c) {
      needs(1, '<height|hash>');
      const h = await c.header(blockArg(pos[0]));
      out(
        json,
        { ...h, shortId: sid(h.shortId) },
        () => `${h.height} ${h.hash} ${sid(h.shortId)} txs ${h.txCount} size ${h.size}\n${h.header}`,
      );
    },
    async block(c) {
      needs(1, '<height|hash>');
      const b = await c.block(blockArg(pos[0]));
      const j = {
        height: b.height,
        hash: b.hash,
        shortId: sid(b.shortId),
        txCount: b.txCount,
        size: b.size,
        hex: toHex(b.raw),
      };
      out(json, j, () => toHex(b.raw));
    },
    async tx(c) {
      needs(1, '<txid|shortid>');
      const sel = /^[0-9a-fA-F]{64}$/.test(pos[0]) ? pos[0].toLowerCase() : parseShortIdArg(pos[0]);
      const t = await c.tx(sel);
      const decoded = txDetail(parseTx(t.raw));
      const j = {
        txid: t.txid,
        height: t.height,
        blockHash: t.blockHash,
        position: t.position,
        shortId: sid(t.shortId),
        hex: toHex(t.raw),
        decoded,
      };
      out(json, toJson(j), () =>
        [
          `tx ${t.txid}  ${t.height === null ? 'mempool' : `height ${t.height} position ${t.position}`}  ${sid(t.shortId)}`,
          ...decoded.inputs.map((i, n) => `  in  ${n}: ${i.txid}:${i.vout}`),
          ...decoded.outputs.map((o) => `  out ${o.n}: ${o.value} sat  ${o.scriptPubKey}`),
          toHex(t.raw),
        ].join('\n'),
      );
    },
    async outspend(c) {
      needs(1, '<txid>:<vout>');
      const o = outpointArg(pos[0]);
      const s = await c.outspend(o.txid, o.vout);
      out(json, outspendJson(s), () =>
        s.spent ? `spent by ${s.txid}:${s.vin} at ${heightText(s.height)} (${sid(s.shortId)})` : 'unspent',
      );
    },
    async outspends(c) {
      needs(1, '<txid>');
      const all = await c.outspends(txidArg(pos[0]));
      out(json, all.map(outspendJson), () =>
        all
          .map((s, n) => `${n}: ${s.spent ? `${s.txid}:${s.vin} at ${heightText(s.height)}` : 'unspent'}`)
          .join('\n'),
      );
    },
    async history(c) {
      if (await cmdDescriptor(c, cmd, pos, v)) return;
      needs(1, '<address|script-hex|scripthash> [--limit N] [--cursor C]');
      const p = await c.history(parseScriptArg(pos[0]), pageOpts(v));
      out(json, { items: p.items.map(historyJson), next: p.next }, () =>
        [
          ...p.items.map(
            (i) => `${heightText(i.height).padStart(8)} ${i.kind.padEnd(8)} ${i.txid}:${i.index} ${i.value}`,
          ),
          ...(p.next ? [`next: --cursor ${p.next}`] : []),
        ].join('\n'),
      );
    },
    async utxos(c) {
      if (await cmdDescriptor(c, cmd, pos, v)) return;
      needs(1, '<address|script-hex|scripthash> [--limit N] [--cursor C]');
      const p = await c.utxos(parseScriptArg(pos[0]), pageOpts(v));
      out(json, { items: p.items.map(utxoJson), next: p.next }, () =>
        [
          ...p.items.map((u) => `${u.txid}:${u.vout} ${u.value} ${heightText(u.height)}`),
          ...(p.next ? [`next: --cursor ${p.next}`] : []),
        ].join('\n'),
      );
    },
    async balance(c) {
      if (await cmdDescriptor(c, cmd, pos, v)) return;
      needs(1, '<address|script-hex|scripthash>');
      const b = await c.balance(parseScriptArg(pos[0]));
      const j = {
        confirmed: Number(b.confirmed),
        unconfirmedIn: Number(b.unconfirmedIn),
        unconfirmedOut: Number(b.unconfirmedOut),
        utxoCount: b.utxoCount,
      };
      out(
        json,
        j,
        () =>
          `confirmed ${j.confirmed}  unconfirmed +${j.unconfirmedIn} -${j.unconfirmedOut}  utxos ${j.utxoCount}`,
      );
    },
    async shortid(c) {
      // decode/encode are offline (bp-cli.ts); resolve/of ask bpd.
      const [sub, arg] = pos;
      if (sub === 'resolve') {
        if (!arg) throw new CliError('usage: bp-cli shortid resolve <id>');
        const r = await c.shortidResolve(parseShortIdArg(arg));
        out(json, r, () =>
          Object.entries(r)
            .filter(([, x]) => x !== null)
            .map(([k, x]) => `${k}: ${x}`)
            .join('\n'),
        );
        return;
      }
      // shortid of <txid>[:i<vin>|:o<vout>] | of --block-hash H
      let q: { blockHash: string } | { txid: string; vin?: number; vout?: number };
      if (typeof v['block-hash'] === 'string') q = { blockHash: txidArg(v['block-hash'], '--block-hash') };
      else {
        const m = arg ? /^([0-9a-fA-F]{64})(?::([io])([0-9]{1,10}))?$/.exec(arg) : null;
        if (!m) throw new CliError('usage: bp-cli shortid of <txid>[:iN|:oN] | --block-hash H');
        q = {
          txid: m[1],
          ...(m[2] === 'i' ? { vin: Number(m[3]) } : m[2] === 'o' ? { vout: Number(m[3]) } : {}),
        };
      }
      const r = await c.shortidOf(q);
      out(
        json,
        { shortId: sid(r.shortId), id: r.shortId.toString(), confirmed: r.confirmed },
        () => `${sid(r.shortId)}  ${r.shortId}${r.confirmed ? '' : '  (off-chain)'}`,
      );
    },
    async mempool(c) {
      const [sub, arg] = pos;
      if (sub === undefined || sub === 'list') {
        const p = await c.mempoolList(pageOpts(v));
        out(json, { items: p.items, next: p.next }, () =>
          [...p.items, ...(p.next ? [`next: --cursor ${p.next}`] : [])].join('\n'),
        );
      } else if (sub === 'entry') {
        const e = await c.mempoolEntry(txidArg(arg));
        const j = {
          vsize: e.vsize,
          fee: e.fee === null ? null : Number(e.fee),
          time: e.time,
          shortId: sid(e.shortId),
          hex: toHex(e.raw),
        };
        out(
          json,
          j,
          () =>
            `vsize ${j.vsize}  fee ${j.fee ?? '?'}  time ${new Date(j.time * 1000).toISOString()}  ${j.shortId}`,
        );
      } else if (sub === 'histogram') {
        const h = await c.feeHistogram();
        out(json, h, () => h.map((b) => `${b.feeRate} sat/vB  ${b.vsize} vB`).join('\n'));
      } else throw new CliError('usage: bp-cli mempool [list|entry <txid>|histogram]');
    },
    async broadcast(c) {
      needs(1, '<raw tx hex>');
      const txid = await c.broadcast(pos[0]);
      out(json, { txid }, () => txid);
    },
    async match(c) {
      await cmdMatch(c, pos, v);
    },
    async unwatch(c) {
      needs(1, '<subscription>');
      const removed = await c.unwatch(pos[0]);
      out(json, { removed }, () => (removed ? 'removed' : 'no such watch set'));
    },
    async subscribe(c) {
      await subscribe(c, pos, v);
    },
  };
  const h = handlers[cmd];
  if (!h) return false;
  const c = await connect(v);
  try {
    await h(c);
  } finally {
    if (cmd !== 'subscribe') c.close();
  }
  return true;
}

function blockArg(s: string): number | string {
  if (/^[0-9]{1,10}$/.test(s)) return Number(s);
  return txidArg(s, 'block hash');
}

function parseShortIdArg(s: string): bigint {
  try {
    return parseShortId(s);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/**
 * `subscribe <topic>...` streams notifications of topics (block, reorg, tx, or any prefix);
 * `subscribe watch <txid:vout|address|script-hex>... [--persist] [--id ID] [--channel C]`
 * registers a watch set (in channel C, default its own) and streams its matches. One line per
 * notification; runs until interrupted.
 */
async function subscribe(c: BpClient, pos: string[], v: Values): Promise<void> {
  const json = v.json === true;
  if (pos.length === 0)
    throw new CliError('usage: bp-cli subscribe <block|reorg|tx|topic>... | subscribe watch <item>...');
  const line = (o: unknown, human: string) => out(json, toJson(o), () => human);
  const stop = () =>
    new Promise<void>((r) => {
      process.once('SIGINT', r);
      process.once('SIGTERM', r);
    });
  const gapLine = (g: { topic: string; reason: string; missed: bigint }) =>
    line(
      { event: 'gap', ...g },
      `gap on ${g.topic}: ${g.reason}${g.reason === 'gap' ? ` (${g.missed} missed)` : ''}; resync by query`,
    );
  if (pos[0] === 'match' || pos[0] === 'descriptor') {
    await subscribeMatch(c, pos[0], pos.slice(1), v, stop, gapLine);
    return;
  }
  if (pos[0] === 'watch') {
    const items = pos.slice(1);
    if (items.length === 0)
      throw new CliError('usage: bp-cli subscribe watch <txid:vout|address|script-hex>...');
    const outpoints: { txid: string; vout: number }[] = [];
    const scripts: string[] = [];
    const addresses: string[] = [];
    for (const it of items) {
      if (/^[0-9a-fA-F]{64}:[0-9]+$/.test(it)) outpoints.push(outpointArg(it));
      else {
        const q = parseScriptArg(it);
        if ('address' in q) addresses.push(q.address);
        else if ('script' in q) scripts.push(q.script as string);
        else throw new CliError(`${it}: watch sets take scripts or addresses, not script hashes`);
      }
    }
    const w = await c.watchSubscribe(
      {
        subscription: v.id as string | undefined,
        channel: v.channel as string | undefined,
        outpoints,
        scripts,
        addresses,
        persist: v.persist === true,
      },
      {
        onSpend: (e) =>
          line(
            { event: 'spend', ...e, shortId: sid(e.shortId) },
            `spend ${e.txid}:${e.vout} by ${e.spendingTxid}:${e.vin} at ${heightText(e.height)}`,
          ),
        onScript: (e) =>
          line(
            { event: 'script', ...e, shortId: sid(e.shortId) },
            `script ${e.script} ${e.kind} ${e.txid}:${e.index} ${e.value} at ${heightText(e.height)}`,
          ),
        onWithdrawn: (w) => {
          const cause = w.conflictHeight === null ? 'dropped' : 'conflict';
          line(
            {
              event: 'withdrawn',
              ...w,
              cause,
              spends: w.spends.map((e) => ({ ...e, shortId: sid(e.shortId) })),
              scripts: w.scripts.map((e) => ({ ...e, shortId: sid(e.shortId) })),
            },
            `withdrawn ${w.txid} left the mempool (${
              w.conflictHeight === null
                ? 'dropped by the source'
                : `double spent at ${w.conflictHeight} ${w.conflictBlockHash}`
            }): ${[
              ...w.spends.map((e) => `spend ${e.txid}:${e.vout}`),
              ...w.scripts.map((e) => `script ${e.script} ${e.kind} :${e.index}`),
            ].join(', ')}`,
          );
        },
        onReorg: (r) =>
          line(
            { event: 'reorg', ...r },
            `reorg: ${r.fromHeight}..${r.toHeight} disconnected, now on ${r.forkHash}`,
          ),
        onResync: gapLine,
      },
    );
    process.stderr.write(`watching as subscription ${w.id}\n`);
    await stop();
    await w.close(v.persist !== true);
    c.close();
    return;
  }
  const s = await c.subscribe(pos, {
    onNotification: (n: BpdNotification) => {
      const body = toJson(displayOrder(n.body)) as Record<string, unknown>;
      line(
        { topic: n.topic, seq: n.seq, event: n.name, ...body },
        `${n.topic} #${n.seq} ${n.name} ${JSON.stringify(body)}`,
      );
    },
    onGap: gapLine,
  });
  process.stderr.write(`subscribed to ${pos.join(', ')}\n`);
  await stop();
  await s.close();
  c.close();
}

/** Human lines show hashes the usual way round. */
function displayOrder(b: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(b))
    o[k] =
      x instanceof Uint8Array && x.length === 32
        ? toHex(Uint8Array.from(x).reverse())
        : k === 'shortId' && typeof x === 'bigint'
          ? sid(x)
          : x;
  return o;
}
