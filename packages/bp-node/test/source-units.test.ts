import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromHex, toHexReversed } from '@lnpbp/bitcoin/bytes/hex';
import { ByteWriter } from '@lnpbp/bitcoin/bytes/writer';
import { headerHash } from '../src/source/block-check.ts';
import { checkPow, HeaderChain, UnconnectedHeaders } from '../src/source/p2p/header-chain.ts';
import { P2P_PARAMS } from '../src/source/p2p/params.ts';
import { encodeMessage, MessageDecoder } from '../src/source/p2p/wire.ts';
import { cookiePath } from '../src/source/rpc/cookie.ts';
import { parseSourceUrl } from '../src/source/url.ts';

describe('chain source units', () => {
  test('genesis headers hash to the published genesis block hashes', () => {
    const want = {
      mainnet: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
      testnet: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
      testnet4: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
      signet: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
      regtest: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    };
    for (const [net, hash] of Object.entries(want)) {
      assert.equal(
        toHexReversed(headerHash(fromHex(P2P_PARAMS[net as keyof typeof want].genesisHeader))),
        hash,
        net,
      );
    }
  });

  test('message decoder: byte-at-a-time and many-per-chunk give the same messages', () => {
    const magic = P2P_PARAMS.regtest.magic;
    const a = encodeMessage(magic, 'ping', new Uint8Array(8).fill(7));
    const b = encodeMessage(magic, 'verack');
    const all = new Uint8Array([...a, ...b, ...a]);
    const d1 = new MessageDecoder(magic);
    const one = [...all].flatMap((x) => d1.push(Uint8Array.of(x)));
    const d2 = new MessageDecoder(magic);
    const many = d2.push(all);
    assert.deepEqual(
      one.map((m) => m.command),
      ['ping', 'verack', 'ping'],
    );
    assert.deepEqual(one, many);
    assert.equal(d1.partial, 0);
  });

  test('source URLs', () => {
    assert.deepEqual(parseSourceUrl('p2p://127.0.0.1:18444', 'regtest'), {
      kind: 'p2p',
      host: '127.0.0.1',
      port: 18444,
    });
    assert.deepEqual(parseSourceUrl('p2p://node.example', 'mainnet'), {
      kind: 'p2p',
      host: 'node.example',
      port: 8333,
    });
    assert.deepEqual(parseSourceUrl('rpc://alice:p%40ss@10.0.0.2:8332?zmq=tcp://10.0.0.2:28332', 'mainnet'), {
      kind: 'rpc',
      host: '10.0.0.2',
      port: 8332,
      user: 'alice',
      pass: 'p@ss',
      zmq: ['tcp://10.0.0.2:28332'],
    });
    assert.deepEqual(parseSourceUrl('rpc://localhost', 'regtest'), {
      kind: 'rpc',
      host: 'localhost',
      port: 18443,
      zmq: [],
    });
    assert.deepEqual(parseSourceUrl('blocks:/data/bitcoin/blocks', 'mainnet'), {
      kind: 'blocks',
      dir: '/data/bitcoin/blocks',
    });
    assert.throws(() => parseSourceUrl('http://x', 'mainnet'), /unknown scheme/);
    assert.throws(() => parseSourceUrl('rpc://x?foo=1', 'mainnet'), /unknown parameter foo/);
    assert.throws(() => parseSourceUrl('rpc://x?zmq=udp://y', 'mainnet'), /zmq endpoint/);
    assert.throws(() => parseSourceUrl('nonsense', 'mainnet'), /is not p2p/);
  });

  test('cookie paths follow Core per-network subfolders', () => {
    assert.equal(cookiePath('/b', 'mainnet'), '/b/.cookie');
    assert.equal(cookiePath('/b', 'testnet'), '/b/testnet3/.cookie');
    assert.equal(cookiePath('/b', 'testnet4'), '/b/testnet4/.cookie');
    assert.equal(cookiePath('/b', 'signet'), '/b/signet/.cookie');
    assert.equal(cookiePath('/b', 'regtest'), '/b/regtest/.cookie');
  });

  test('header chain: longest-work branch wins, ties keep the first, locator ends at genesis', () => {
    const chain = new HeaderChain(P2P_PARAMS.regtest.genesisHeader);
    const genesis = chain.tipHash;
    const a = mineChain(genesis, 5, 1);
    assert.deepEqual(chain.add(a), { changed: true, forkHeight: 1 });
    assert.equal(chain.height, 5);
    // A competing branch from height 2 of equal length: no switch.
    const b = mineChain(headerHash(a[1]), 3, 2);
    assert.equal(chain.add(b).changed, false);
    assert.equal(toHexReversed(chain.tipHash), toHexReversed(headerHash(a[4])));
    // One more on it: more work, reorg from height 3.
    const b4 = mineChain(headerHash(b[2]), 1, 3);
    assert.deepEqual(chain.add(b4), { changed: true, forkHeight: 3 });
    assert.equal(chain.height, 6);
    assert.equal(toHexReversed(chain.hashAt(3) as Uint8Array), toHexReversed(headerHash(b[0])));
    // And back: the old branch extended by two.
    const a2 = mineChain(headerHash(a[4]), 2, 4);
    assert.deepEqual(chain.add(a2), { changed: true, forkHeight: 3 });
    assert.equal(chain.height, 7);
    assert.equal(toHexReversed(chain.hashAt(3) as Uint8Array), toHexReversed(headerHash(a[2])));
    const loc = chain.locator();
    assert.equal(toHexReversed(loc[loc.length - 1]), toHexReversed(genesis));
    assert.throws(() => chain.add(mineChain(new Uint8Array(32).fill(9), 1, 5)), UnconnectedHeaders);
  });
});

/** n regtest headers on `prev`, with `salt` in the merkle field so branches differ. */
function mineChain(prev: Uint8Array, n: number, salt: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    for (let nonce = 0; ; nonce++) {
      const h = new ByteWriter(80)
        .u32le(0x20000000)
        .bytes(prev)
        .bytes(new Uint8Array(32).fill(salt))
        .u32le(1_300_000_000 + i)
        .u32le(0x207fffff)
        .u32le(nonce)
        .finish()
        .slice();
      if (checkPow(headerHash(h), 0x207fffff)) {
        out.push(h);
        prev = headerHash(h);
        break;
      }
    }
  }
  return out;
}
