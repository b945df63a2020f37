/**
 * PQXDH key agreement (Signal's specification, revision 1, 2023) with
 * X25519, SHA-256 and ML-KEM-768.
 *
 * Identity keys are Ed25519 (they sign); their X25519 form does the DH.
 * The associated data binds both identity keys: AD = IK_A || IK_B.
 */
import { concatBytes, utf8Bytes, type Bytes } from '../bytes'
import { prekeyStatement } from '../statements'
import { checkBytes, UntrustedKeyError } from './errors'
import {
  dh,
  generateDhKeyPair,
  identityDh,
  kdf,
  kem,
  verify,
  type KeyPair,
} from './primitives'
import type { DeviceKeys } from './keys'
import type { PrekeyHeader } from './wire'

/** KDF info: the curve, hash and KEM, as the spec asks (§2.2). */
const INFO = utf8Bytes('Tidings_CURVE25519_SHA-256_ML-KEM-768')
/** F: 32 0xFF bytes before the DH outputs, for domain separation (§2.2). */
const F = new Uint8Array(32).fill(0xff)
const SALT = new Uint8Array(32)

/** A contact device's published keys, as fetched from the server. */
export interface PrekeyBundle {
  identityKey: Bytes
  signedPrekey: { keyId: number; publicKey: Bytes; signature: Bytes }
  kemPrekey: { keyId: number; publicKey: Bytes; signature: Bytes }
  oneTimePrekey: { keyId: number; publicKey: Bytes } | null
}

/** The agreed secret and what the first message carries. */
export interface Agreement {
  sharedSecret: Bytes
  associatedData: Bytes
}

/**
 * The initiator's side (§3.3): verifies the bundle's signatures, then
 * derives SK from DH1..DH4 and the KEM shared secret.
 * @throws {UntrustedKeyError} when a prekey signature does not verify
 */
export async function initiate(ourIdentity: KeyPair, bundle: PrekeyBundle) {
  checkBytes('bundle.identityKey', bundle.identityKey, 32)
  checkBytes('bundle.signedPrekey.publicKey', bundle.signedPrekey.publicKey, 32)
  checkBytes('bundle.kemPrekey.publicKey', bundle.kemPrekey.publicKey, kem.publicKeyBytes)
  if (bundle.oneTimePrekey) {
    checkBytes('bundle.oneTimePrekey.publicKey', bundle.oneTimePrekey.publicKey, 32)
  }

  const spk = bundle.signedPrekey
  const pqspk = bundle.kemPrekey
  if (
    !verify(spk.signature, prekeyStatement('x25519', spk.publicKey), bundle.identityKey)
  ) {
    throw new UntrustedKeyError('initiate: signed prekey signature does not verify')
  }
  if (
    !verify(
      pqspk.signature,
      prekeyStatement('mlkem768', pqspk.publicKey),
      bundle.identityKey,
    )
  ) {
    throw new UntrustedKeyError('initiate: ML-KEM prekey signature does not verify')
  }

  const ephemeral = await generateDhKeyPair()
  const ourDh = identityDh.secretKey(ourIdentity.secretKey)
  const theirIdentityDh = identityDh.publicKey(bundle.identityKey)
  const { cipherText, sharedSecret: kemSecret } = kem.encapsulate(pqspk.publicKey)

  const parts = await Promise.all([
    dh(ourDh, spk.publicKey),
    dh(ephemeral.secretKey, theirIdentityDh),
    dh(ephemeral.secretKey, spk.publicKey),
    ...(bundle.oneTimePrekey
      ? [dh(ephemeral.secretKey, bundle.oneTimePrekey.publicKey)]
      : []),
  ])

  const sharedSecret = kdf(concatBytes(F, ...parts, kemSecret), SALT, INFO, 32)
  for (const part of [ourDh, ephemeral.secretKey, kemSecret, ...parts]) part.fill(0)

  const prekey: PrekeyHeader = {
    identityKey: new Uint8Array(ourIdentity.publicKey),
    ephemeralKey: ephemeral.publicKey,
    signedPrekeyId: spk.keyId,
    kemPrekeyId: pqspk.keyId,
    oneTimePrekeyId: bundle.oneTimePrekey?.keyId ?? null,
    kemCipherText: cipherText,
  }
  return {
    sharedSecret,
    associatedData: concatBytes(ourIdentity.publicKey, bundle.identityKey),
    prekey,
  }
}

