/**
 * The measured part of the crypto benchmark; runs unchanged in Node and in
 * the browser (bundled by bench/crypto.ts), using lib/core only.
 */
import { deviceIdFromIdentityKey } from '../lib/core/device-id'
import { createDeviceKeys } from '../lib/core/crypto/keys'
import { x25519Backend } from '../lib/core/crypto/primitives'
import type { PrekeyBundle } from '../lib/core/crypto/pqxdh'
import {
  decrypt,
  encrypt,
  startSession,
  type SessionRecord,
} from '../lib/core/crypto/session'

export interface CryptoFigures {
  /** Which X25519 implementation ran: WebCrypto or noble. */
  x25519: string
  setupMs: { p50: number; mean: number }
  messageMs: { p50: number; mean: number }
  setupRuns: number
  messageRuns: number
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length

/**
 * Setup: Alice verifies Bob's bundle and runs PQXDH (X25519 ×4, ML-KEM
 * encapsulation), encrypts a first message; Bob decapsulates, derives the
 * same secret and decrypts it. Message: one 100-byte text encrypted by one
 * side and decrypted by the other on an established session.
 */
export async function runCryptoBench(
  setupRuns = 200,
  messageRuns = 2000,
): Promise<CryptoFigures> {
  const text = new TextEncoder().encode('x'.repeat(100))
  const setups: number[] = []
  let alice: SessionRecord | null = null
  let bob: SessionRecord | null = null
  let aliceKeys = (await createDeviceKeys(1)).keys
  let bobKeys = (await createDeviceKeys(1)).keys

  for (let run = 0; run < setupRuns + 20; run++) {
    aliceKeys = (await createDeviceKeys(1)).keys
    bobKeys = (await createDeviceKeys(1)).keys
    const bobId = deviceIdFromIdentityKey(bobKeys.identity.publicKey)
    const aliceId = deviceIdFromIdentityKey(aliceKeys.identity.publicKey)
    const spk = bobKeys.signedPrekeys[0]
    const kemKey = bobKeys.oneTimeKemPrekeys[0]
    const bundle: PrekeyBundle = {
      identityKey: bobKeys.identity.publicKey,
      signedPrekey: {
        keyId: spk.keyId,
        publicKey: spk.keyPair.publicKey,
        signature: spk.signature,
      },
      kemPrekey: {
        keyId: kemKey.keyId,
        publicKey: kemKey.keyPair.publicKey,
        signature: kemKey.signature,
      },
      oneTimePrekey: {
        keyId: bobKeys.oneTimePrekeys[0].keyId,
        publicKey: bobKeys.oneTimePrekeys[0].keyPair.publicKey,
      },
    }

    const start = performance.now()
    alice = await startSession(null, aliceKeys.identity, bobId, bundle)
    const first = encrypt(alice, text)
    alice = first.record
    bob = (
      await decrypt(
        null,
        { ourKeys: bobKeys, ourDeviceId: bobId, theirDeviceId: aliceId },
        first.message,
      )
    ).record
    if (run >= 20) setups.push(performance.now() - start)
  }

  const messages: number[] = []
  const aliceId = deviceIdFromIdentityKey(aliceKeys.identity.publicKey)
  const bobId = deviceIdFromIdentityKey(bobKeys.identity.publicKey)
  for (let run = 0; run < messageRuns + 200; run++) {
    const start = performance.now()
    const sealed = encrypt(alice!, text)
    alice = sealed.record
    bob = (
      await decrypt(
        bob,
        { ourKeys: bobKeys, ourDeviceId: bobId, theirDeviceId: aliceId },
        sealed.message,
      )
    ).record
    if (run >= 200) messages.push(performance.now() - start)
  }

  return {
    x25519: (await x25519Backend()).name,
    setupMs: { p50: median(setups), mean: mean(setups) },
    messageMs: { p50: median(messages), mean: mean(messages) },
    setupRuns,
    messageRuns,
  }
}
