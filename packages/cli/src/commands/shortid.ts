import { fromHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import {
  blockChecksum,
  describeShortId,
  encodeShortId,
  offchainInputId,
  offchainOutputId,
  offchainTxId,
  parseShortId,
  type ShortIdDescription,
  type ShortIdItem,
} from '@lnpbp/bitcoin/shortid/index';
import { CliError } from '../fail.ts';

export function shortidDecode(text: string): ShortIdDescription {
  return describeShortId(parseShortId(text));
}

function intArg(v: Record<string, unknown>, name: string): number | undefined {
  const s = v[name];
  if (s === undefined) return undefined;
  if (typeof s !== 'string' || !/^[0-9]{1,10}$/.test(s))
    throw new CliError(`--${name} must be a non-negative integer`);
  return Number(s);
}

function hashArg(v: Record<string, unknown>, name: string): Uint8Array {
  const s = v[name];
  if (typeof s !== 'string' || !/^[0-9a-fA-F]{64}$/.test(s))
    throw new CliError(`--${name} must be 64 hex digits`);
  return fromHexReversed(s, `--${name}`);
}

/** Builds an id from --height/--block-hash/--tx[/--input|--output], or --txid for off-chain ids. */
export function shortidEncode(v: Record<string, unknown>): ShortIdDescription {
  const input = intArg(v, 'input');
  const output = intArg(v, 'output');
  if (input !== undefined && output !== undefined) throw new CliError('give --input or --output, not both');
  if (v.txid !== undefined) {
    if (v.height !== undefined || v['block-hash'] !== undefined) {
      throw new CliError('--txid makes an off-chain id; it does not take --height or --block-hash');
    }
    const txid = hashArg(v, 'txid');
    const id =
      input !== undefined
        ? offchainInputId(txid, input)
        : output !== undefined
          ? offchainOutputId(txid, output)
          : offchainTxId(txid);
    return describeShortId(id);
  }
  const height = intArg(v, 'height');
  if (height === undefined) throw new CliError('shortid encode needs --height and --block-hash (or --txid)');
  const checksum = blockChecksum(hashArg(v, 'block-hash'));
  const position = intArg(v, 'tx');
  let item: ShortIdItem;
  if (position === undefined) {
    if (input !== undefined || output !== undefined) throw new CliError('--input/--output need --tx');
    item = { kind: 'block', height, checksum };
  } else if (input !== undefined) item = { kind: 'input', height, checksum, position, index: input };
  else if (output !== undefined) item = { kind: 'output', height, checksum, position, index: output };
  else item = { kind: 'tx', height, checksum, position };
  return describeShortId(encodeShortId(item));
}
