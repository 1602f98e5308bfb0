/** Miniscript AST -> Script, per the miniscript spec's translation table. */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { OP } from '../script/opcodes.ts';
import type { MsNode } from './node.ts';
import { ScriptBuilder } from './script.ts';

export function hash160(b: Uint8Array): Uint8Array {
  return ripemd160(sha256(b));
}

/** Key hash of pk_h: the lifted hash when known, else HASH160 of the key bytes as written. */
export function pkhHash(node: MsNode): Uint8Array {
  return node.data ?? hash160(node.keys[0]);
}

const VERIFY_FORM: Record<number, number> = {
  [OP.OP_EQUAL]: OP.OP_EQUALVERIFY,
  [OP.OP_CHECKSIG]: OP.OP_CHECKSIGVERIFY,
  [OP.OP_CHECKMULTISIG]: OP.OP_CHECKMULTISIGVERIFY,
  [OP.OP_NUMEQUAL]: OP.OP_NUMEQUALVERIFY,
};

function emit(n: MsNode, b: ScriptBuilder): void {
  switch (n.frag) {
    case 'just_0':
      b.op(OP.OP_0);
      return;
    case 'just_1':
      b.op(OP.OP_1);
      return;
    case 'pk_k':
      b.push(n.keys[0]);
      return;
    case 'pk_h':
      b.op(OP.OP_DUP).op(OP.OP_HASH160).push(pkhHash(n)).op(OP.OP_EQUALVERIFY);
      return;
    case 'older':
      b.num(n.k).op(OP.OP_CHECKSEQUENCEVERIFY);
      return;
    case 'after':
      b.num(n.k).op(OP.OP_CHECKLOCKTIMEVERIFY);
      return;
    case 'sha256':
    case 'hash256':
    case 'ripemd160':
    case 'hash160': {
      const op = {
        sha256: OP.OP_SHA256,
        hash256: OP.OP_HASH256,
        ripemd160: OP.OP_RIPEMD160,
        hash160: OP.OP_HASH160,
      }[n.frag];
      b.op(OP.OP_SIZE)
        .num(32)
        .op(OP.OP_EQUALVERIFY)
        .op(op)
        .push(n.data as Uint8Array)
        .op(OP.OP_EQUAL);
      return;
    }
    case 'multi':
      b.num(n.k);
      for (const k of n.keys) b.push(k);
      b.num(n.keys.length).op(OP.OP_CHECKMULTISIG);
      return;
    case 'multi_a':
      n.keys.forEach((k, i) => {
        b.push(k).op(i === 0 ? OP.OP_CHECKSIG : OP.OP_CHECKSIGADD);
      });
      b.num(n.k).op(OP.OP_NUMEQUAL);
      return;
    case 'a':
      b.op(OP.OP_TOALTSTACK);
      emit(n.subs[0], b);
      b.op(OP.OP_FROMALTSTACK);
      return;
    case 's':
      b.op(OP.OP_SWAP);
      emit(n.subs[0], b);
      return;
    case 'c':
      emit(n.subs[0], b);
      b.op(OP.OP_CHECKSIG);
      return;
    case 'd':
      b.op(OP.OP_DUP).op(OP.OP_IF);
      emit(n.subs[0], b);
      b.op(OP.OP_ENDIF);
      return;
    case 'v': {
      emit(n.subs[0], b);
      const last = b.last;
      if (last !== undefined && VERIFY_FORM[last] !== undefined) b.replaceLast(VERIFY_FORM[last]);
      else b.op(OP.OP_VERIFY);
      return;
    }
    case 'j':
      b.op(OP.OP_SIZE).op(OP.OP_0NOTEQUAL).op(OP.OP_IF);
      emit(n.subs[0], b);
      b.op(OP.OP_ENDIF);
      return;
    case 'n':
      emit(n.subs[0], b);
      b.op(OP.OP_0NOTEQUAL);
      return;
    case 'and_v':
      emit(n.subs[0], b);
      emit(n.subs[1], b);
      return;
    case 'and_b':
      emit(n.subs[0], b);
      emit(n.subs[1], b);
      b.op(OP.OP_BOOLAND);
      return;
    case 'or_b':
      emit(n.subs[0], b);
      emit(n.subs[1], b);
      b.op(OP.OP_BOOLOR);
      return;
    case 'or_c':
      emit(n.subs[0], b);
      b.op(OP.OP_NOTIF);
      emit(n.subs[1], b);
      b.op(OP.OP_ENDIF);
      return;
    case 'or_d':
      emit(n.subs[0], b);
      b.op(OP.OP_IFDUP).op(OP.OP_NOTIF);
      emit(n.subs[1], b);
      b.op(OP.OP_ENDIF);
      return;
    case 'or_i':
      b.op(OP.OP_IF);
      emit(n.subs[0], b);
      b.op(OP.OP_ELSE);
      emit(n.subs[1], b);
      b.op(OP.OP_ENDIF);
      return;
    case 'andor':
      emit(n.subs[0], b);
      b.op(OP.OP_NOTIF);
      emit(n.subs[2], b);
      b.op(OP.OP_ELSE);
      emit(n.subs[1], b);
      b.op(OP.OP_ENDIF);
      return;
    case 'thresh':
      n.subs.forEach((s, i) => {
        emit(s, b);
        if (i > 0) b.op(OP.OP_ADD);
      });
      b.num(n.k).op(OP.OP_EQUAL);
      return;
  }
}

/** Compiles a miniscript node to its script. */
export function compileMiniscript(node: MsNode): Uint8Array {
  const b = new ScriptBuilder();
  emit(node, b);
  return b.bytes();
}
