/**
 * An independent brute-force scan for the pattern tests: bitcoinjs-lib parses the blocks and
 * decompiles scripts; the reveal rules and the script matchers here are written out by hand,
 * sharing no code with the indexer's shape table or the pattern compiler.
 */
import { Block as BjsBlock, script as bscript, opcodes } from 'bitcoinjs-lib';

export type Ctx = 'p2sh' | 'p2wsh' | 'tapscript' | 'scriptPubKey';

export interface Reveal {
  txid: string;
  vin: number;
  height: number;
  ctx: Ctx;
  script: Buffer;
  /** The spending input's scriptSig is non-empty (nested P2SH-P2WSH). */
  nested: boolean;
}

export interface ScannedOutput {
  txid: string;
  vout: number;
  height: number;
  script: string;
  value: bigint;
}

/** Every script the blocks reveal, by hand-written rules over the blocks alone. */
export function bruteReveals(
  blocks: Uint8Array[],
  base: number,
): { reveals: Reveal[]; outputs: ScannedOutput[] } {
  const spkOf = new Map<string, Buffer>();
  const reveals: Reveal[] = [];
  const outputs: ScannedOutput[] = [];
  for (const [i, raw] of blocks.entries()) {
    const height = base + i;
    const b = BjsBlock.fromBuffer(Buffer.from(raw));
    for (const [pos, tx] of b.transactions!.entries()) {
      const txid = tx.getId();
      if (pos > 0) {
        for (const [vin, inp] of tx.ins.entries()) {
          const prev = spkOf.get(`${Buffer.from(inp.hash).reverse().toString('hex')}:${inp.index}`);
          const r = reveal(
            Buffer.from(inp.script),
            inp.witness.map((w) => Buffer.from(w)),
            prev,
          );
          if (r) reveals.push({ txid, vin, height, ...r });
        }
      }
      for (const [vout, out] of tx.outs.entries()) {
        spkOf.set(`${txid}:${vout}`, Buffer.from(out.script));
        outputs.push({
          txid,
          vout,
          height,
          script: Buffer.from(out.script).toString('hex'),
          value: BigInt(out.value),
        });
      }
    }
  }
  return { reveals, outputs };
}

function lastPush(scriptSig: Buffer): Buffer | null {
  const chunks = bscript.decompile(scriptSig);
  if (!chunks || chunks.length === 0) return null;
  const last = chunks[chunks.length - 1];
  return Buffer.isBuffer(last) ? last : null;
}

