/**
 * The exact bytes each signature in Tidings covers. Every statement starts
 * with its own label so a signature made for one purpose can never be
 * presented as another (cross-protocol confusion).
 */
import { concatBytes, utf8Bytes } from './bytes'

const label = (name: string) => utf8Bytes(`tidings/${name}/v1\0`)

const DEVICE_KEY = label('device-key')
const DEVICE_LIST = label('device-list')
const AUTH = label('auth')

/**
 * Key type bytes as libsignal encodes public keys: 0x05 for Curve25519
 * (Signal's X3DH "Encode(PK)") and 0x08 for ML-KEM (PQXDH "EncodeKEM").
 */
export const KEY_TYPE = { x25519: 0x05, mlkem768: 0x08 } as const

/** What the account identity key signs to vouch for a device identity key. */
export function deviceKeyStatement(deviceIdentityKey: Uint8Array): Uint8Array {
  return concatBytes(DEVICE_KEY, deviceIdentityKey)
}

/** What the account identity key signs to publish a device list. */
export function deviceListStatement(encodedList: Uint8Array): Uint8Array {
  return concatBytes(DEVICE_LIST, encodedList)
}

/**
 * What a device identity key signs for a signed prekey: the spec's
 * Encode(SPK) or EncodeKEM(PQSPK), a type byte followed by the key.
 */
export function prekeyStatement(
  kind: keyof typeof KEY_TYPE,
  publicKey: Uint8Array,
): Uint8Array {
  return concatBytes(Uint8Array.of(KEY_TYPE[kind]), publicKey)
}

/** What a device signs to prove it holds its identity key when logging in. */
export function authStatement(deviceId: string, nonce: Uint8Array): Uint8Array {
  return concatBytes(AUTH, nonce, utf8Bytes(deviceId))
}
