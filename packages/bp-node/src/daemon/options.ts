import { NETWORKS } from '@lnpbp/bitcoin/network';
import type { ConfigSpec } from '@lnpbp/bus';

/** bpd's own options; the bus adds --log-level, --rpc-listen, --pub-listen, --curve-allow, --max-frame-size. */
export const bpdOptions = {
  network: { type: 'string', choices: NETWORKS, doc: 'mainnet, testnet, testnet4, signet or regtest' },
  source: {
    type: 'string',
    doc: 'p2p://host:port | rpc://[user:pass@]host:port[?zmq=tcp://host:port] | blocks:<Core blocks dir>; none: the embedded regtest node',
  },
  liveSource: {
    type: 'string',
    doc: 'with a blocks: source, the p2p:// or rpc:// source that takes over at the end of the files',
  },
  bitcoinDir: { type: 'string', doc: "Bitcoin Core's datadir, for the RPC cookie when rpc:// has no user" },
  exitAtTip: { type: 'bool', default: false, doc: "index up to the source's tip, then exit 0" },
  embeddedNode: { type: 'bool', default: false, doc: 'start an embedded bcoin regtest node and follow it' },
  embeddedBlockInterval: {
    type: 'int',
    default: 10,
    min: 0,
    max: 86_400,
    doc: 'seconds between blocks the embedded node mines (0: none)',
  },
  startHeight: {
    type: 'int',
    default: 0,
    min: 0,
    max: 8_388_607,
    doc: 'first height to index when the index is empty',
  },
  progressInterval: {
    type: 'string',
    default: '5',
    doc: 'seconds between progress lines during sync (decimals allowed, 0: every block)',
  },
} as const satisfies ConfigSpec;

/** `--progress-interval` in milliseconds; throws a one-line message for anything but 0..3600 s. */
export function progressIntervalMs(raw: string): number {
  const t = raw.trim();
  const s = Number(t);
  if (!/^\d+(\.\d+)?$/.test(t) || s > 3600) {
    throw new Error(`--progress-interval: expected seconds from 0 to 3600, got "${raw}"`);
  }
  return Math.round(s * 1000);
}
