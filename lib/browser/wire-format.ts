/**
 * Conversions between the core's key records (bytes) and the API's JSON
 * fields (base64).
 */
import type { KeyUpload } from '@/lib/core/api'
import { fromBase64, toBase64 } from '@/lib/core/bytes'
import type { DeviceKeys, PrekeyUpload } from '@/lib/core/crypto/keys'
import type { PrekeyBundle } from '@/lib/core/crypto/pqxdh'

import type { PublishedBundle } from './relay-client'

type Signed = { keyId: number; publicKey: Uint8Array; signature: Uint8Array }

const signed = ({ keyId, publicKey, signature }: Signed) => ({
  keyId,
  publicKey: toBase64(publicKey),
  signature: toBase64(signature),
})

/** A prekey upload as the API takes it. */
export function encodeUpload(upload: PrekeyUpload): KeyUpload {
  return {
    ...(upload.signedPrekey && { signedPrekey: signed(upload.signedPrekey) }),
    ...(upload.lastResortKemPrekey && {
      lastResortKemPrekey: signed(upload.lastResortKemPrekey),
    }),
    ...(upload.oneTimePrekeys && {
      oneTimePrekeys: upload.oneTimePrekeys.map(({ keyId, publicKey }) => ({
        keyId,
        publicKey: toBase64(publicKey),
      })),
    }),
    ...(upload.oneTimeKemPrekeys && {
      oneTimeKemPrekeys: upload.oneTimeKemPrekeys.map(signed),
    }),
  }
}

/**
 * A new device's public keys as registration and link requests carry them:
 * its identity key and a full first upload (signed prekeys and one-time
 * prekeys, as `createDeviceKeys` makes them).
 */
export function newDeviceKeys(keys: DeviceKeys, upload: PrekeyUpload) {
  const published = encodeUpload(upload)
  if (!published.signedPrekey || !published.lastResortKemPrekey) {
    throw new Error('newDeviceKeys: the upload has no signed prekeys')
  }
  return {
    identityKey: toBase64(keys.identity.publicKey),
    signedPrekey: published.signedPrekey,
    lastResortKemPrekey: published.lastResortKemPrekey,
    oneTimePrekeys: published.oneTimePrekeys ?? [],
    oneTimeKemPrekeys: published.oneTimeKemPrekeys ?? [],
  }
}

/** A bundle from the API as the core's PQXDH takes it. */
export function decodeBundle(bundle: PublishedBundle): PrekeyBundle {
  const key = ({ keyId, publicKey, signature }: PublishedBundle['signedPrekey']) => ({
    keyId,
    publicKey: fromBase64(publicKey),
    signature: fromBase64(signature),
  })
  return {
    identityKey: fromBase64(bundle.identityKey),
    signedPrekey: key(bundle.signedPrekey),
    kemPrekey: key(bundle.kemPrekey),
    oneTimePrekey: bundle.oneTimePrekey && {
      keyId: bundle.oneTimePrekey.keyId,
      publicKey: fromBase64(bundle.oneTimePrekey.publicKey),
    },
  }
}
