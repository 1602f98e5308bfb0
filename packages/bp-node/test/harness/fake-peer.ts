import { createServer, type Server, type Socket } from 'node:net';
import { fromHex } from '@lnpbp/bitcoin/bytes/hex';
import { ByteWriter } from '@lnpbp/bitcoin/bytes/writer';
import { sha256d } from '@lnpbp/bitcoin/hash/index';
import { headerHash } from '../../src/source/block-check.ts';
import { checkPow } from '../../src/source/p2p/header-chain.ts';
import { encodeVersion } from '../../src/source/p2p/messages.ts';
import { P2P_PARAMS } from '../../src/source/p2p/params.ts';
import { encodeMessage, MessageDecoder } from '../../src/source/p2p/wire.ts';

/**
 * Scripted P2P peers for fault tests: a TCP server on 127.0.0.1 that hands each connection,
 * numbered from 0, to a behaviour.
 */
export interface FakePeer {
  port: number;
  readonly connections: number;
  close(): Promise<void>;
}

export const REGTEST_MAGIC = P2P_PARAMS.regtest.magic;

export async function fakePeer(behaviour: (sock: Socket, index: number) => void): Promise<FakePeer> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    behaviour(sock, connections++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function send(sock: Socket, command: string, payload?: Uint8Array): void {
  if (!sock.destroyed) sock.write(encodeMessage(REGTEST_MAGIC, command, payload));
}

/** Reads framed messages from the client and hands each to `onMessage`. */
export function onMessages(sock: Socket, onMessage: (command: string, payload: Uint8Array) => void): void {
  const dec = new MessageDecoder(REGTEST_MAGIC);
  sock.on('data', (chunk: Buffer) => {
    for (const m of dec.push(chunk)) onMessage(m.command, m.payload);
  });
}

/** An honest-looking handshake: our version (NODE_NETWORK|NODE_WITNESS, 70015), then verack. */
export function handshake(sock: Socket): void {
  send(
    sock,
    'version',
    encodeVersion(
      {
        version: 70015,
        services: 9n,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        nonce: 1n,
        userAgent: '/fake:0/',
        startHeight: 1,
        relay: true,
      },
      { host: '127.0.0.1', port: 0 },
    ),
  );
  send(sock, 'verack');
}

/** A valid regtest block 1 on top of genesis: one coinbase paying OP_TRUE, header mined. */
export function regtestBlock1(): { hash: Uint8Array; header: Uint8Array; raw: Uint8Array } {
  const genesis = fromHex(P2P_PARAMS.regtest.genesisHeader);
  const tx = new ByteWriter()
    .u32le(1)
    .u8(1)
    .bytes(new Uint8Array(32))
    .u32le(0xffffffff)
    .varBytes(Uint8Array.of(1, 1))
    .u32le(0xffffffff)
    .u8(1)
    .u64le(5_000_000_000n)
    .varBytes(Uint8Array.of(0x51))
    .u32le(0)
    .finish()
    .slice();
  const merkle = sha256d(tx);
  for (let nonce = 0; ; nonce++) {
    const header = new ByteWriter(80)
      .u32le(0x20000000)
      .bytes(headerHash(genesis))
      .bytes(merkle)
      .u32le(1296688602 + 600)
      .u32le(0x207fffff)
      .u32le(nonce)
      .finish()
      .slice();
    const hash = headerHash(header);
    if (checkPow(hash, 0x207fffff)) {
      const raw = new ByteWriter().bytes(header).u8(1).bytes(tx).finish().slice();
      return { hash, header, raw };
    }
  }
}
