import type { TxIn } from '../tx/types.ts';
import { classify, isValidPubkeySize } from './classify.ts';
import { type ControlBlock, isControlBlockSize, parseControlBlock } from './controlblock.ts';
import { OP } from './opcodes.ts';
import { isPushOnly, parseScript, pushedValue } from './tokenize.ts';

/** BIP-341 annex tag: with two or more witness items, a last item starting 0x50 is the annex. */
export const ANNEX_TAG = 0x50;

export interface TapLeafReveal {
  readonly leafVersion: number;
  readonly script: Uint8Array;
  readonly controlBlock: ControlBlock;
  /** The raw control block witness item. */
  readonly controlBlockBytes: Uint8Array;
}

/**
 * What an input reveals about the script it spends. Byte fields are views into the input's
 * scriptSig/witness, except a redeemScript pushed by OP_1..OP_16/OP_1NEGATE (a new 1-byte array).
 * `inferred` is true when the prevout's scriptPubKey was not given and the kind was guessed from
 * the shape of scriptSig and witness; such guesses are reliable for what wallets produce but a
 * crafted input can mislead them.
 */
export type Revealed =
  | { readonly spend: 'p2sh'; readonly inferred: boolean; readonly redeemScript: Uint8Array }
  | { readonly spend: 'p2sh-p2wpkh'; readonly inferred: boolean; readonly redeemScript: Uint8Array }
  | {
      readonly spend: 'p2sh-p2wsh';
      readonly inferred: boolean;
      readonly redeemScript: Uint8Array;
      readonly witnessScript: Uint8Array;
    }
  | { readonly spend: 'p2wsh'; readonly inferred: boolean; readonly witnessScript: Uint8Array }
  | {
      readonly spend: 'p2tr-script';
      readonly inferred: boolean;
      readonly leaf: TapLeafReveal;
      readonly annex?: Uint8Array;
    }
  | { readonly spend: 'p2tr-key'; readonly inferred: boolean; readonly annex?: Uint8Array }
  /** Spends that reveal no script. */
  | {
      readonly spend:
        | 'coinbase'
        | 'p2pk'
        | 'p2pkh'
        | 'multisig'
        | 'p2wpkh'
        | 'anchor'
        | 'witness_unknown'
        | 'nonstandard';
      readonly inferred: boolean;
    }
  /** The input cannot spend its prevout as given (it would fail consensus), or nothing could be inferred. */
  | { readonly spend: 'malformed' | 'unknown'; readonly inferred: boolean; readonly reason: string };

export type SpendType = Revealed['spend'];

const ZERO32 = new Uint8Array(32);