/** Keys a received first message used up: the caller deletes them with the session write. */
export interface ConsumedPrekeys {
  oneTimePrekeyId: number | null
  /** A one-time ML-KEM key; null when the last-resort key was used. */
  oneTimeKemPrekeyId: number | null
}

/**
 * The responder's side (§3.4): finds the prekeys the message names and
 * derives the same SK. The caller then proves the sender knew it by
 * decrypting the enclosed message before keeping anything.
 * @throws {UntrustedKeyError} when a named prekey is unknown (used, or expired)
 */
export async function respond(ourKeys: DeviceKeys, prekey: PrekeyHeader) {
  const spk = ourKeys.signedPrekeys.find((key) => key.keyId === prekey.signedPrekeyId)
  if (!spk) throw new UntrustedKeyError('respond: unknown signed prekey')

  const oneTimeKem = ourKeys.oneTimeKemPrekeys.find(
    (key) => key.keyId === prekey.kemPrekeyId,
  )
  const kemKey =
    oneTimeKem ??
    ourKeys.lastResortKemPrekeys.find((key) => key.keyId === prekey.kemPrekeyId)
  if (!kemKey) throw new UntrustedKeyError('respond: unknown ML-KEM prekey')

  let oneTimeSecret: Bytes | undefined
  if (prekey.oneTimePrekeyId !== null) {
    const found = ourKeys.oneTimePrekeys.find(
      (key) => key.keyId === prekey.oneTimePrekeyId,
    )
    if (!found) throw new UntrustedKeyError('respond: unknown one-time prekey')
    oneTimeSecret = found.keyPair.secretKey
  }

  const ourDh = identityDh.secretKey(ourKeys.identity.secretKey)
  const theirIdentityDh = identityDh.publicKey(prekey.identityKey)
  const kemSecret = kem.decapsulate(prekey.kemCipherText, kemKey.keyPair.secretKey)
  const parts = await Promise.all([
    dh(spk.keyPair.secretKey, theirIdentityDh),
    dh(ourDh, prekey.ephemeralKey),
    dh(spk.keyPair.secretKey, prekey.ephemeralKey),
    ...(oneTimeSecret ? [dh(oneTimeSecret, prekey.ephemeralKey)] : []),
  ])

  const sharedSecret = kdf(concatBytes(F, ...parts, kemSecret), SALT, INFO, 32)
  for (const part of [ourDh, kemSecret, ...parts]) part.fill(0)

  const consumed: ConsumedPrekeys = {
    oneTimePrekeyId: prekey.oneTimePrekeyId,
    oneTimeKemPrekeyId: oneTimeKem ? oneTimeKem.keyId : null,
  }
  return {
    sharedSecret,
    associatedData: concatBytes(prekey.identityKey, ourKeys.identity.publicKey),
    signedPrekey: spk.keyPair,
    consumed,
  }
}

/** Removes used one-time prekeys (§3.4: "deletes any one-time prekey used"). */
export function deleteConsumed(keys: DeviceKeys, consumed: ConsumedPrekeys): DeviceKeys {
  return {
    ...keys,
    oneTimePrekeys: keys.oneTimePrekeys.filter(
      (k) => k.keyId !== consumed.oneTimePrekeyId,
    ),
    oneTimeKemPrekeys: keys.oneTimeKemPrekeys.filter(
      (k) => k.keyId !== consumed.oneTimeKemPrekeyId,
    ),
  }
}
