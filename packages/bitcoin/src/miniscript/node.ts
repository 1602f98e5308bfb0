/**
 * Miniscript AST in its desugared form (as Bitcoin Core keeps it): pk(K) is c:pk_k(K),
 * pkh(K) is c:pk_h(K), and_n(X,Y) is andor(X,Y,0), t:X is and_v(X,1), l:X is or_i(0,X),
 * u:X is or_i(X,0). Script compiled from a node, and the node lifted from that script, agree.
 */
export type Fragment =
  | 'just_0'
  | 'just_1'
  | 'pk_k'
  | 'pk_h'
  | 'older'
  | 'after'
  | 'sha256'
  | 'hash256'
  | 'ripemd160'
  | 'hash160'
  | 'multi'
  | 'multi_a'
  | 'a'
  | 's'
  | 'c'
  | 'd'
  | 'v'
  | 'j'
  | 'n'
  | 'and_v'
  | 'and_b'
  | 'or_b'
  | 'or_c'
  | 'or_d'
  | 'or_i'
  | 'andor'
  | 'thresh';

/** Script context: P2WSH (segwit v0), tapscript (BIP-342), or legacy P2SH / bare. */
export type MsContext = 'p2wsh' | 'tapscript' | 'p2sh';

export interface MsNode {
  frag: Fragment;
  subs: MsNode[];
  /** Threshold for multi/multi_a/thresh; the lock value for older/after. */
  k: number;
  /** Keys for pk_k, pk_h (when the key is known), multi, multi_a. */
  keys: Uint8Array[];
  /** Hash for sha256/hash256/ripemd160/hash160, and pk_h's key hash when lifted from script. */
  data?: Uint8Array;
  /** Computed type (see types.ts). */
  type: number;
  /** Character offset of the fragment in the source text (parsed nodes only). */
  pos?: number;
}

export const WRAPPERS = new Set<Fragment>(['a', 's', 'c', 'd', 'v', 'j', 'n']);

export function isWrapper(f: Fragment): boolean {
  return WRAPPERS.has(f);
}
