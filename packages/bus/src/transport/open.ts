import { NativeSocket, nativeTransport } from './native.ts';
import type { MessageSocket, SocketOptions } from './socket.ts';
import { ZmqjsSocket } from './zmqjs.ts';
import { ZmtpSocket, zmtpServes } from './zmtp.ts';

/** The transports over libzmq: our addon, or zeromq.js's promise per message. */
export type LibzmqTransport = 'native' | 'zeromq.js';
/** zmtp: ZeroMQ's wire protocol spoken by this process itself, for ipc endpoints (zmtp.ts). */
export type TransportName = 'zmtp' | LibzmqTransport;

/**
 * The process's choice. By default ipc endpoints use zmtp and everything else (tcp with Curve,
 * inproc) the native addon when it is built (npm install builds it), else zeromq.js.
 * LNPBP_BUS_TRANSPORT=native or =zeromq.js puts every socket on that libzmq transport (to
 * compare, or to rule ours out); =native makes a missing addon an error instead of a fallback.
 */
function choose(): { ipc: TransportName; libzmq: LibzmqTransport } {
  const asked = process.env.LNPBP_BUS_TRANSPORT;
  const libzmq: LibzmqTransport = nativeTransport.available ? 'native' : 'zeromq.js';
  if (asked === undefined || asked === '' || asked === 'zmtp') return { ipc: 'zmtp', libzmq };
  if (asked === 'zeromq.js' || asked === 'zeromq') return { ipc: 'zeromq.js', libzmq: 'zeromq.js' };
  if (asked === 'native') {
    if (!nativeTransport.available)
      throw new Error(
        `LNPBP_BUS_TRANSPORT=native, but the native transport is unavailable: ${nativeTransport.why}`,
      );
    return { ipc: 'native', libzmq: 'native' };
  }
  throw new Error(`LNPBP_BUS_TRANSPORT=${asked}: expected zmtp, native or zeromq.js`);
}

const chosen = choose();

/**
 * The transport a socket for `urls` gets: zmtp when every url is an ipc path and the socket has
 * no Curve (ipc is guarded by the datadir's file permissions), else the libzmq transport.
 */
export function transportFor(urls: readonly string[], options?: SocketOptions): TransportName {
  const curve = options?.curveServer || options?.curveServerKey !== undefined;
  if (chosen.ipc === 'zmtp' && !curve && urls.length > 0 && urls.every(zmtpServes)) return 'zmtp';
  return chosen.libzmq;
}

/** Opens a message socket that will bind or connect to `urls`, on `transport` if given. */
export function openSocket(
  options: SocketOptions,
  urls: readonly string[],
  transport: TransportName = transportFor(urls, options),
): MessageSocket {
  if (transport === 'zmtp') return new ZmtpSocket(options);
  return transport === 'native' ? new NativeSocket(options) : new ZmqjsSocket(options);
}

/** The libzmq transport this process uses for what zmtp does not serve (and the ZAP handler). */
export function libzmqTransport(): LibzmqTransport {
  return chosen.libzmq;
}

/** What ipc endpoints use in this process (zmtp unless LNPBP_BUS_TRANSPORT says otherwise). */
export function ipcTransport(): TransportName {
  return chosen.ipc;
}
