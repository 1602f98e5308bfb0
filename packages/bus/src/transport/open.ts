import type { MessageSocket, SocketOptions } from './socket.ts';
import { ZmqjsSocket } from './zmqjs.ts';

/**
 * Opens a message socket on the transport this process uses (see socket.ts).
 * TODO(lead): the native transport is chosen here once transport/native.ts lands.
 */
export function openSocket(options: SocketOptions): MessageSocket {
  return new ZmqjsSocket(options);
}

/** Which implementation openSocket uses in this process. */
export function transportName(): 'native' | 'zeromq.js' {
  return 'zeromq.js';
}
