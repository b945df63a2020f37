/**
 * A device's id is derived from its identity key, so an id names one key and
 * a re-registered device (a new key) always gets a new id.
 */
import { sha256 } from '@noble/hashes/sha2.js'

import { concatBytes, toBase64Url, utf8Bytes } from './bytes'
import { KEY_BYTES } from './limits'

const DEVICE_ID_LABEL = utf8Bytes('tidings/device-id/v1')

/** Length of a device id: 16 bytes of hash in unpadded base64url. */
export const DEVICE_ID_LENGTH = 22

/** Pattern every device id matches. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/

/**
 * Derives the device id from a device identity public key (Ed25519).
 * @param identityKey - 32-byte Ed25519 public key
 * @returns 22 characters of base64url
 * @throws {RangeError} when the key is not 32 bytes
 */
export function deviceIdFromIdentityKey(identityKey: Uint8Array): string {
  if (identityKey.length !== KEY_BYTES.ed25519) {
    throw new RangeError(
      `"identityKey" expected Uint8Array of length 32, got length=${identityKey.length}`,
    )
  }
  const digest = sha256(concatBytes(DEVICE_ID_LABEL, identityKey))
  return toBase64Url(digest.subarray(0, 16))
}
