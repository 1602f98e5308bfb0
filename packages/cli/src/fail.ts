import { DecodeError, ValueError } from '@lnpbp/bitcoin/errors';

/** A usage or input error the CLI reports as one line with exit code 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** Prints one line for any error and exits 1; stack traces only with BP_DEBUG=1. */
export function fail(err: unknown): never {
  if (process.env.BP_DEBUG === '1' && err instanceof Error) console.error(err.stack);
  let msg: string;
  if (err instanceof DecodeError || err instanceof ValueError || err instanceof CliError) msg = err.message;
  else if (err instanceof Error) msg = `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
  else msg = String(err);
  process.stderr.write(`error: ${msg.split('\n')[0]}\n`);
  process.exit(1);
}