function reveal(
  scriptSig: Buffer,
  witness: Buffer[],
  prev: Buffer | undefined,
): { ctx: Ctx; script: Buffer; nested: boolean } | null {
  const isP2sh = (s: Buffer) => s.length === 23 && s[0] === 0xa9 && s[1] === 20 && s[22] === 0x87;
  const isP2wsh = (s: Buffer) => s.length === 34 && s[0] === 0 && s[1] === 32;
  const isP2tr = (s: Buffer) => s.length === 34 && s[0] === 0x51 && s[1] === 32;
  let w = witness;
  if (w.length >= 2 && w[w.length - 1].length > 0 && w[w.length - 1][0] === 0x50) w = w.slice(0, -1);
  const tapLeaf = () => {
    if (w.length < 2) return null;
    const cb = w[w.length - 1];
    if ((cb[0] & 0xfe) !== 0xc0) return null;
    return { ctx: 'tapscript' as const, script: w[w.length - 2], nested: false };
  };
  if (prev) {
    if (isP2sh(prev)) {
      const rs = lastPush(scriptSig);
      if (!rs) return null;
      if (rs.length === 34 && rs[0] === 0 && rs[1] === 32) {
        return witness.length ? { ctx: 'p2wsh', script: witness[witness.length - 1], nested: true } : null;
      }
      if (rs.length === 22 && rs[0] === 0 && rs[1] === 20) return null;
      return { ctx: 'p2sh', script: rs, nested: false };
    }
    if (isP2wsh(prev))
      return witness.length ? { ctx: 'p2wsh', script: witness[witness.length - 1], nested: false } : null;
    if (isP2tr(prev)) return tapLeaf();
    return null;
  }
  // Unknown prevout: what wallets produce.
  if (scriptSig.length === 0) {
    if (witness.length === 0) return null;
    if (witness.length === 2 && witness[1].length === 33) return null; // P2WPKH
    if (w.length === 1) return null; // key path
    const last = w[w.length - 1];
    if ((last.length - 33) % 32 === 0 && last.length >= 33 && ((last[0] & 0xfe) === 0xc0 || last[0] >= 0xbb))
      return tapLeaf();
    return { ctx: 'p2wsh', script: witness[witness.length - 1], nested: false };
  }
  const rs = lastPush(scriptSig);
  if (!rs) return null;
  const pushes = bscript.decompile(scriptSig) ?? [];
  const sigLike = (c: unknown) =>
    Buffer.isBuffer(c) && (c.length === 0 || (c[0] === 0x30 && c.length >= 9 && c.length <= 73));
  if (witness.length === 0) {
    // P2PKH [sig, pubkey], P2PK [sig] and bare multisig [0, sig...] reveal no script.
    if (pushes.length === 2 && sigLike(pushes[0]) && (rs.length === 33 || rs.length === 65)) return null;
    if (pushes.length === 1 && sigLike(rs)) return null;
    if (
      pushes.length >= 2 &&
      (pushes[0] === 0 || (Buffer.isBuffer(pushes[0]) && pushes[0].length === 0)) &&
      pushes.slice(1).every(sigLike)
    )
      return null;
  }
  if (witness.length) {
    if (rs.length === 34 && rs[0] === 0 && rs[1] === 32)
      return { ctx: 'p2wsh', script: witness[witness.length - 1], nested: true };
    return null;
  }
  return { ctx: 'p2sh', script: rs, nested: false };
}

type Chunk = number | Buffer;

/** Script chunks, or null when it does not decompile. */
export function chunks(s: Buffer): Chunk[] | null {
  return bscript.decompile(s) as Chunk[] | null;
}

export const isKey = (c: Chunk | undefined): c is Buffer =>
  Buffer.isBuffer(c) && c.length === 33 && (c[0] === 2 || c[0] === 3);

/** A minimal script number: OP_1..OP_16 or a minimal push of 1-5 bytes. */
export function num(c: Chunk | undefined): number | null {
  if (typeof c === 'number') {
    if (c >= opcodes.OP_1 && c <= opcodes.OP_16) return c - opcodes.OP_1 + 1;
    return null;
  }
  if (!Buffer.isBuffer(c) || c.length === 0 || c.length > 5) return null;
  try {
    return bscript.number.decode(c, 5, true);
  } catch {
    return null;
  }
}

/** m-of-n CHECKMULTISIG of compressed keys: the keys, else null. */
export function multisig(s: Buffer, m: number, n: number): string[] | null {
  const c = chunks(s);
  if (!c || c.length !== n + 3) return null;
  if (
    c[0] !== opcodes.OP_1 + m - 1 ||
    c[n + 1] !== opcodes.OP_1 + n - 1 ||
    c[n + 2] !== opcodes.OP_CHECKMULTISIG
  )
    return null;
  const keys = c.slice(1, n + 1);
  return keys.every(isKey) ? keys.map((k) => (k as Buffer).toString('hex')) : null;
}

/** `<A> CHECKSIG IFDUP NOTIF <n> CSV ENDIF` (or_d(pk(A),older(n))): A and n, else null. */
export function orDPkOlder(s: Buffer): { A: string; n: number } | null {
  const c = chunks(s);
  if (c?.length !== 7) return null;
  const n = num(c[4]);
  if (
    !isKey(c[0]) ||
    c[1] !== opcodes.OP_CHECKSIG ||
    c[2] !== opcodes.OP_IFDUP ||
    c[3] !== opcodes.OP_NOTIF ||
    n === null ||
    n < 1 ||
    c[5] !== opcodes.OP_CHECKSEQUENCEVERIFY ||
    c[6] !== opcodes.OP_ENDIF
  )
    return null;
  return { A: c[0].toString('hex'), n };
}

