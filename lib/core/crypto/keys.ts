/**
 * Key material of accounts and devices, and what each side publishes.
 *
 * Per account: an Ed25519 identity that signs each device identity key and
 * a versioned device list. Per device: an Ed25519 identity key (its X25519
 * form takes part in PQXDH), a signed X25519 prekey rotated every 2 days
 * (the previous ones kept for late messages), a signed last-resort ML-KEM
 * prekey (rotated with it), and batches of one-time X25519 and signed
 * ML-KEM prekeys.
 */
import type { Bytes } from '../bytes'
import { encodeDeviceList } from '../device-list'
import { MAX_PREKEYS_PER_UPLOAD, PREKEY_LOW_WATERMARK } from '../limits'
import { deviceKeyStatement, deviceListStatement, prekeyStatement } from '../statements'
import {
  generateDhKeyPair,
  generateSigningKeyPair,
  kem,
  sign,
  type KeyPair,
} from './primitives'

/** Signed prekeys are replaced after 2 days (Signal-Desktop's interval). */
export const SIGNED_PREKEY_ROTATION_MS = 2 * 24 * 60 * 60 * 1000
/** A replaced signed prekey still opens late first messages this long. */
export const SIGNED_PREKEY_GRACE_MS = 30 * 24 * 60 * 60 * 1000

/** A signed prekey we hold (X25519 or ML-KEM). */
export interface SignedPrekeyRecord {
  keyId: number
  keyPair: KeyPair
  signature: Bytes
  createdAt: number
}

/** Everything secret a device holds besides its sessions (serializable). */
export interface DeviceKeys {
  identity: KeyPair
  /** Newest first; the first is the one published. */
  signedPrekeys: SignedPrekeyRecord[]
  /** Newest first; rotated with the signed prekey, old ones kept for the grace period. */
  lastResortKemPrekeys: SignedPrekeyRecord[]
  oneTimePrekeys: { keyId: number; keyPair: KeyPair }[]
  oneTimeKemPrekeys: SignedPrekeyRecord[]
  nextKeyId: number
}

/** Public keys to upload; the client encodes them as the API's base64 fields. */
export interface PrekeyUpload {
  signedPrekey?: { keyId: number; publicKey: Bytes; signature: Bytes }
  lastResortKemPrekey?: { keyId: number; publicKey: Bytes; signature: Bytes }
  oneTimePrekeys?: { keyId: number; publicKey: Bytes }[]
  oneTimeKemPrekeys?: { keyId: number; publicKey: Bytes; signature: Bytes }[]
}

/** A new account identity. */
export function createAccountIdentity(): KeyPair {
  return generateSigningKeyPair()
}

/** The account's signature vouching for a device identity key. */
export function signDeviceKey(account: KeyPair, deviceIdentityKey: Uint8Array): Bytes {
  return sign(deviceKeyStatement(deviceIdentityKey), account.secretKey)
}

/** A device list encoded and signed by the account. */
export function signDeviceList(
  account: KeyPair,
  version: number,
  identityKeys: Uint8Array[],
) {
  const bytes = encodeDeviceList({ version, identityKeys })
  return { bytes, signature: sign(deviceListStatement(bytes), account.secretKey) }
}

async function signedPrekey(
  identity: KeyPair,
  keyId: number,
  kind: 'x25519' | 'mlkem768',
  now: number,
): Promise<SignedPrekeyRecord> {
  const keyPair = kind === 'x25519' ? await generateDhKeyPair() : kem.keygen()
  const signature = sign(prekeyStatement(kind, keyPair.publicKey), identity.secretKey)
  return { keyId, keyPair, signature, createdAt: now }
}

/** What is published of a signed prekey: its id, public key and signature. */
export const publicPart = ({ keyId, keyPair, signature }: SignedPrekeyRecord) => ({
  keyId,
  publicKey: keyPair.publicKey,
  signature,
})

/**
 * A new device's keys and the upload that publishes them.
 * @param oneTimeCount - one-time prekeys of each kind (at most 100)
 */
