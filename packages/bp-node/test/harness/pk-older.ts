import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as btc from '@scure/btc-signer';
import { BCOIN_REGTEST, type BuiltTx, TestWallet } from './wallet.ts';

/**
 * A P2WSH output locked by the miniscript and_v(v:pk(K),older(n)) on bcoin regtest: its
 * witnessScript `<K> CHECKSIGVERIFY <n> CHECKSEQUENCEVERIFY` (miniscript's compilation, n <= 16),
 * its address, and spends of it signed here (BIP-143 preimage, tx version 2, sequence n).
 */
export class PkOlder {
  readonly key: Uint8Array;
  readonly witnessScript: Uint8Array;
  readonly outScript: Uint8Array;
  readonly address: string;
  private readonly priv = secp256k1.utils.randomSecretKey();

  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new RangeError('older(n) with n in 1..16');
    this.key = secp256k1.getPublicKey(this.priv, true);
    this.witnessScript = Uint8Array.from([0x21, ...this.key, 0xad, 0x50 + n, 0xb2]);
    this.outScript = btc.OutScript.encode({ type: 'wsh', hash: sha256(this.witnessScript) });
    this.address = btc.Address(BCOIN_REGTEST).encode({ type: 'wsh', hash: sha256(this.witnessScript) });
  }

  /** Spends the output `funding` pays to this script, less `fee`, to a fresh address. */
  spend(funding: BuiltTx, fee = 2_000n): { txid: string; hex: string } {
    const f = btc.Transaction.fromRaw(funding.raw);
    let vout = -1;
    for (let i = 0; i < f.outputsLength; i++)
      if (toHex(f.getOutput(i).script!) === toHex(this.outScript)) vout = i;
    if (vout < 0) throw new Error(`${funding.txid} does not pay the timelocked script`);
    const amount = f.getOutput(vout).amount!;
    const tx = new btc.Transaction({ version: 2 });
    tx.addInput({
      txid: funding.txid,
      index: vout,
      sequence: this.n,
      witnessUtxo: { script: this.outScript, amount },
    });
    tx.addOutputAddress(TestWallet.randomAddress(), amount - fee, BCOIN_REGTEST);
    const hash = tx.preimageWitnessV0(0, this.witnessScript, btc.SigHash.ALL, amount);
    const sig = secp256k1.sign(hash, this.priv, { prehash: false, format: 'der' });
    tx.updateInput(0, { finalScriptWitness: [Uint8Array.from([...sig, 0x01]), this.witnessScript] });
    return { txid: tx.id, hex: toHex(tx.extract()) };
  }
}
