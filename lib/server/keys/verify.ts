import 'server-only'

import { decodeDeviceList, type DeviceList } from '@/lib/core/device-list'
import {
  deviceKeyStatement,
  deviceListStatement,
  prekeyStatement,
} from '@/lib/core/statements'
import { verify } from '@/lib/core/crypto/primitives'

import { ApiError } from '../http/api-error'

interface SignedKey {
  keyId: number
  publicKey: Uint8Array
  signature: Uint8Array
}

/**
 * Checks a signed prekey's signature by the device identity key, so no one
 * can publish keys the device did not make.
 * @throws {ApiError} invalid-request naming the field
 */
export function verifySignedPrekey(
  kind: 'x25519' | 'mlkem768',
  key: SignedKey,
  identityKey: Uint8Array,
  field: string,
): void {
  const message = prekeyStatement(kind, key.publicKey)
  if (!verify(key.signature, message, identityKey)) {
    throw new ApiError('invalid-request', `body.${field}.signature: does not verify`, {
      field,
    })
  }
}

/**
 * Checks the account's signature over a device identity key.
 * @param field - where the signature sits in the body, for the error
 * @throws {ApiError} invalid-request naming the field
 */
export function verifyDeviceKey(
  signature: Uint8Array,
  deviceIdentityKey: Uint8Array,
  accountKey: Uint8Array,
  field: string,
): void {
  if (!verify(signature, deviceKeyStatement(deviceIdentityKey), accountKey)) {
    throw new ApiError('invalid-request', `body.${field}: does not verify`, { field })
  }
}

/**
 * Checks a device list's signature by the account key, then decodes it.
 * @throws {ApiError} invalid-request naming `deviceList.signature` or
 *   `deviceList.bytes`
 */
export function verifyDeviceList(
  list: { bytes: Uint8Array; signature: Uint8Array },
  accountKey: Uint8Array,
): DeviceList {
  if (!verify(list.signature, deviceListStatement(list.bytes), accountKey)) {
    throw new ApiError('invalid-request', 'body.deviceList.signature: does not verify', {
      field: 'deviceList.signature',
    })
  }
  try {
    return decodeDeviceList(list.bytes)
  } catch (error) {
    throw new ApiError(
      'invalid-request',
      `body.deviceList.bytes: ${(error as Error).message}`,
      { field: 'deviceList.bytes' },
    )
  }
}
