import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import fc from 'fast-check'

import {
  dh,
  nobleX25519,
  useX25519Backend,
  webCryptoX25519,
  x25519Backend,
} from '../../../lib/core/crypto/primitives'
import { DecryptError } from '../../../lib/core/crypto/errors'

const webCrypto = webCryptoX25519(globalThis.crypto.subtle as never)

describe('X25519 backends', () => {
  test('WebCrypto is chosen where the platform has X25519 (Node 20 does)', async () => {
    assert.equal((await x25519Backend()).name, 'webcrypto')
  })

  test('noble and WebCrypto agree on every shared secret', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), async (nobleMakesKeys) => {
        const maker = nobleMakesKeys ? nobleX25519 : webCrypto
        const alice = await maker.generateKeyPair()
        const bob = await maker.generateKeyPair()

        const byNoble = await nobleX25519.sharedSecret(alice.secretKey, bob.publicKey)
        const byWebCrypto = await webCrypto.sharedSecret(alice.secretKey, bob.publicKey)
        const otherWay = await webCrypto.sharedSecret(bob.secretKey, alice.publicKey)

        assert.deepEqual(byWebCrypto, byNoble)
        assert.deepEqual(otherWay, byNoble)
      }),
      { numRuns: 30 },
    )
  })

  test('a WebCrypto key pair has the public key noble derives from its secret', async () => {
    const pair = await webCrypto.generateKeyPair()
    const noble = await nobleX25519.sharedSecret(
      pair.secretKey,
      (await nobleX25519.generateKeyPair()).publicKey,
    )

    assert.equal(pair.secretKey.length, 32)
    assert.equal(noble.length, 32)
    const { x25519 } = await import('@noble/curves/ed25519.js')
    assert.deepEqual(x25519.getPublicKey(pair.secretKey), pair.publicKey)
  })

  for (const backend of [nobleX25519, webCrypto]) {
    test(`${backend.name}: a low-order public key fails as a decryption error`, async () => {
      useX25519Backend(backend)
      const ours = await backend.generateKeyPair()

      await assert.rejects(() => dh(ours.secretKey, new Uint8Array(32)), DecryptError)
      useX25519Backend(webCrypto)
    })
  }
})
