import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { toHex } from '@lnpbp/bitcoin/bytes/hex';
import { decodeInv, encodeHeaders, MSG_WITNESS_BLOCK } from '../src/source/p2p/messages.ts';
import { P2PSource, type P2PSourceOptions } from '../src/source/p2p/source.ts';
import { encodeMessage } from '../src/source/p2p/wire.ts';
import type { SourceError } from '../src/source/types.ts';
import {
  type FakePeer,
  fakePeer,
  handshake,
  onMessages,
  REGTEST_MAGIC,
  regtestBlock1,
  send,
} from './harness/fake-peer.ts';
import { waitFor } from './harness/wait.ts';

/**
 * Hostile or broken peers: the source reports a clear error, backs off, reconnects, and never
 * hands on a bad block.
 */
const fast: Partial<P2PSourceOptions> = { backoffMinMs: 20, backoffMaxMs: 200, handshakeTimeoutMs: 400 };

async function runAgainst(peer: FakePeer, extra: Partial<P2PSourceOptions> = {}) {
  const src = new P2PSource({ host: '127.0.0.1', port: peer.port, network: 'regtest', ...fast, ...extra });
  const errors: SourceError[] = [];
  src.on('error', (e: SourceError) => errors.push(e));
  src.start().catch(() => {});
  return { src, errors };
}

describe('P2P source against bad peers', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });

  async function scenario(
    behaviour: (sock: import('node:net').Socket, i: number) => void,
    expect: RegExp,
    extra: Partial<P2PSourceOptions> = {},
  ) {
    const peer = await fakePeer(behaviour);
    const { src, errors } = await runAgainst(peer, extra);
    cleanup.push(async () => {
      await src.stop();
      await peer.close();
    });
    await waitFor(`error matching ${expect}`, () => errors.some((e) => expect.test(e.message)));
    // It backs off and comes back.
    await waitFor('reconnects', () => peer.connections >= 3);
    await src.stop();
    await peer.close();
    return errors;
  }

  test('garbage bytes: bad magic, disconnect, reconnect', async () => {
    const errors = await scenario(
      (sock) => sock.write(randomBytes(200)),
      /protocol: bad message framing: .*bad-magic/,
    );
    assert.ok(errors.every((e) => e.where.startsWith('p2p 127.0.0.1:')));
  });

  test('a truncated message then close', async () => {
    await scenario((sock) => {
      const header = Buffer.alloc(24);
      Buffer.from(REGTEST_MAGIC).copy(header, 0);
      header.write('version', 4, 'latin1');
      header.writeUInt32LE(100, 16);
      sock.end(Buffer.concat([header, randomBytes(50)]));
    }, /disconnected/);
  });

  test('a huge length field is refused before any allocation', async () => {
    await scenario((sock) => {
      const header = Buffer.alloc(24);
      Buffer.from(REGTEST_MAGIC).copy(header, 0);
      header.write('block', 4, 'latin1');
      header.writeUInt32LE(0xffffffff, 16);
      sock.write(header);
    }, /oversized \(4294967295 > 33554432\)/);
  });

  test('a bad checksum', async () => {
    await scenario((sock) => {
      const msg = Buffer.from(encodeMessage(REGTEST_MAGIC, 'ping', new Uint8Array(8)));
      msg[20] ^= 0xff;
      sock.write(msg);
    }, /bad-checksum/);
  });

  test('a peer that sends nothing: handshake timeout', async () => {
    await scenario(() => {}, /timeout: no handshake within 400 ms/);
  });

  test('a peer that goes silent after the handshake: idle timeout', async () => {
    await scenario(
      (sock) => {
        handshake(sock); // then never answers getheaders or pings
      },
      /timeout: peer silent for/,
      { idleTimeoutMs: 300, pingIntervalMs: 60_000 },
    );
  });

  test('bad blocks (corrupt bytes, wrong block) are never yielded; the good one is', async () => {
    const good = regtestBlock1();
    const corrupt = good.raw.slice();
    corrupt[corrupt.length - 6] = 0x05; // output script length now runs past the end
    const truncated = good.raw.slice(0, good.raw.length - 3);
    const wrong = good.raw.slice();
    wrong[79] ^= 1; // another nonce: another hash
    const tampered = good.raw.slice();
    tampered[tampered.length - 5] = 0x52; // frames fine, but the merkle root no longer matches
    const served = [corrupt, truncated, wrong, tampered, good.raw];
    const peer = await fakePeer((sock, i) => {
      handshake(sock);
      onMessages(sock, (command, payload) => {
        if (command === 'getheaders') send(sock, 'headers', encodeHeaders([good.header]));
        if (command === 'getdata') {
          const items = decodeInv(payload, 'getdata');
          if (items.some((it) => it.type === MSG_WITNESS_BLOCK))
            send(sock, 'block', served[Math.min(i, served.length - 1)]);
        }
      });
    });
    const { src, errors } = await runAgainst(peer, { blockTimeoutMs: 300, checkMerkleRoot: true });
    cleanup.push(async () => {
      await src.stop();
      await peer.close();
    });
    await waitFor('header sync', async () => (await src.getTip()).height === 1);
    const got: Uint8Array[] = [];
    for await (const blk of src.getBlocks(1, 1)) got.push(blk.raw);
    assert.equal(got.length, 1);
    assert.equal(toHex(got[0]), toHex(good.raw));
    const bad = errors.filter(
      (e) => e.code === 'bad-block' || /bad-block|stalled|none delivered/.test(e.message),
    );
    // corrupt and truncated fail framing, tampered the merkle root; the wrong block is
    // unsolicited (ignored) and the request then stalls, so the peer is dropped for a timeout.
    assert.ok(
      errors.filter((e) => /bad-block/.test(e.message)).length >= 3,
      errors.map((e) => e.message).join('\n'),
    );
    assert.ok(errors.some((e) => /merkle root/.test(e.message)));
    assert.ok(
      errors.some((e) => /none delivered/.test(e.message)),
      errors.map((e) => e.message).join('\n'),
    );
    assert.ok(bad.length >= 3);
    await src.stop();
    await peer.close();
  });

  test('headers with bad proof of work drop the peer', async () => {
    const good = regtestBlock1();
    const bad = good.header.slice();
    bad[75] = 0x03; // nBits exponent 3: a target below 2^24 that no mined-for-regtest hash meets
    await scenario((sock) => {
      handshake(sock);
      onMessages(sock, (command) => {
        if (command === 'getheaders') send(sock, 'headers', encodeHeaders([bad]));
      });
    }, /proof of work/);
  });
});