function isCoinbase(input: TxIn): boolean {
  if (input.vout !== 0xffffffff || input.prevTxid.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (input.prevTxid[i] !== ZERO32[i]) return false;
  return true;
}

/** Last value pushed by a push-only scriptSig, or undefined when it is empty or not push-only. */
function lastPush(scriptSig: Uint8Array): Uint8Array | undefined {
  if (scriptSig.length === 0 || !isPushOnly(scriptSig)) return undefined;
  const ops = parseScript(scriptSig).ops;
  return pushedValue(ops[ops.length - 1]);
}

function isWitnessV0(s: Uint8Array, len: 20 | 32): boolean {
  return s.length === len + 2 && s[0] === OP.OP_0 && s[1] === len;
}

/** Splits off the annex (BIP-341: >= 2 items and the last starts with 0x50). */
function splitAnnex(w: Uint8Array[]): { stack: Uint8Array[]; annex?: Uint8Array } {
  if (w.length >= 2 && w[w.length - 1].length > 0 && w[w.length - 1][0] === ANNEX_TAG) {
    return { stack: w.slice(0, -1), annex: w[w.length - 1] };
  }
  return { stack: w };
}

function taproot(witness: Uint8Array[], inferred: boolean): Revealed {
  if (witness.length === 0)
    return { spend: 'malformed', inferred, reason: 'taproot spend with an empty witness' };
  const { stack, annex } = splitAnnex(witness);
  if (stack.length === 1)
    return annex ? { spend: 'p2tr-key', inferred, annex } : { spend: 'p2tr-key', inferred };
  const cb = stack[stack.length - 1];
  if (!isControlBlockSize(cb.length)) {
    return {
      spend: 'malformed',
      inferred,
      reason: `control block of ${cb.length} bytes is not 33 + 32m (m <= 128)`,
    };
  }
  const controlBlock = parseControlBlock(cb);
  const leaf = {
    leafVersion: controlBlock.leafVersion,
    script: stack[stack.length - 2],
    controlBlock,
    controlBlockBytes: cb,
  };
  return annex ? { spend: 'p2tr-script', inferred, leaf, annex } : { spend: 'p2tr-script', inferred, leaf };
}

function p2wsh(witness: Uint8Array[], inferred: boolean): Revealed {
  if (witness.length === 0)
    return { spend: 'malformed', inferred, reason: 'P2WSH spend with an empty witness' };
  return { spend: 'p2wsh', inferred, witnessScript: witness[witness.length - 1] };
}

function p2sh(input: TxIn, inferred: boolean): Revealed {
  const redeemScript = lastPush(input.scriptSig);
  if (!redeemScript) {
    return { spend: 'malformed', inferred, reason: 'P2SH spend whose scriptSig is empty or not push-only' };
  }
  const w = input.witness;
  // BIP-141 nested segwit: the scriptSig must be exactly one push of the witness program.
  if (isWitnessV0(redeemScript, 20)) return { spend: 'p2sh-p2wpkh', inferred, redeemScript };
  if (isWitnessV0(redeemScript, 32)) {
    if (w.length === 0)
      return { spend: 'malformed', inferred, reason: 'P2SH-P2WSH spend with an empty witness' };
    return { spend: 'p2sh-p2wsh', inferred, redeemScript, witnessScript: w[w.length - 1] };
  }
  return { spend: 'p2sh', inferred, redeemScript };
}

/**
 * The script a spending input reveals: the P2SH redeemScript (last push of the scriptSig), the
 * P2WSH witnessScript (last witness item; both for P2SH-P2WSH), or the taproot leaf script with its
 * control block (annex noted). Key-path and single-key spends reveal nothing. Without
 * prevScriptPubKey the kind is inferred from the input's shape (see inferSpend) and marked so.
 */
export function revealedScript(input: TxIn, prevScriptPubKey?: Uint8Array): Revealed {
  if (isCoinbase(input)) return { spend: 'coinbase', inferred: false };
  if (!prevScriptPubKey) return inferSpend(input);
  const c = classify(prevScriptPubKey);
  switch (c.type) {
    case 'p2sh':
      return p2sh(input, false);
    case 'p2wsh':
      return p2wsh(input.witness, false);
    case 'p2tr':
      return taproot(input.witness, false);
    case 'p2pk':
    case 'p2pkh':
    case 'p2wpkh':
    case 'multisig':
    case 'anchor':
    case 'witness_unknown':
    case 'nonstandard':
      return { spend: c.type, inferred: false };
    case 'op_return':
      return { spend: 'malformed', inferred: false, reason: 'OP_RETURN outputs cannot be spent' };
  }
}

function looksLikeDerSig(b: Uint8Array): boolean {
  // DER signature plus sighash byte: 0x30, total length byte, 9..73 bytes overall.
  return b.length >= 9 && b.length <= 73 && b[0] === 0x30 && b[1] === b.length - 3;
}

/**
 * Guesses the spend kind from scriptSig and witness alone (the prevout is unknown, e.g. the index
 * started above genesis). Rules, in order:
 * - empty scriptSig, witness [sig, 33-byte pubkey] -> P2WPKH;
 * - empty scriptSig, one 64/65-byte witness item (after any annex) -> P2TR key path;
 * - empty scriptSig, last item (after any annex) sized 33+32m whose first byte is 0xc0/0xc1 or
 *   any 0xbb-0xfe byte -> P2TR script path: as a witnessScript such a first byte is an unknown
 *   opcode that fails at once, so a P2WSH spend cannot look like this;
 * - other non-empty witness with empty scriptSig -> P2WSH;
 * - scriptSig one push of a v0 witness program, with a witness -> nested segwit;
 * - push-only scriptSig without witness: [sig, pubkey] -> P2PKH; [sig] -> P2PK; OP_0 sig.. -> bare
 *   multisig; else P2SH with the last push as redeemScript when that push parses as a script;
 * - a scriptSig that is not push-only -> nonstandard (P2SH requires push-only).
 */
export function inferSpend(input: TxIn): Revealed {
  if (isCoinbase(input)) return { spend: 'coinbase', inferred: false };
  const w = input.witness;
  const ss = input.scriptSig;
  if (ss.length === 0) {
    if (w.length === 0) return { spend: 'unknown', inferred: true, reason: 'empty scriptSig and witness' };
    if (
      w.length === 2 &&
      w[1].length === 33 &&
      isValidPubkeySize(w[1]) &&
      (looksLikeDerSig(w[0]) || w[0].length === 0)
    ) {
      return { spend: 'p2wpkh', inferred: true };
    }
    const { stack } = splitAnnex(w);
    const last = stack[stack.length - 1];
    if (stack.length === 1 && (last.length === 64 || last.length === 65)) return taproot(w, true);
    if (
      stack.length >= 2 &&
      isControlBlockSize(last.length) &&
      (last[0] === 0xc0 || last[0] === 0xc1 || last[0] >= 0xbb)
    ) {
      return taproot(w, true);
    }
    return p2wsh(w, true);
  }
  if (!isPushOnly(ss)) return { spend: 'nonstandard', inferred: true };
  const ops = parseScript(ss).ops;
  const items = ops.map(pushedValue);
  const top = items[items.length - 1];
  if (!top) return { spend: 'unknown', inferred: true, reason: 'scriptSig ends with OP_RESERVED' };
  if (w.length > 0) {
    if (items.length === 1 && (isWitnessV0(top, 20) || isWitnessV0(top, 32))) return p2sh(input, true);
    return {
      spend: 'unknown',
      inferred: true,
      reason: 'witness present but scriptSig is not one witness-program push',
    };
  }
  if (
    items.length === 2 &&
    items[0] &&
    (looksLikeDerSig(items[0]) || items[0].length === 0) &&
    isValidPubkeySize(top)
  ) {
    return { spend: 'p2pkh', inferred: true };
  }
  if (items.length === 1 && (looksLikeDerSig(top) || top.length === 0))
    return { spend: 'p2pk', inferred: true };
  if (
    items.length >= 2 &&
    items[0]?.length === 0 &&
    items.slice(1).every((x) => x !== undefined && (looksLikeDerSig(x) || x.length === 0))
  ) {
    return { spend: 'multisig', inferred: true };
  }
  if (!parseScript(top).parsable) {
    return { spend: 'unknown', inferred: true, reason: 'last push does not parse as a redeemScript' };
  }
  return p2sh(input, true);
}
