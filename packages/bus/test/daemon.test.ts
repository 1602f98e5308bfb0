import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  configHelp,
  createLogger,
  defaultEndpoint,
  loadConfig,
  RpcClient,
} from '../src/index.ts';
import { makeTempDir, removeDir, testSchema } from './helpers.ts';

const spec = {
  network: { type: 'string', choices: ['main', 'test', 'regtest'], default: 'main', doc: 'chain' },
  rpcTimeout: { type: 'int', default: 30_000, min: 1, doc: 'ms' },
  txindex: { type: 'bool', doc: 'index txs' },
  connect: { type: 'list', doc: 'peers' },
  name: { type: 'string', doc: 'no default' },
} as const;

describe('config', () => {
  it('takes flags over env over file over defaults', () => {
    const dir = makeTempDir();
    writeFileSync(
      join(dir, 'testd.conf'),
      'network = test\nrpc-timeout=5\ntxindex=1\nconnect=a\nconnect=b,c  # three peers\n',
    );
    const base = loadConfig(spec, { service: 'testd', argv: [], env: {}, defaultDatadir: dir });
    assert.deepEqual(base.config, {
      network: 'test',
      rpcTimeout: 5,
      txindex: true,
      connect: ['a', 'b', 'c'],
      name: undefined,
    });
    assert.deepEqual(base.sources, {
      network: 'file',
      rpcTimeout: 'file',
      txindex: 'file',
      connect: 'file',
      name: 'default',
    });
    assert.equal(base.configFile, join(dir, 'testd.conf'));

    const env = { TESTD_NETWORK: 'regtest', TESTD_RPC_TIMEOUT: '6', TESTD_CONNECT: 'x,y' };
    const withEnv = loadConfig(spec, { service: 'testd', argv: [], env, defaultDatadir: dir });
    assert.deepEqual(withEnv.config, {
      network: 'regtest',
      rpcTimeout: 6,
      txindex: true,
      connect: ['x', 'y'],
      name: undefined,
    });

    const argv = [
      '--network=main',
      '--rpc-timeout',
      '7',
      '--no-txindex',
      '--connect=p',
      '--connect',
      'q',
      'cmd',
      '--name=z',
    ];
    const all = loadConfig(spec, { service: 'testd', argv, env, defaultDatadir: dir });
    assert.deepEqual(all.config, {
      network: 'main',
      rpcTimeout: 7,
      txindex: false,
      connect: ['p', 'q'],
      name: 'z',
    });
    assert.deepEqual(all.sources, {
      network: 'flag',
      rpcTimeout: 'flag',
      txindex: 'flag',
      connect: 'flag',
      name: 'flag',
    });
    assert.deepEqual(all.positional, ['cmd']);

    const none = loadConfig(spec, {
      service: 'testd',
      argv: [],
      env: {},
      defaultDatadir: join(dir, 'empty'),
    });
    assert.deepEqual(none.config, {
      network: 'main',
      rpcTimeout: 30_000,
      txindex: false,
      connect: [],
      name: undefined,
    });
    // The datadir itself: flag > env > default.
    assert.equal(
      loadConfig(spec, { service: 'testd', argv: [`--datadir=${dir}/f`], env: { TESTD_DATADIR: `${dir}/e` } })
        .datadir,
      `${dir}/f`,
    );
    assert.equal(
      loadConfig(spec, { service: 'testd', argv: [], env: { TESTD_DATADIR: `${dir}/e` } }).datadir,
      `${dir}/e`,
    );
    removeDir(dir);
  });

  it('fails with one-line errors naming the source', () => {
    const dir = makeTempDir();
    const err = (argv: string[], env: Record<string, string> = {}) => {
      try {
        loadConfig(spec, { service: 'testd', argv, env, defaultDatadir: dir });
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        assert.doesNotMatch(e.message, /\n/);
        return e.message;
      }
      assert.fail('no error');
    };
    assert.equal(err(['--rpc-timeout=abc']), 'flag --rpc-timeout: expected an integer, got "abc"');
    assert.equal(err(['--rpc-timeout=0']), 'flag --rpc-timeout: must be >= 1, got 0');
    assert.equal(err(['--network=mars']), 'flag --network: expected one of main|test|regtest, got "mars"');
    assert.equal(err(['--bogus']), 'flag --bogus: unknown option (see --help)');
    assert.equal(err(['--rpc-timeout']), 'flag --rpc-timeout: needs a value');
    assert.equal(
      err([], { TESTD_TXINDEX: 'maybe' }),
      'env TESTD_TXINDEX: expected true or false, got "maybe"',
    );
    writeFileSync(join(dir, 'testd.conf'), '# ok\nnetwork = test\nfoo = 1\n');
    assert.equal(err([]), `${dir}/testd.conf:3: unknown option "foo"`);
    writeFileSync(join(dir, 'testd.conf'), 'network\n');
    assert.equal(err([]), `${dir}/testd.conf:1: expected "key = value", got "network"`);
    assert.equal(err(['--conf=missing.conf']), `config file ${dir}/missing.conf: not found`);
    removeDir(dir);
  });

  it('prints help from the spec', () => {
    const help = configHelp(spec, 'testd');
    assert.match(help, /precedence: flags > env > testd.conf > defaults/);
    assert.match(help, /--rpc-timeout=<int>\s+ms \(env TESTD_RPC_TIMEOUT, default 30000\)/);
    assert.match(help, /--network=<main\|test\|regtest>/);
  });
});