/** `<A> CHECKSIGVERIFY <n> CSV` (and_v(v:pk(A),older(n))). */
export function andVPkOlder(s: Buffer): { A: string; n: number } | null {
  const c = chunks(s);
  if (c?.length !== 4) return null;
  const n = num(c[2]);
  if (
    !isKey(c[0]) ||
    c[1] !== opcodes.OP_CHECKSIGVERIFY ||
    n === null ||
    n < 1 ||
    c[3] !== opcodes.OP_CHECKSEQUENCEVERIFY
  )
    return null;
  return { A: c[0].toString('hex'), n };
}

/** BOLT-3 to_local: IF <rev> ELSE <delay> CSV DROP <delayed> ENDIF CHECKSIG. */
export function toLocal(
  s: Buffer,
): { revocationpubkey: string; to_self_delay: number; local_delayedpubkey: string } | null {
  const c = chunks(s);
  if (c?.length !== 9) return null;
  const d = num(c[3]);
  if (
    c[0] !== opcodes.OP_IF ||
    !isKey(c[1]) ||
    c[2] !== opcodes.OP_ELSE ||
    d === null ||
    c[4] !== opcodes.OP_CHECKSEQUENCEVERIFY ||
    c[5] !== opcodes.OP_DROP ||
    !isKey(c[6]) ||
    c[7] !== opcodes.OP_ENDIF ||
    c[8] !== opcodes.OP_CHECKSIG
  )
    return null;
  return {
    revocationpubkey: c[1].toString('hex'),
    to_self_delay: d,
    local_delayedpubkey: c[6].toString('hex'),
  };
}

/**
 * BOLT-3 offered HTLC (no anchors), written from the BOLT's text:
 * DUP HASH160 <RIPEMD160(SHA256(revocationpubkey))> EQUAL IF CHECKSIG ELSE <remote_htlcpubkey>
 * SWAP SIZE 32 EQUAL NOTIF DROP 2 SWAP <local_htlcpubkey> 2 CHECKMULTISIG ELSE HASH160
 * <RIPEMD160(payment_hash)> EQUALVERIFY CHECKSIG ENDIF ENDIF
 */
export function offeredHtlc(
  s: Buffer,
): { revocation_hash: string; remote: string; local: string; payment: string } | null {
  const c = chunks(s);
  const O = opcodes;
  if (c?.length !== 26) return null;
  const want: (number | 'h20' | 'key' | 'n32')[] = [
    O.OP_DUP,
    O.OP_HASH160,
    'h20',
    O.OP_EQUAL,
    O.OP_IF,
    O.OP_CHECKSIG,
    O.OP_ELSE,
    'key',
    O.OP_SWAP,
    O.OP_SIZE,
    'n32',
    O.OP_EQUAL,
    O.OP_NOTIF,
    O.OP_DROP,
    O.OP_2,
    O.OP_SWAP,
    'key',
    O.OP_2,
    O.OP_CHECKMULTISIG,
    O.OP_ELSE,
    O.OP_HASH160,
    'h20',
    O.OP_EQUALVERIFY,
    O.OP_CHECKSIG,
    O.OP_ENDIF,
    O.OP_ENDIF,
  ];
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const x = c[i];
    if (w === 'h20') {
      if (!Buffer.isBuffer(x) || x.length !== 20) return null;
    } else if (w === 'key') {
      if (!isKey(x)) return null;
    } else if (w === 'n32') {
      if (num(x) !== 32) return null;
    } else if (x !== w) return null;
  }
  const h = (i: number) => (c[i] as Buffer).toString('hex');
  return { revocation_hash: h(2), remote: h(7), local: h(16), payment: h(21) };
}

/** Any OP_CHECKSEQUENCEVERIFY / OP_CHECKLOCKTIMEVERIFY opcode in the script. */
export function hasTimelock(s: Buffer): boolean {
  const c = chunks(s);
  return !!c && c.some((x) => x === opcodes.OP_CHECKSEQUENCEVERIFY || x === opcodes.OP_CHECKLOCKTIMEVERIFY);
}
