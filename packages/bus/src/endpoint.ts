import { join } from 'node:path';
import { BusError } from './errors.ts';

/**
 * Endpoints. `ipc://` (a Unix socket path, protected by the datadir's file permissions) is the
 * default; `tcp://` is opt-in and always carries CurveZMQ; `inproc://` is for `--threaded`
 * setups inside one process.
 */
export type Transport = 'ipc' | 'tcp' | 'inproc';

export interface Endpoint {
  readonly transport: Transport;
  readonly url: string;
}

/** Linux's sun_path is 108 bytes including the terminating NUL. */
const MAX_IPC_PATH = 107;

export function parseEndpoint(url: string): Endpoint {
  const m = /^(ipc|tcp|inproc):\/\/(.+)$/.exec(url);
  if (!m) throw new BusError('bad-endpoint', `${url}: expected ipc://PATH, tcp://HOST:PORT or inproc://NAME`);
  const transport = m[1] as Transport;
  const rest = m[2];
  if (transport === 'ipc' && Buffer.byteLength(rest) > MAX_IPC_PATH) {
    throw new BusError(
      'bad-endpoint',
      `${url}: ipc path longer than ${MAX_IPC_PATH} bytes (use a shorter datadir)`,
    );
  }
  if (transport === 'tcp' && !/^(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5}|\*)$/.test(rest)) {
    throw new BusError('bad-endpoint', `${url}: expected tcp://HOST:PORT`);
  }
  return { transport, url };
}

/** Needs CurveZMQ: anything that can be reached from another host. */
export function isNetworked(ep: Endpoint): boolean {
  return ep.transport === 'tcp';
}

/** The default endpoint of a service: `ipc://<datadir>/<service>.<kind>.sock`. */
export function defaultEndpoint(datadir: string, service: string, kind: 'rpc' | 'pub'): string {
  return `ipc://${join(datadir, `${service}.${kind}.sock`)}`;
}