export async function createDeviceKeys(
  oneTimeCount = MAX_PREKEYS_PER_UPLOAD,
  now = Date.now(),
) {
  const identity = generateSigningKeyPair()
  let keys: DeviceKeys = {
    identity,
    signedPrekeys: [await signedPrekey(identity, 1, 'x25519', now)],
    lastResortKemPrekeys: [await signedPrekey(identity, 2, 'mlkem768', now)],
    oneTimePrekeys: [],
    oneTimeKemPrekeys: [],
    nextKeyId: 3,
  }
  const oneTime = await addOneTimePrekeys(keys, oneTimeCount, now)
  keys = oneTime.keys
  const upload: Required<PrekeyUpload> = {
    signedPrekey: publicPart(keys.signedPrekeys[0]),
    lastResortKemPrekey: publicPart(keys.lastResortKemPrekeys[0]),
    oneTimePrekeys: oneTime.upload.oneTimePrekeys ?? [],
    oneTimeKemPrekeys: oneTime.upload.oneTimeKemPrekeys ?? [],
  }
  return { keys, upload }
}

/** Adds `count` one-time prekeys of each kind (at most 100 per upload). */
export async function addOneTimePrekeys(
  keys: DeviceKeys,
  count: number,
  now = Date.now(),
) {
  if (!Number.isInteger(count) || count < 0 || count > MAX_PREKEYS_PER_UPLOAD) {
    throw new RangeError(`"count" expected integer in 0..100, got ${count}`)
  }
  let nextKeyId = keys.nextKeyId
  const ec: DeviceKeys['oneTimePrekeys'] = []
  for (let i = 0; i < count; i++) {
    ec.push({ keyId: nextKeyId++, keyPair: await generateDhKeyPair() })
  }
  const kemKeys: SignedPrekeyRecord[] = []
  for (let i = 0; i < count; i++) {
    kemKeys.push(await signedPrekey(keys.identity, nextKeyId++, 'mlkem768', now))
  }
  return {
    keys: {
      ...keys,
      oneTimePrekeys: [...keys.oneTimePrekeys, ...ec],
      oneTimeKemPrekeys: [...keys.oneTimeKemPrekeys, ...kemKeys],
      nextKeyId,
    },
    upload: {
      oneTimePrekeys: ec.map(({ keyId, keyPair }) => ({
        keyId,
        publicKey: keyPair.publicKey,
      })),
      oneTimeKemPrekeys: kemKeys.map(publicPart),
    } satisfies PrekeyUpload,
  }
}

/**
 * Keeps the prekeys fresh: a new signed prekey and last-resort ML-KEM
 * prekey every 2 days (old ones dropped after the grace period), and a new
 * batch of one-time keys when the server reports fewer than 10 left.
 * @returns the next keys, and the upload (null when nothing is due)
 */
export async function maintainPrekeys(
  keys: DeviceKeys,
  serverStock: { oneTimePrekeys: number; oneTimeKemPrekeys: number },
  now = Date.now(),
): Promise<{ keys: DeviceKeys; upload: PrekeyUpload | null }> {
  let next = keys
  const upload: PrekeyUpload = {}

  // The last-resort ML-KEM key rotates with the signed prekey (PQXDH §4.1),
  // so a later compromise does not expose the KEM secret of old sessions.
  const current = next.signedPrekeys[0]
  if (!current || now - current.createdAt >= SIGNED_PREKEY_ROTATION_MS) {
    const fresh = await signedPrekey(next.identity, next.nextKeyId, 'x25519', now)
    const freshKem = await signedPrekey(
      next.identity,
      next.nextKeyId + 1,
      'mlkem768',
      now,
    )
    const recent = (old: SignedPrekeyRecord) =>
      now - old.createdAt < SIGNED_PREKEY_GRACE_MS
    next = {
      ...next,
      nextKeyId: next.nextKeyId + 2,
      signedPrekeys: [fresh, ...next.signedPrekeys.filter(recent)],
      lastResortKemPrekeys: [freshKem, ...next.lastResortKemPrekeys.filter(recent)],
    }
    upload.signedPrekey = publicPart(fresh)
    upload.lastResortKemPrekey = publicPart(freshKem)
  }

  // Limitation: one-time prekeys the server handed out but nobody used stay
  // here for good; pruning needs the server to say which ids it still holds.
  const low = Math.min(serverStock.oneTimePrekeys, serverStock.oneTimeKemPrekeys)
  if (low < PREKEY_LOW_WATERMARK) {
    const added = await addOneTimePrekeys(next, MAX_PREKEYS_PER_UPLOAD - low, now)
    next = added.keys
    Object.assign(upload, added.upload)
  }

  return { keys: next, upload: Object.keys(upload).length > 0 ? upload : null }
}
