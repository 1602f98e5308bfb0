/**
 * BOLT-3 witness scripts as pattern templates, so Lightning closes can be found on chain.
 * Named wildcards follow the BOLT's names. The anchors variants append `1 OP_CSV OP_DROP`.
 */
const OFFERED =
  'OP_DUP OP_HASH160 <hash20@revocation_hash> OP_EQUAL OP_IF OP_CHECKSIG OP_ELSE <pubkey@remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL OP_NOTIF OP_DROP 2 OP_SWAP <pubkey@local_htlcpubkey> 2 OP_CHECKMULTISIG OP_ELSE OP_HASH160 <hash20@payment_hash160> OP_EQUALVERIFY OP_CHECKSIG';
const RECEIVED =
  'OP_DUP OP_HASH160 <hash20@revocation_hash> OP_EQUAL OP_IF OP_CHECKSIG OP_ELSE <pubkey@remote_htlcpubkey> OP_SWAP OP_SIZE 32 OP_EQUAL OP_IF OP_HASH160 <hash20@payment_hash160> OP_EQUALVERIFY 2 OP_SWAP <pubkey@local_htlcpubkey> 2 OP_CHECKMULTISIG OP_ELSE OP_DROP <num@cltv_expiry> OP_CHECKLOCKTIMEVERIFY OP_DROP OP_CHECKSIG';

export const BOLT3_TEMPLATES = {
  offered_htlc: `${OFFERED} OP_ENDIF OP_ENDIF`,
  offered_htlc_anchors: `${OFFERED} OP_ENDIF 1 OP_CHECKSEQUENCEVERIFY OP_DROP OP_ENDIF`,
  received_htlc: `${RECEIVED} OP_ENDIF OP_ENDIF`,
  received_htlc_anchors: `${RECEIVED} OP_ENDIF 1 OP_CHECKSEQUENCEVERIFY OP_DROP OP_ENDIF`,
  to_local:
    'OP_IF <pubkey@revocationpubkey> OP_ELSE <num@to_self_delay> OP_CHECKSEQUENCEVERIFY OP_DROP <pubkey@local_delayedpubkey> OP_ENDIF OP_CHECKSIG',
  /** Miniscript-shaped: or_d(pk(K),older(16)). */
  anchor: 'or_d(pk(@funding_pubkey),older(16))',
  /** Miniscript-shaped: and_v(v:pk(K),older(1)). */
  to_remote_anchors: 'and_v(v:pk(@remotepubkey),older(1))',
  funding: 'multi(2,@pubkey1,@pubkey2)',
} as const;
