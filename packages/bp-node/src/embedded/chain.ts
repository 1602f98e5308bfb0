import type { Logger } from '@lnpbp/bus';
import { type BcoinNode, startBcoin } from './bcoin.ts';
import { TestWallet } from './wallet.ts';

/**
 * The embedded default chain: a real bcoin regtest node in a child process, mined past segwit
 * activation, with real payments in its blocks, and a new block (with new payments) every
 * `blockIntervalMs`, so a fresh bpd has something real to index and to follow.
 */
export interface EmbeddedChain {
  readonly node: BcoinNode;
  /** The P2P URL bpd follows. */
  readonly sourceUrl: string;
  stop(): Promise<void>;
}

export interface EmbeddedChainOptions {
  log: Logger;
  /** Payments in each new block (default 3). */
  txsPerBlock?: number;
  /** How often to mine a block while running; 0 never (default 10 s). */
  blockIntervalMs?: number;
  signal?: AbortSignal;
}

export async function startEmbeddedChain(opts: EmbeddedChainOptions): Promise<EmbeddedChain> {
  const { log } = opts;
  const node = await startBcoin();
  log.info('embedded bcoin regtest node started', {
    p2pPort: node.p2pPort,
    rpcPort: node.rpcPort,
    pid: node.pid,
  });
  const wallet = new TestWallet(node);
  await wallet.prepare();
  const payees = Array.from({ length: 4 }, () => TestWallet.randomAddress());
  const txsPerBlock = opts.txsPerBlock ?? 3;
  let round = 0;
  const addBlock = async () => {
    for (let i = 0; i < txsPerBlock; i++) {
      await wallet.send(payees[(round + i) % payees.length], BigInt(100_000 * (i + 1)));
    }
    await wallet.mine(1);
    round++;
  };
  // A short history of real payments before bpd starts.
  for (let i = 0; i < 5; i++) await addBlock();
  log.info('embedded chain mined', { height: await node.height() });
  let timer: NodeJS.Timeout | undefined;
  let busy = false;
  const interval = opts.blockIntervalMs ?? 10_000;
  if (interval > 0) {
    timer = setInterval(() => {
      if (busy) return;
      busy = true;
      addBlock()
        .then(async () => log.info('embedded node mined a block', { height: await node.height() }))
        .catch((e) => log.warn('embedded mining failed', { error: e }))
        .finally(() => {
          busy = false;
        });
    }, interval);
  }
  return {
    node,
    sourceUrl: node.p2pUrl,
    async stop() {
      if (timer) clearInterval(timer);
      await node.stop();
    },
  };
}
