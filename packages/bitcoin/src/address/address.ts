import { DecodeError, ValueError } from '../errors.ts';
import { NETWORKS, type NetworkName } from '../network.ts';
import { classify } from '../script/classify.ts';
import { encodeSmallInt, OP } from '../script/opcodes.ts';
import { base58checkDecode, base58checkEncode } from './base58.ts';
import { decodeSegwit, encodeSegwit } from './bech32.ts';
import { AddressError } from './errors.ts';
import { ADDRESS_PARAMS, type AddressNetwork, type AddressParams, addressParams } from './networks.ts';

export type DecodedAddress =
  | { readonly type: 'p2pkh'; readonly hash: Uint8Array; readonly scriptPubKey: Uint8Array }
  | { readonly type: 'p2sh'; readonly hash: Uint8Array; readonly scriptPubKey: Uint8Array }
  | {
      readonly type: 'witness';
      readonly version: number;
      readonly program: Uint8Array;
      readonly scriptPubKey: Uint8Array;
    };

const BASE58_CHARS = /^[1-9A-HJ-NP-Za-km-z]+$/;
const KNOWN_HRPS = new Set(Object.values(ADDRESS_PARAMS).map((p) => p.hrp));
/** Longer than any valid address (bech32 tops out at 90 characters). */
const MAX_ADDRESS_LENGTH = 100;

function networksWith(pred: (p: AddressParams) => boolean): NetworkName[] {
  return NETWORKS.filter((n) => pred(ADDRESS_PARAMS[n]));
}

/**
 * Decodes an address for a network. Throws AddressError with reason wrong-network (valid on
 * another chain), bad-checksum, bad-length, bad-character, bad-version, bad-padding or bad-format.
 */
export function decodeAddress(addr: string, network: AddressNetwork): DecodedAddress {
  const params = addressParams(network);
  if (addr.length > MAX_ADDRESS_LENGTH) throw new AddressError('bad-length', `${addr.length} characters`);
  const lower = addr.toLowerCase();
  const sep = lower.lastIndexOf('1');
  const hrp = sep > 0 ? lower.slice(0, sep) : '';
  const bech = hrp !== '' && (hrp === params.hrp || KNOWN_HRPS.has(hrp));
  if (!bech && BASE58_CHARS.test(addr)) return decodeBase58Address(addr, params);
  if (sep <= 0) throw new AddressError('bad-format', 'neither base58 nor bech32');
  const d = decodeSegwit(addr);
  if (d.hrp !== params.hrp) {
    const others = networksWith((p) => p.hrp === d.hrp);
    if (others.length) throw new AddressError('wrong-network', `hrp "${d.hrp}" is for ${others.join('/')}`);
    throw new AddressError('bad-format', `unknown human-readable part "${d.hrp}"`);
  }
  return {
    type: 'witness',
    version: d.version,
    program: d.program,
    scriptPubKey: witnessProgramScript(d.version, d.program),
  };
}

function decodeBase58Address(addr: string, params: AddressParams): DecodedAddress {
  let payload: Uint8Array;
  try {
    payload = base58checkDecode(addr, 'address');
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new AddressError(
        e.code === 'bad-checksum' ? 'bad-checksum' : 'bad-length',
        e.detail ?? e.message,
        e.offset,
      );
    }
    throw e;
  }
  if (payload.length !== 21)
    throw new AddressError('bad-length', `base58 payload of ${payload.length} bytes (21 expected)`);
  const v = payload[0];
  const hash = payload.subarray(1);
  if (v === params.p2pkh) return { type: 'p2pkh', hash, scriptPubKey: p2pkhScript(hash) };
  if (v === params.p2sh) return { type: 'p2sh', hash, scriptPubKey: p2shScript(hash) };
  const others = networksWith((p) => p.p2pkh === v || p.p2sh === v);
  if (others.length)
    throw new AddressError('wrong-network', `version byte 0x${hex2(v)} is for ${others.join('/')}`);
  throw new AddressError('bad-version', `unknown version byte 0x${hex2(v)}`);
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

export function addressToScript(addr: string, network: AddressNetwork): Uint8Array {
  return decodeAddress(addr, network).scriptPubKey;
}

/**
 * The address of a scriptPubKey, or undefined for scripts without one (P2PK, bare multisig,
 * OP_RETURN, nonstandard, v0 programs of other lengths). Witness versions 1-16 (P2TR, P2A and
 * unknown) use bech32m.
 */
export function scriptToAddress(spk: Uint8Array, network: AddressNetwork): string | undefined {
  const params = addressParams(network);
  const c = classify(spk);
  switch (c.type) {
    case 'p2pkh':
      return base58checkEncode(prefixed(params.p2pkh, c.hash));
    case 'p2sh':
      return base58checkEncode(prefixed(params.p2sh, c.hash));
    case 'p2wpkh':
    case 'p2wsh':
      return encodeSegwit(params.hrp, 0, c.hash);
    case 'p2tr':
      return encodeSegwit(params.hrp, 1, c.outputKey);
    case 'anchor':
      return encodeSegwit(params.hrp, 1, spk.subarray(2));
    case 'witness_unknown':
      return encodeSegwit(params.hrp, c.version, c.program);
    default:
      return undefined;
  }
}

/** Built-in networks on which the address is valid (testnet, testnet4 and signet share encodings). */
export function addressNetworks(addr: string): NetworkName[] {
  return NETWORKS.filter((n) => {
    try {
      decodeAddress(addr, n);
      return true;
    } catch (e) {
      if (e instanceof DecodeError) return false;
      throw e;
    }
  });
}

function prefixed(v: number, hash: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + hash.length);
  out[0] = v;
  out.set(hash, 1);
  return out;
}

export function p2pkhScript(hash20: Uint8Array): Uint8Array {
  checkLen(hash20, 20, 'P2PKH hash');
  const s = new Uint8Array(25);
  s.set([OP.OP_DUP, OP.OP_HASH160, 20]);
  s.set(hash20, 3);
  s.set([OP.OP_EQUALVERIFY, OP.OP_CHECKSIG], 23);
  return s;
}

export function p2shScript(hash20: Uint8Array): Uint8Array {
  checkLen(hash20, 20, 'P2SH hash');
  const s = new Uint8Array(23);
  s.set([OP.OP_HASH160, 20]);
  s.set(hash20, 2);
  s[22] = OP.OP_EQUAL;
  return s;
}

/** OP_n <program>: the scriptPubKey of a witness program (version 0-16, 2-40 bytes). */
export function witnessProgramScript(version: number, program: Uint8Array): Uint8Array {
  if (program.length < 2 || program.length > 40) {
    throw new ValueError('witness program', `${program.length} bytes (2-40 allowed)`);
  }
  const s = new Uint8Array(2 + program.length);
  s[0] = encodeSmallInt(version);
  s[1] = program.length;
  s.set(program, 2);
  return s;
}

function checkLen(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new ValueError(what, `expected ${n} bytes, got ${b.length}`);
}
