import type { Logger } from '../daemon/log.ts';
import { type LibzmqTransport, libzmqTransport, openSocket } from '../transport/open.ts';
import type { MessageSocket } from '../transport/socket.ts';
import { z85Encode } from './z85.ts';

/**
 * ZAP (ZeroMQ RFC 27) handler. zeromq.js v6 has no built-in authenticator: libzmq asks
 * whatever socket is bound to inproc://zeromq.zap.01 in the same context, so the handler's
 * socket comes from openSocket, the transport (and context) the Curve sockets use. One handler serves
 * the whole process; every Curve server socket gets its own ZAP domain, registered here with
 * the decision function for that socket. Servers also set ZMQ_ZAP_ENFORCE_DOMAIN, so if this
 * handler is not running libzmq refuses every client rather than letting them all in.
 */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapPolicy {
  /** Returns a name for the client (allowed) or undefined (refused). Key is Z85. */
  allow(publicKey: string): string | undefined;
  log: Logger;
}

export interface ZapStats {
  allowed: number;
  refused: number;
}

/**
 * One handler per transport in use: each has its own libzmq context (the native addon's, and
 * zeromq.js's), and libzmq asks the handler bound in the Curve socket's own context.
 */
interface Handler {
  socket: MessageSocket;
  /** Resolves once bound; every registration waits for it. */
  ready: Promise<void>;
  /** Bound and answering. */
  serving: boolean;
  /** Domains registered through this handler. */
  domains: Set<string>;
}
const handlers = new Map<LibzmqTransport, Handler>();
const domains = new Map<string, ZapPolicy & { stats: ZapStats }>();
let nextDomain = 1;

/**
 * Registers a policy with the ZAP handler of `transport` (default: the one openSocket uses, as
 * RPC servers do; zeromq.js for sockets made with zeromq.js directly); returns its domain (to
 * set as the socket's zapDomain) and a release.
 */
export async function registerZapDomain(
  policy: ZapPolicy,
  transport: LibzmqTransport = libzmqTransport(),
): Promise<{ domain: string; stats: ZapStats; release: () => void }> {
  const domain = `lnpbp-bus-${process.pid}-${nextDomain++}`;
  const stats: ZapStats = { allowed: 0, refused: 0 };
  domains.set(domain, { ...policy, stats });
  let h = handlers.get(transport);
  if (!h) {
    const s = openSocket({ type: 'router', linger: 0 }, [ZAP_ENDPOINT], transport);
    s.onMessage = (frames) => answer(s, frames);
    const handler: Handler = { socket: s, ready: Promise.resolve(), serving: false, domains: new Set() };
    handler.ready = (async () => {
      // A handler closed a moment ago may still hold the inproc name: retry briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          await s.bind(ZAP_ENDPOINT);
          if (handlers.get(transport) === handler) handler.serving = true;
          break;
        } catch (e) {
          if ((e as { code?: string }).code !== 'EADDRINUSE' || attempt >= 100) {
            if (handlers.get(transport) === handler) handlers.delete(transport);
            s.close();
            throw e;
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    })();
    handlers.set(transport, handler);
    h = handler;
  }
  h.domains.add(domain);
  const handler = h;
  try {
    await handler.ready;
  } catch (e) {
    domains.delete(domain);
    handler.domains.delete(domain);
    throw e;
  }
  let released = false;
  return {
    domain,
    stats,
    release: () => {
      if (released) return;
      released = true;
      domains.delete(domain);
      handler.domains.delete(domain);
      if (handler.domains.size === 0 && handlers.get(transport) === handler) {
        handler.socket.close();
        handlers.delete(transport);
        handler.serving = false;
      }
    },
  };
}

/** Answers one ZAP request (a malformed one gets no answer: libzmq then refuses the client). */
function answer(s: MessageSocket, frames: Buffer[]): void {
  // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...]
  if (frames.length < 8) return;
  const [rid, empty, version, requestId, domainF, addressF, , mechanismF, ...creds] = frames;
  const domain = domainF.toString();
  const address = addressF.toString();
  const mechanism = mechanismF.toString();
  const policy = domains.get(domain);
  let ok = false;
  let user = '';
  let why = 'unknown ZAP domain';
  if (version.toString() !== '1.0') why = 'bad ZAP version';
  else if (policy && mechanism !== 'CURVE') why = `mechanism ${mechanism} not allowed`;
  else if (policy && creds[0]?.length === 32) {
    const key = z85Encode(creds[0]);
    const name = policy.allow(key);
    if (name !== undefined) {
      ok = true;
      user = name;
      policy.stats.allowed++;
      policy.log.info('curve client allowed', { client: name, key, address });
    } else {
      why = 'client key not in allow-list';
      policy.stats.refused++;
      policy.log.warn('curve client refused', { key, address, reason: why });
    }
  }
  s.send([rid, empty, '1.0', requestId, ok ? '200' : '400', ok ? 'OK' : why, user, '']);
}

/** For tests: is the handler running? */
export function zapRunning(transport: LibzmqTransport = libzmqTransport()): boolean {
  return handlers.get(transport)?.serving === true;
}
