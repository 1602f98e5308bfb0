import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as btc from '@scure/btc-signer';
import type { BcoinNode } from './bcoin.ts';

/** bcoin's regtest address parameters: bech32 hrp `rb` (Core's is `bcrt`), and base58 prefixes 0x3c/0x26, from lib/protocol/networks.js. */
export const BCOIN_REGTEST = { bech32: 'rb', pubKeyHash: 0x3c, scriptHash: 0x26, wif: 0x5a };
export const COINBASE_MATURITY = 100;
/**
 * bcoin regtest activates segwit by BIP9 signalling (window 144, threshold 108): `active` from
 * height 431. Before that its mempool refuses witness spends, so wallets mine at least this far.
 */
export const SEGWIT_HEIGHT = 432;

export interface Utxo {
  txid: string;
  vout: number;
  value: bigint;
  /** Height of the block that holds it; -1 while unconfirmed. */
  height: number;
  coinbase: boolean;
}

export interface BuiltTx {
  /** Display-order txid. */
  txid: string;
  hex: string;
  raw: Uint8Array;
  spent: Utxo;
}

/**
 * A single-key P2WPKH wallet for tests: mines coinbases to itself, builds and signs real
 * transactions with @scure/btc-signer (independent of bcoin's own wallet), and tracks its
 * outputs locally (tests drive every change, so no rescans are needed).
 */
export class TestWallet {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly address: string;
  readonly script: Uint8Array;
  private utxos: Utxo[] = [];

  constructor(
    readonly node: BcoinNode,
    privateKey: Uint8Array = secp256k1.utils.randomSecretKey(),
  ) {
    this.privateKey = privateKey;
    this.publicKey = secp256k1.getPublicKey(privateKey, true);
    const pay = btc.p2wpkh(this.publicKey, BCOIN_REGTEST);
    this.address = pay.address as string;
    this.script = pay.script;
  }

  /** A fresh address (another key) for payments and for mining competing branches. */
  static randomAddress(): string {
    return btc.p2wpkh(secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true), BCOIN_REGTEST)
      .address as string;
  }

  /** Mines n blocks to this wallet and records their coinbase outputs. */
  async mine(n: number): Promise<string[]> {
    const hashes = await this.node.mine(n, this.address);
    for (const h of hashes) {
      const block = await this.node.rpc<{
        height: number;
        tx: { txid: string; vout: { value: number }[] }[];
      }>('getblock', [h, true, true]);
      const cb = block.tx[0];
      this.utxos.push({
        txid: cb.txid,
        vout: 0,
        value: btcToSat(cb.vout[0].value),
        height: block.height,
        coinbase: true,
      });
    }
    return hashes;
  }

  /** Mines to this wallet until segwit is active and some coinbases are mature. */
  async prepare(minHeight = SEGWIT_HEIGHT): Promise<void> {
    const h = await this.node.height();
    if (h < minHeight) await this.mine(minHeight - h);
  }

  /** Outputs spendable in the next block at `tipHeight + 1`. */
  spendable(tipHeight: number): Utxo[] {
    return this.utxos.filter(
      (u) => !u.coinbase || (u.height >= 0 && tipHeight + 1 - u.height >= COINBASE_MATURITY),
    );
  }

  /**
   * Builds and signs a tx spending one UTXO (the oldest spendable unless given) to `to`, change
   * back to this wallet. Does not broadcast nor change the wallet's view.
   */
  async build(to: string, value: bigint, opts: { utxo?: Utxo; fee?: bigint } = {}): Promise<BuiltTx> {
    const fee = opts.fee ?? 2_000n;
    let utxo = opts.utxo;
    if (!utxo) {
      const tip = await this.node.height();
      utxo = this.spendable(tip).find((u) => u.value >= value + fee);
      if (!utxo) throw new Error(`wallet has no spendable output of ${value + fee} sat at height ${tip}`);
    }
    const tx = new btc.Transaction();
    tx.addInput({
      txid: utxo.txid,
      index: utxo.vout,
      witnessUtxo: { script: this.script, amount: utxo.value },
    });
    tx.addOutputAddress(to, value, BCOIN_REGTEST);
    const change = utxo.value - value - fee;
    if (change > 1_000n) tx.addOutputAddress(this.address, change, BCOIN_REGTEST);
    tx.sign(this.privateKey);
    tx.finalize();
    return { txid: tx.id, hex: tx.hex, raw: tx.extract(), spent: utxo };
  }

  /** Builds, broadcasts through the node's sendrawtransaction and records the spend and change. */
  async send(to: string, value: bigint, opts: { utxo?: Utxo; fee?: bigint } = {}): Promise<BuiltTx> {
    const built = await this.build(to, value, opts);
    await this.node.rpc('sendrawtransaction', [built.hex]);
    await this.waitInMempool(built.txid);
    this.markSent(built);
    return built;
  }

  /**
   * bcoin's sendrawtransaction returns before its mempool has accepted the tx (and never reports
   * a rejection), so this polls getrawmempool.
   */
  async waitInMempool(txid: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.node.mempool()).includes(txid)) {
      if (Date.now() > deadline)
        throw new Error(`bcoin did not accept ${txid} into its mempool (rejected; see BCOIN_LOG=1)`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Records a tx built here and broadcast elsewhere (e.g. through a chain source). */
  markSent(built: BuiltTx): void {
    this.utxos = this.utxos.filter((u) => !(u.txid === built.spent.txid && u.vout === built.spent.vout));
    const tx = btc.Transaction.fromRaw(built.raw);
    for (let i = 0; i < tx.outputsLength; i++) {
      const out = tx.getOutput(i);
      if (out.script && equal(out.script, this.script)) {
        this.utxos.push({
          txid: built.txid,
          vout: i,
          value: out.amount as bigint,
          height: -1,
          coinbase: false,
        });
      }
    }
  }

  /** Two signed txs spending the same output to different addresses (a double spend). */
  async conflictingPair(value: bigint): Promise<[BuiltTx, BuiltTx]> {
    const a = await this.build(TestWallet.randomAddress(), value);
    const b = await this.build(TestWallet.randomAddress(), value, { utxo: a.spent });
    return [a, b];
  }
}

function btcToSat(v: number): bigint {
  return BigInt(Math.round(v * 1e8));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
