import { NativeSocket, nativeTransport } from './native.ts';
import type { MessageSocket, SocketOptions } from './socket.ts';
import { ZmqjsSocket } from './zmqjs.ts';

export type TransportName = 'native' | 'zeromq.js';

/**
 * The process's transport: the native addon when it is built (npm install builds it), else
 * zeromq.js. LNPBP_BUS_TRANSPORT=zeromq.js forces the fallback (to compare, or to rule the addon
 * out); LNPBP_BUS_TRANSPORT=native makes a missing addon an error instead of a fallback.
 */
function choose(): TransportName {
  const asked = process.env.LNPBP_BUS_TRANSPORT;
  if (asked === 'zeromq.js' || asked === 'zeromq') return 'zeromq.js';
  if (asked === 'native' && !nativeTransport.available)
    throw new Error(
      `LNPBP_BUS_TRANSPORT=native, but the native transport is unavailable: ${nativeTransport.why}`,
    );
  if (asked !== undefined && asked !== '' && asked !== 'native')
    throw new Error(`LNPBP_BUS_TRANSPORT=${asked}: expected native or zeromq.js`);
  return nativeTransport.available ? 'native' : 'zeromq.js';
}

const chosen = choose();

/** Opens a message socket on `transport` (default: the process's; see socket.ts). */
export function openSocket(options: SocketOptions, transport: TransportName = chosen): MessageSocket {
  return transport === 'native' ? new NativeSocket(options) : new ZmqjsSocket(options);
}

/** Which implementation openSocket uses in this process. */
export function transportName(): TransportName {
  return chosen;
}
