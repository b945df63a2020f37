/**
 * Fixed inputs for the known-answer tests: any change to the formats or
 * KDFs changes the outputs.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'

import type { DeviceKeys } from '../../../lib/core/crypto/keys'
import type { RatchetState } from '../../../lib/core/crypto/ratchet'
import type { PrekeyHeader } from '../../../lib/core/crypto/wire'

const fill = (byte: number, length = 32) => new Uint8Array(length).fill(byte)

export function fixedRatchet(): RatchetState {
  const secretKey = fill(2)
  return {
    rootKey: fill(1),
    sender: {
      ratchetKey: { secretKey, publicKey: x25519.getPublicKey(secretKey) },
      chainKey: fill(3),
      index: 0,
    },
    previousCounter: 7,
    receivers: [],
  }
}

export const fixedAd = fill(4, 64)

export function fixedResponder(): { keys: DeviceKeys; prekey: PrekeyHeader } {
  const identitySecret = fill(5)
  const spkSecret = fill(6)
  const kemPair = ml_kem768.keygen(fill(7, 64))
  const keys: DeviceKeys = {
    identity: {
      secretKey: identitySecret,
      publicKey: ed25519.getPublicKey(identitySecret),
    },
    signedPrekeys: [
      {
        keyId: 1,
        keyPair: { secretKey: spkSecret, publicKey: x25519.getPublicKey(spkSecret) },
        signature: fill(0, 64),
        createdAt: 0,
      },
    ],
    lastResortKemPrekeys: [
      { keyId: 2, keyPair: kemPair, signature: fill(0, 64), createdAt: 0 },
    ],
    oneTimePrekeys: [],
    oneTimeKemPrekeys: [],
    nextKeyId: 3,
  }
  const prekey: PrekeyHeader = {
    identityKey: ed25519.getPublicKey(fill(8)),
    ephemeralKey: x25519.getPublicKey(fill(9)),
    signedPrekeyId: 1,
    kemPrekeyId: 2,
    oneTimePrekeyId: null,
    kemCipherText: ml_kem768.encapsulate(kemPair.publicKey, fill(10)).cipherText,
  }
  return { keys, prekey }
}
