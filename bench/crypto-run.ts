/**
 * The measured part of the crypto benchmark; runs unchanged in Node and in
 * the browser (bundled by bench/crypto.ts), using lib/core and a test
 * helper that builds a bundle from keys.
 */
import { deviceIdFromIdentityKey } from '../lib/core/device-id'
import { createDeviceKeys, type DeviceKeys } from '../lib/core/crypto/keys'
import { x25519Backend } from '../lib/core/crypto/primitives'
import {
  decrypt,
  encrypt,
  startSession,
  type SessionRecord,
} from '../lib/core/crypto/session'
import { bundleFromKeys } from '../tests/support/crypto-bundle'

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
  const idOf = (keys: DeviceKeys) => deviceIdFromIdentityKey(keys.identity.publicKey)
  const contextOf = () => ({
    ourKeys: bobKeys,
    ourDeviceId: idOf(bobKeys),
    theirDeviceId: idOf(aliceKeys),
  })
  let context = contextOf()

  /** Bob decrypts a message from Alice. */
  const deliver = async (message: Uint8Array) => {
    bob = (await decrypt(bob, context, message)).record
  }

  for (let run = 0; run < setupRuns + 20; run++) {
    aliceKeys = (await createDeviceKeys(1)).keys
    bobKeys = (await createDeviceKeys(1)).keys
    bob = null
    context = contextOf()
    const bundle = bundleFromKeys(bobKeys)

    const start = performance.now()
    alice = await startSession(null, aliceKeys.identity, context.ourDeviceId, bundle)
    const first = encrypt(alice, text)
    alice = first.record
    await deliver(first.message)
    if (run >= 20) setups.push(performance.now() - start)
  }

  const messages: number[] = []
  for (let run = 0; run < messageRuns + 200; run++) {
    const start = performance.now()
    const sealed = encrypt(alice!, text)
    alice = sealed.record
    await deliver(sealed.message)
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
