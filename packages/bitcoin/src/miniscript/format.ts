/** Miniscript AST -> text in Bitcoin Core's canonical spelling (sugar re-applied). */
import { hex } from '@scure/base';
import type { MsNode } from './node.ts';

export interface LeafFormatter {
  key(key: Uint8Array, node: MsNode, index: number): string;
  /** pk_h lifted from script carries only the key hash. */
  keyHash(hash: Uint8Array, node: MsNode): string;
  hash(hash: Uint8Array, node: MsNode): string;
  num(n: number, node: MsNode): string;
}

export const hexFormatter: LeafFormatter = {
  key: (k) => hex.encode(k),
  keyHash: (h) => hex.encode(h),
  hash: (h) => hex.encode(h),
  num: (n) => String(n),
};

function inner(n: MsNode, f: LeafFormatter, wrapped: boolean): string {
  const colon = wrapped ? ':' : '';
  switch (n.frag) {
    case 'a':
    case 's':
    case 'd':
    case 'v':
    case 'j':
    case 'n':
      return n.frag + inner(n.subs[0], f, true);
    case 'c': {
      const s = n.subs[0];
      if (s.frag === 'pk_k') return `${colon}pk(${f.key(s.keys[0], s, 0)})`;
      if (s.frag === 'pk_h') return `${colon}pkh(${pkhArg(s, f)})`;
      return `c${inner(s, f, true)}`;
    }
    case 'and_v':
      if (n.subs[1].frag === 'just_1') return `t${inner(n.subs[0], f, true)}`;
      break;
    case 'or_i':
      if (n.subs[0].frag === 'just_0') return `l${inner(n.subs[1], f, true)}`;
      if (n.subs[1].frag === 'just_0') return `u${inner(n.subs[0], f, true)}`;
      break;
    default:
      break;
  }
  const sub = (i: number) => inner(n.subs[i], f, false);
  switch (n.frag) {
    case 'just_0':
      return `${colon}0`;
    case 'just_1':
      return `${colon}1`;
    case 'pk_k':
      return `${colon}pk_k(${f.key(n.keys[0], n, 0)})`;
    case 'pk_h':
      return `${colon}pk_h(${pkhArg(n, f)})`;
    case 'older':
    case 'after':
      return `${colon}${n.frag}(${f.num(n.k, n)})`;
    case 'sha256':
    case 'hash256':
    case 'ripemd160':
    case 'hash160':
      return `${colon}${n.frag}(${f.hash(n.data as Uint8Array, n)})`;
    case 'multi':
    case 'multi_a':
      return `${colon}${n.frag}(${n.k},${n.keys.map((k, i) => f.key(k, n, i)).join(',')})`;
    case 'andor':
      if (n.subs[2].frag === 'just_0') return `${colon}and_n(${sub(0)},${sub(1)})`;
      return `${colon}andor(${sub(0)},${sub(1)},${sub(2)})`;
    case 'thresh':
      return `${colon}thresh(${n.k},${n.subs.map((_, i) => sub(i)).join(',')})`;
    default:
      return `${colon}${n.frag}(${n.subs.map((_, i) => sub(i)).join(',')})`;
  }
}

function pkhArg(n: MsNode, f: LeafFormatter): string {
  return n.keys.length ? f.key(n.keys[0], n, 0) : f.keyHash(n.data as Uint8Array, n);
}

export function formatMiniscript(node: MsNode, f: LeafFormatter = hexFormatter): string {
  return inner(node, f, false);
}