describe('logs', () => {
  it('writes one JSON object per line with ts, level, component, msg', () => {
    const lines: string[] = [];
    const log = createLogger({
      component: 'bpd',
      level: 'info',
      sink: (l) => lines.push(l),
      now: () => new Date(0),
    });
    log.debug('hidden');
    log.child('rpc').warn('hello', { n: 1n, b: Uint8Array.of(0xab), e: new Error('bad'), level: 'spoof' });
    assert.deepEqual(lines, [
      '{"ts":"1970-01-01T00:00:00.000Z","level":"warn","component":"bpd.rpc","msg":"hello","n":"1","b":"ab","e":"bad"}',
    ]);
  });
});

const child = fileURLToPath(new URL('./daemon-child.ts', import.meta.url));

function run(args: string[]): {
  proc: ReturnType<typeof spawn>;
  out: Promise<{ code: number | null; stderr: string; stdout: string }>;
  lines: string[];
} {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TESTD_GREETING: 'from-env' },
  });
  const lines: string[] = [];
  let stderr = '';
  let stdout = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
    lines.push(...String(d).split('\n').filter(Boolean));
  });
  proc.stdout!.on('data', (d) => {
    stdout += d;
  });
  const out = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) =>
    proc.on('exit', (code) => resolve({ code, stderr, stdout })),
  );
  return { proc, out, lines };
}

describe('daemon lifecycle', () => {
  it('starts, answers status on its default ipc endpoint, shuts down cleanly on SIGTERM', async () => {
    const dir = makeTempDir();
    const d = run([`--datadir=${dir}`]);
    while (!d.lines.some((l) => l.includes('"msg":"ready"'))) await new Promise((r) => setTimeout(r, 20));
    const c = await RpcClient.connect({ schema: testSchema, endpoint: defaultEndpoint(dir, 'testd', 'rpc') });
    const s = await c.status();
    assert.equal(s.service, 'testd');
    assert.deepEqual(s.detail, [{ key: 'greeting', value: 'from-env' }]);
    c.close();
    d.proc.kill('SIGTERM');
    const { code } = await d.out;
    assert.equal(code, 0);
    const records = d.lines.map((l) => JSON.parse(l));
    for (const r of records) {
      assert.equal(typeof r.ts, 'string');
      assert.ok(['debug', 'info', 'warn', 'error'].includes(r.level));
      assert.match(r.component, /^testd/);
    }
    const msgs = records.map((r) => r.msg);
    assert.ok(msgs.indexOf('signal received, shutting down') < msgs.indexOf('cleanup ran'));
    // Cleanup runs in reverse order of registration: the daemon's own, then the RPC server's.
    assert.ok(msgs.indexOf('cleanup ran') < msgs.indexOf('rpc closed'));
    assert.equal(msgs.at(-1), 'stopped');
    removeDir(dir);
  });

  it('exits 2 with a one-line error on bad config', async () => {
    const dir = makeTempDir();
    const d = run([`--datadir=${dir}`, '--max-frame-size=lots']);
    const { code, stderr } = await d.out;
    assert.equal(code, 1);
    assert.equal(stderr, 'testd: config: flag --max-frame-size: expected an integer, got "lots"\n');
    removeDir(dir);
  });

  it('refuses a tcp endpoint with no allowed client keys, and says how to fix it', async () => {
    const dir = makeTempDir();
    const d = run([`--datadir=${dir}`, '--rpc-listen=tcp://127.0.0.1:0']);
    const { code } = await d.out;
    assert.equal(code, 1);
    const failed = d.lines.map((l) => JSON.parse(l)).find((r) => r.msg === 'failed');
    assert.match(
      failed.error,
      /tcp endpoint needs at least one client key: add it to .*testd\.clients or pass --curve-allow/,
    );
    removeDir(dir);
  });

  it('prints --help', async () => {
    const { code, stdout } = await run(['--help']).out;
    assert.equal(code, 0);
    assert.match(
      stdout,
      /--greeting=<string>\s+a word to log at start \(env TESTD_GREETING, default hello\)/,
    );
    assert.match(stdout, /--rpc-listen=<list>/);
  });
});
